// Replacing a vault folder with a pulled one. The new folder is extracted beside the old one (same
// filesystem) and swapped in with two renames: old → `.vsync-old-…`, staging → the vault folder. A crash
// between the two leaves the old folder under its hidden name; recoverSwap() puts it back before the next
// operation and when the agent starts (startup-repair.ts), so the folder is always old or new, never a mix.
//
// Leftovers (`.vsync-old-…` once the swap is done, `.vsync-staging-…` of a pull that failed) hold nothing
// the folder needs, so failing to remove one (a folder inside it the user made read only) never fails the
// operation: it is reported to the caller, to log, and tried again next time.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { syncFolder } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import { VsyncError } from '../../shared/errors.js';
import { makeFolders } from '../fs/make-folders.js';

/**
 * Whether `path` is a folder. Only "not there" is false: a folder that cannot be looked at (EACCES, a name
 * too long) is the file system refusing, thrown, never taken for a missing folder that a pull may replace
 * without a backup.
 */
export async function folderExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
    throw err;
  }
}

/** An empty staging folder beside `target`. */
export async function makeStaging(target: string): Promise<string> {
  await makeFolders(dirname(target), 0o700);
  return mkdtemp(join(dirname(target), `.vsync-staging-${basename(target)}-`));
}

// Exact names, so that recovering `prod` never touches `prod-eu`'s leftovers: env names may hold `-`.
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const oldName = (base: string) => new RegExp(`^\\.vsync-old-${literal(base)}-[0-9a-f]{8}$`);
const stagingName = (base: string) => new RegExp(`^\\.vsync-staging-${literal(base)}-[A-Za-z0-9]{6}$`);

/** Whether the folder at a path still holds what the operation backed up and judged (folder-as-seen.ts). */
export type FolderCheck = (path: string) => Promise<boolean>;

/**
 * Puts `staging` in place of `target`. Returns the old folder's hidden path when it could not be removed
 * afterwards (the swap itself is done; recoverSwap clears it later), else undefined.
 *
 * With `unchanged`, the folder swapped out is checked once it is out of the way: a writer that still had a
 * file of it open may have written to it between the caller's last check and the rename. If it changed, the
 * swap is undone (the old folder back, as it is now) and VAULT_CHANGED_DURING_PULL thrown.
 */
export async function swapIn(target: string, staging: string, unchanged?: FolderCheck): Promise<string | undefined> {
  const parent = dirname(target);
  const old = join(parent, `.vsync-old-${basename(target)}-${randomBytes(4).toString('hex')}`);
  const hadOld = await folderExists(target);
  if (hadOld) await rename(target, old);
  try {
    await rename(staging, target);
  } catch (err) {
    if (hadOld) await rename(old, target); // never leave the vault folder missing
    throw err;
  }
  if (hadOld && unchanged && !(await unchanged(old))) {
    await rename(target, staging); // recoverSwap would put `old` back too, were we cut short here
    await rename(old, target);
    await syncFolder(parent);
    throw new VsyncError('VAULT_CHANGED_DURING_PULL', `${target} was written to as it was swapped out; it was put back as it is now`);
  }
  await syncFolder(parent);
  if (hadOld && !(await removed(old))) return old;
  return undefined;
}

export interface SwapRecovery {
  /** The hidden old folder renamed back to the vault folder, when a swap had been cut short. */
  readonly restored?: string;
  /** Leftovers removed. */
  readonly cleared: string[];
  /** Leftovers that could not be removed (left for next time), each with why. */
  readonly stuck: Array<{ readonly path: string; readonly error: unknown }>;
}

/**
 * Undoes a swap that a crash cut short, and clears leftovers of earlier swaps and failed pulls. Throws only
 * when the vault folder cannot be put back or its parent not read (raw errors: toVsyncError codes them); a
 * leftover that will not go away is in `stuck`, not thrown.
 */
export async function recoverSwap(target: string): Promise<SwapRecovery> {
  const parent = dirname(target);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return { cleared: [], stuck: [] };
    throw err;
  }
  const olds = names.filter((n) => oldName(basename(target)).test(n));
  let restored: string | undefined;
  if (olds.length > 0 && !(await folderExists(target))) {
    restored = join(parent, olds.shift()!);
    await rename(restored, target);
  }
  const cleared: string[] = [];
  const stuck: Array<{ path: string; error: unknown }> = [];
  for (const n of [...olds, ...names.filter((n) => stagingName(basename(target)).test(n))]) {
    const path = join(parent, n);
    const error = await rm(path, { recursive: true, force: true }).then(
      () => undefined,
      (err: unknown) => err ?? new Error('rm failed'),
    );
    if (error === undefined) cleared.push(path);
    else stuck.push({ path, error });
  }
  return { ...(restored ? { restored } : {}), cleared, stuck };
}

/** Removes `path` and all under it; false when the file system refused. */
async function removed(path: string): Promise<boolean> {
  return rm(path, { recursive: true, force: true }).then(
    () => true,
    () => false,
  );
}
