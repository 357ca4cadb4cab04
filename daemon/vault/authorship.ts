// Who pushed a version, and from which machine, for `vsync log` (version-meta.ts). Who: the checkout's git
// `user.email`, else user@host. The machine: a random id made once per user account (`<state>/.machine-id`),
// stable across hostnames and never derived from one, with the hostname beside it unless the agent's
// VSYNC_LOG_HOSTNAME=0 leaves it out (then who is the bare user name too). The entry is encrypted under the
// vault's key: an email is personal data, and only the team reads it.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir, hostname, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { stateRoot, type Env } from '../../shared/paths.js';
import { isErrno } from '../fs/errno.js';
import { git } from './git.js';

export interface Authorship {
  /** Who: an email address or user@host, at most 320 characters. */
  readonly by: string;
  readonly machine: {
    /** 16 hex characters, made once per user account. */
    readonly id: string;
    /** The hostname, unless left out. */
    readonly name?: string;
  };
}

/** Who pushes from the checkout at `root`. */
export type AuthorOf = (root: string) => Promise<Authorship>;

const MACHINE_ID = /^[0-9a-f]{16}$/;
export const MAX_BY_CHARS = 320;

export function machineIdFile(environment: Env): string {
  return join(stateRoot(environment), '.machine-id');
}

/** The agent's AuthorOf: git and the machine id file; `hostname: false` keeps the hostname out. */
export function localAuthor(environment: Env, options: { readonly hostname: boolean }): AuthorOf {
  let machine: Promise<string> | undefined;
  const emails = new GitEmails(environment);
  return async (root) => {
    machine ??= machineId(environment);
    machine.catch(() => (machine = undefined)); // a failure is tried again next push
    const host = options.hostname ? hostname() : undefined;
    const email = await emails.of(root);
    const user = safeUserName();
    const by = (email || (host ? `${user}@${host}` : user)).slice(0, MAX_BY_CHARS);
    return { by, machine: { id: await machine, ...(host ? { name: host.slice(0, 255) } : {}) } };
  };
}

/**
 * `git config --get user.email` of each checkout, asked again only when a git config file it reads has changed
 * (its size or time): starting git costs a push ~15 ms of the agent's one thread, and the answer rarely
 * changes. A change in a file those include (`include.path`) is seen once one of them changes too.
 */
class GitEmails {
  private readonly known = new Map<string, { readonly stamp: string; readonly email: string | undefined }>();

  constructor(private readonly environment: Env) {}

  async of(root: string): Promise<string | undefined> {
    const stamp = await this.stamp(root);
    const known = this.known.get(root);
    if (known?.stamp === stamp) return known.email;
    const email = await git(root, ['config', '--get', 'user.email']).catch(() => undefined);
    this.known.delete(root);
    if (this.known.size >= 256) this.known.delete(this.known.keys().next().value!);
    this.known.set(root, { stamp, email });
    return email;
  }

  private async stamp(root: string): Promise<string> {
    const home = this.environment.HOME || homedir();
    const files = [
      join(root, '.git'),
      join(root, '.git', 'config'),
      join(home, '.gitconfig'),
      join(this.environment.XDG_CONFIG_HOME || join(home, '.config'), 'git', 'config'),
    ];
    const stamps = await Promise.all(
      files.map((file) =>
        stat(file).then(
          (s) => `${s.size}:${s.mtimeMs}:${s.ino}`,
          () => '-',
        ),
      ),
    );
    return stamps.join('|');
  }
}

/** The id in the machine id file, made (0600, created only if absent) on first use; a damaged file is replaced. */
export async function machineId(environment: Env): Promise<string> {
  const file = machineIdFile(environment);
  const existing = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    (err: unknown) => {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    },
  );
  if (existing !== undefined && MACHINE_ID.test(existing)) return existing;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const made = randomBytes(8).toString('hex');
  try {
    await writeFile(file, `${made}\n`, { flag: existing === undefined ? 'wx' : 'w', mode: 0o600 });
    return made;
  } catch (err) {
    // Another agent made it first: theirs is the id.
    if (isErrno(err, 'EEXIST')) return machineId(environment);
    throw err;
  }
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
