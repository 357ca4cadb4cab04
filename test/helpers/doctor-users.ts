// The users and readings the doctor's integration suites share (doctor.test.ts, doctor-s3.test.ts).
import { randomBytes } from 'node:crypto';
import { generateKey } from '../../daemon/crypto/key.js';
import { VERSION } from '../../shared/version.js';
import type { TestContext } from './tap-types.js';
import { user, type User } from './teammates.js';

export const repoName = (): string => `dr_${randomBytes(4).toString('hex')}`;

/** A user whose agent takes keys from VSYNC_KEY (plus `env`), torn down with the test. */
export async function keyUser(t: TestContext, base: string, name: string, repo: string, env: Record<string, string> = {}): Promise<User> {
  const u = await user(base, name, repo, { VSYNC_KEY: generateKey(), ...env });
  t.teardown(() => u.agent.stop());
  return u;
}

/** The agent check's line for this user's agent. */
export const agentLine = (u: User) =>
  new RegExp(`^ok {4}agent {10}vsyncd ${VERSION.replace(/\./g, '\\.')} \\(pid ${u.agent.child.pid}\\) answers on ${u.agent.socket}$`);
/** stdout as lines, without the last newline. */
export const lines = (stdout: string) => stdout.trimEnd().split('\n');
