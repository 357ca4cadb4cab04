// A second, real Unix user for the tests of whom the client talks to: made with useradd for one test file,
// removed again at its end. Its processes run with setpriv (its uid, its group, no others), the way
// another person logged in to the same machine would run them. Needs root.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

export interface OtherUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Runs a command as this user, to its end; throws when it fails. */
  run(command: string, args: string[]): void;
  /** Starts a command as this user. */
  start(command: string, args: string[]): ChildProcess;
  remove(): void;
}

/** Why another user cannot be made here, or undefined when one can. */
export function otherUserUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'making a second user (useradd) and running as it (setpriv) needs root';
  for (const tool of ['/usr/sbin/useradd', '/usr/sbin/userdel', '/usr/bin/setpriv']) if (!existsSync(tool)) return `${tool} is missing`;
  return undefined;
}

/**
 * useradd and userdel lock /etc/passwd, and refuse at once (exit 10 or 1) while another process holds it:
 * tests of other files may be making users at this moment. Tried again a bounded number of times.
 */
function withPasswdLock(command: string, args: string[]): void {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(command, args, { stdio: 'pipe' });
      return;
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
      if (attempt >= 50 || !/lock/i.test(stderr))
        throw new Error(`${command} ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
      execFileSync('sleep', ['0.1']);
    }
  }
}

export function createOtherUser(prefix = 'vst'): OtherUser {
  // Unique per run: a name left behind by a killed run never collides.
  const name = `${prefix}${randomBytes(5).toString('hex')}`;
  withPasswdLock('useradd', ['--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name]);
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  const uid = id('-u');
  const gid = id('-g');
  const asUser = (command: string, args: string[]) =>
    ['setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', command, ...args]] as const;
  let removed = false;
  return {
    name,
    uid,
    gid,
    run: (command, args) => {
      const [setpriv, full] = asUser(command, args);
      execFileSync(setpriv, full, { stdio: 'pipe', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    },
    start: (command, args) => {
      const [setpriv, full] = asUser(command, args);
      return spawn(setpriv, full, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    },
    remove: () => {
      if (removed) return;
      removed = true;
      withPasswdLock('userdel', [name]);
    },
  };
}
