// A team's vault for the integration suites of the team commands (team-commands.test.ts, key-rotate.test.ts):
// Alice who ran init on the store under test, with or without Bob, and the small steps those suites repeat.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { aliceAndBob, teamStore, user, type User } from './teammates.js';
import { tempBase } from './vault-fixture.js';
import type { TestContext } from './tap-types.js';

export const exec = promisify(execFile);
export const TS = /(\d{8}-\d{6})/;

/** Alice (who has run init) and Bob, each with an agent, on `store`. */
export async function team(t: TestContext, store: 'dir' | 's3', prefix: string, agents: Parameters<typeof aliceAndBob>[2] = {}) {
  const { base, repoName, a, b } = await aliceAndBob(t, `vsync-${prefix}-${store}-`, agents);
  return { base, repoName, a, b, remote: await initOn(t, store, a, prefix) };
}

/** Alice alone (her agent with `env`), who has run init on `store`: a teammate comes later, if at all. */
export async function alone(t: TestContext, store: 'dir' | 's3', prefix: string, env: Record<string, string> = {}) {
  const { base, cleanup } = tempBase(`vsync-${prefix}-${store}-`);
  const repoName = `it_${randomBytes(4).toString('hex')}`;
  const a = await user(base, 'alice', repoName, env);
  t.teardown(async () => {
    await a.agent.stop();
    for (const account of [`${repoName}/dev`, `${repoName}/dev.next`]) {
      await exec('secret-tool', ['clear', 'service', 'tools.vsync', 'username', account]).catch(() => undefined);
    }
    cleanup();
  });
  return { base, repoName, a, remote: await initOn(t, store, a, prefix) };
}

async function initOn(t: TestContext, store: 'dir' | 's3', a: User, prefix: string) {
  const { initArgs, remote } = await teamStore(t, store, a.home, prefix);
  const init = await a.cli(initArgs);
  t.equal(init.code, 0, init.stderr);
  return remote;
}

export async function pushed(t: TestContext, u: User): Promise<string> {
  const res = await u.cli(['push', 'dev']);
  t.equal(res.code, 0, res.stderr);
  return TS.exec(res.stdout.trim().split('\n').at(-1) ?? '')?.[1] ?? 'missing';
}
