// A lock file across processes, the way git guards its index with index.lock: whoever creates the file
// holds it, and removes it when done. The directory store guards each key with one (`.<name>.lock`), and
// the agent holds one beside its socket for its whole life, so that two agents starting at once cannot
// both take the socket.
//
// The lock file is created whole (written to a temp name, then linked into place) and names its holder:
// `<host> <pid> <nonce>`. A process that finds the lock waits. Time alone never breaks a lock, because a
// holder may only be slow; a lock is broken only when its holder is a process on this host that no longer
// exists (it crashed inside the critical section). Breaking happens under a second lock, `.<name>.lock.break`,
// and the breaker re-reads the lock there and removes it only if it still names the dead holder: two
// processes that judge the same lock dead therefore cannot remove each other's fresh lock.
//
// What is not handled automatically, and ends in the caller's `busy` error with the lock's path: a lock
// from another host (a store on a shared mount), a dead holder whose pid was reused, and a breaker that
// itself crashed inside its microseconds-long critical section.
import { randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { VsyncError } from '../../shared/errors.js';
import { tempPathFor } from './atomic-write.js';
import { errnoOf, isErrno } from './errno.js';

export interface LockFileOptions {
  /** How long to wait for a live holder before giving up (0: do not wait). */
  readonly waitMs?: number;
  /** The error for a lock held too long; `detail` names the holder, `hint` says how to clear a stale one. */
  readonly busy?: (detail: string, hint: string, cause?: unknown) => VsyncError;
}

const DEFAULT_WAIT_MS = 10_000;

interface Holder {
  readonly host: string;
  readonly pid: number;
  readonly text: string;
}

function parseHolder(text: string): Holder | undefined {
  const [host, pid] = text.split(' ');
  const n = Number(pid);
  return host && Number.isSafeInteger(n) && n > 0 ? { host, pid: n, text } : undefined;
}

function isDead(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return isErrno(err, 'ESRCH'); // EPERM: alive, another user's
  }
}

async function readLock(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Creates `path` holding `text`, whole, unless it exists. */
async function createWhole(path: string, text: string): Promise<boolean> {
  const temp = tempPathFor(path);
  try {
    await writeFile(temp, text, { mode: 0o600, flag: 'wx' });
    await link(temp, path);
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

export class LockFile {
  private readonly token = `${hostname()} ${process.pid} ${randomBytes(8).toString('hex')}`;

  constructor(
    readonly path: string,
    private readonly options: LockFileOptions = {},
  ) {}

  /** Runs `critical` holding the lock. Throws the busy error when a live holder keeps it too long. */
  async hold<T>(critical: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await critical();
    } finally {
      await this.release();
    }
  }

  /** Nobody removes a live holder's lock, so the file at this path is still ours. */
  async release(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }

  /**
   * Whether the file at this path still names this holder: a cheap re-read, for a long holder (the agent) to
   * check before an irreversible step that its lock may have been released or broken meanwhile.
   */
  async stillHeld(): Promise<boolean> {
    return (await readLock(this.path).catch(() => undefined)) === this.token;
  }

  async acquire(): Promise<void> {
    const deadline = Date.now() + (this.options.waitMs ?? DEFAULT_WAIT_MS);
    for (let attempt = 0; ; attempt++) {
      try {
        if (await createWhole(this.path, this.token)) return;
      } catch (err) {
        throw this.failure(`cannot create ${this.path}: ${errnoOf(err) ?? String(err)}`, err);
      }
      const text = await readLock(this.path).catch(() => undefined);
      if (text === undefined) continue; // released meanwhile: try again at once
      const holder = parseHolder(text);
      if (holder && isDead(holder)) {
        await this.breakStale(holder);
        continue;
      }
      if (Date.now() > deadline) {
        const who = holder ? `process ${holder.pid} on ${holder.host}` : 'an unknown holder';
        throw this.failure(`${this.path} is held by ${who}`);
      }
      await sleep(Math.min(2 + attempt * 2, 50) * (0.5 + Math.random()));
    }
  }

  private async breakStale(holder: Holder): Promise<void> {
    const breaker = `${this.path}.break`;
    if (!(await createWhole(breaker, this.token).catch(() => false))) return; // someone else is breaking it
    try {
      if ((await readLock(this.path)) === holder.text) await unlink(this.path);
    } finally {
      await unlink(breaker).catch(() => undefined);
    }
  }

  private failure(detail: string, cause?: unknown): VsyncError {
    const hint = `if no vsync process is running, remove ${this.path} (and ${this.path}.break, if it exists) and try again`;
    return this.options.busy ? this.options.busy(detail, hint, cause) : new VsyncError('STORAGE_TRANSIENT', detail, { cause, hint });
  }
}
