// What a pull or a restore backed up and judged must be what it replaces: an edit saved while it downloaded
// or decrypted is in neither the backup nor the new folder, and a swap would drop it without a trace. Two
// checks, in layers. Just before the swap, the folder is listed again and compared with the read that was
// backed up (inodes and ctimes, no byte read: assertAsSeen). Once the old folder is renamed out of the way,
// it is checked again (Seen.unchanged, which swapIn runs, and which undoes the swap when it fails): that
// catches a write through a file still open at the rename.
//
// The second check lists the folder too, and reads it in full only when a listing could miss a write. A write
// moves the file's ctime to the kernel's clock, which ticks every few ms (every second on some file
// systems): a write within the tick of the file's last change leaves its ctime as it was. That can only
// happen to a file changed within a tick of the read's last listing. So when every file had last changed
// SETTLED_MS before that listing, by a file-system clock that agrees with ours (the rename has just set the
// folder's ctime to that clock's now), any later write shows; otherwise the folder is read again and its
// digest compared. Both use the snapshot reader push uses (no symlink followed, no fifo opened).
import { lstat } from 'node:fs/promises';
import { posix, relative, sep } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import type { BundleLimits } from '../bundle/limits.js';
import { folderDigest, type FolderRead } from '../bundle/zip-folder.js';
import { folderExists, type FolderCheck } from './vault-folder.js';

/**
 * A check of a folder inside `root` against `seen`: the digest the operation took (bundleFolder's, folderDigest's), or
 * undefined when there was no folder then. A folder that cannot be read any more has changed, as far as a
 * swap is concerned: the swap is the one thing that must not happen then.
 */
export function asSeen(root: string, seen: string | undefined, limits: BundleLimits): FolderCheck {
  return async (path) => {
    try {
      if (!(await folderExists(path))) return seen === undefined;
      if (seen === undefined) return false;
      return (await folderDigest(root, relative(root, path).split(sep).join(posix.sep), limits)).digest === seen;
    } catch {
      return false;
    }
  };
}

/** The vault folder as an operation saw it, both ways: the read it backed up, and a check by that read's digest. */
export interface Seen {
  /** The read the operation backed up and judged; undefined when there was no folder. */
  readonly read: FolderRead | undefined;
  /** The same judged on the swapped-out folder: by a listing when that cannot miss a write, else by its digest. */
  readonly unchanged: FolderCheck;
}

/** Files changed this long before the read's last listing cannot hide a later write from a listing. */
const SETTLED_MS = 3000;
/** How far the file system's clock may be from ours for the listing to be trusted. */
const SKEW_MS = 1000;

/** What was seen; `now` is this machine's clock (injected by tests). */
export function seenAs(root: string, read: FolderRead | undefined, limits: BundleLimits, now: () => number = Date.now): Seen {
  const byDigest = asSeen(root, read?.digest, limits);
  const unchanged: FolderCheck = async (path) => {
    if (read === undefined) return byDigest(path);
    try {
      const folder = relative(root, path).split(sep).join(posix.sep);
      if (!(await read.stillAsRead(folder))) return false;
      if (read.quietMs > SETTLED_MS && Math.abs((await lstat(path)).ctimeMs - now()) <= SKEW_MS) return true;
    } catch {
      return false;
    }
    return byDigest(path);
  };
  return { read, unchanged };
}

/**
 * Before a swap: the vault folder as the operation read it (`read`, undefined when there was none), judged by
 * a listing, or VAULT_CHANGED_DURING_PULL with nothing replaced. A folder that cannot be looked at has changed.
 */
export async function assertAsSeen(folder: string, read: FolderRead | undefined): Promise<void> {
  const quiet = read === undefined ? !(await folderExists(folder).catch(() => true)) : await read.stillAsRead();
  if (!quiet) {
    throw new VsyncError('VAULT_CHANGED_DURING_PULL', `${folder} changed after it was backed up; nothing was replaced`);
  }
}
