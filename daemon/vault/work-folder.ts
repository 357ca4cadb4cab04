// Private folders for versions on their way, one per operation, in this machine's work folder (shared/
// paths.ts workFolder): a push seals and encrypts into one, a pull decrypts into one. On the state folder's
// file system, never a tmpfs /tmp that would hold a 4 GiB version in RAM, and never in the checkout.
//
// Each folder is named after the agent's pid, so a later agent's start can tell what a killed agent left
// (removed: clearWorkFolders) from what another running agent on this HOME is using (left alone).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { workFolder, type Env } from '../../shared/paths.js';
import { isErrno } from '../fs/errno.js';
import { isRunning } from '../fs/process-alive.js';
import { span } from '../trace/span.js';
import { makeFolders } from '../fs/make-folders.js';

/**
 * Runs `use` with a new private folder (0700), made on the first call of `dir` (an operation that fails
 * before it needs one makes nothing), and removed afterwards, whatever happened. A folder that cannot be
 * removed does not fail the operation: the next agent's start tries again.
 */
export async function withWorkFolder<T>(environment: Env, use: (dir: () => Promise<string>) => Promise<T>): Promise<T> {
  let made: Promise<string> | undefined;
  let done = false;
  const dir = () => {
    // A download still running after its operation ended must not make a folder nobody removes.
    if (done) return Promise.reject(new VsyncError('AGENT_OPERATION_CANCELLED', 'the operation this work folder was for has ended'));
    made ??= span('work.make', async () => {
      await makeFolders(workFolder(environment), 0o700);
      return mkdtemp(join(workFolder(environment), `${process.pid}-`));
    });
    return made;
  };
  try {
    return await use(dir);
  } finally {
    done = true;
    const folder = await made?.catch(() => undefined);
    if (folder !== undefined) await span('work.remove', () => rm(folder, { recursive: true, force: true })).catch(() => undefined);
  }
}

/** Removes the work folders of agents that no longer run; returns the paths removed. Each on its own: one failure stops none. */
export async function clearWorkFolders(environment: Env): Promise<{ cleared: string[]; stuck: Array<{ path: string; error: unknown }> }> {
  const folder = workFolder(environment);
  const names = await readdir(folder).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
    throw err;
  });
  const cleared: string[] = [];
  const stuck: Array<{ path: string; error: unknown }> = [];
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || isRunning(pid))) continue;
    const path = join(folder, name);
    try {
      await rm(path, { recursive: true, force: true });
      cleared.push(path);
    } catch (error) {
      stuck.push({ path, error });
    }
  }
  return { cleared, stuck };
}
