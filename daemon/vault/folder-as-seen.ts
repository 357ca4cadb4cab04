// What a pull or a restore backed up and judged must be what it replaces: an edit saved while it downloaded
// or decrypted is in neither the backup nor the new folder, and a swap would drop it without a trace. Two
// checks, in layers. Just before the swap, the folder is listed again and compared with the read that was
// backed up (inodes and ctimes, no byte read: assertAsSeen). Once the old folder is renamed out of the way,
// it is read again in full and its digest compared (asSeen, which swapIn runs): that catches a write through
// a file still open at the rename, and the one write a listing can miss (same size, same clock tick), and
// undoes the swap. Both use the snapshot reader push uses (no symlink followed, no fifo opened).
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
  /** The same judged on any path by its digest (asSeen): run on the swapped-out folder. */
  readonly unchanged: FolderCheck;
}

export function seenAs(root: string, read: FolderRead | undefined, limits: BundleLimits): Seen {
  return { read, unchanged: asSeen(root, read?.digest, limits) };
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
