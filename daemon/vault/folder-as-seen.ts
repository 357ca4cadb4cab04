// What a pull or a restore backed up and judged must be what it replaces: an edit saved while it downloaded
// or decrypted is in neither the backup nor the new folder, and a swap would drop it without a trace. These
// checks compare the folder with the digest taken then, with the same snapshot reader push uses (no symlink
// followed, no fifo opened), so they can be run on the folder and on its swapped-out copy alike.
import { posix, relative, sep } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import type { BundleLimits } from '../bundle/limits.js';
import { folderDigest } from '../bundle/zip-folder.js';
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

/** Before a swap: the folder as the operation saw it, or VAULT_CHANGED_DURING_PULL with nothing replaced. */
export async function assertAsSeen(folder: string, unchanged: FolderCheck): Promise<void> {
  if (!(await unchanged(folder))) {
    throw new VsyncError('VAULT_CHANGED_DURING_PULL', `${folder} changed after it was backed up; nothing was replaced`);
  }
}
