// Can versions be kept in this folder? Asked once, at `vsync init --store`, so a mistyped folder is an
// error that names it, not a push that fails later. The folder need not exist yet (the store makes it on
// the first push); its nearest existing ancestor must be a folder this user can write, on a file system
// that holds data. /proc, /sys and /dev do not: writes there reach the kernel, and a recursive mkdir under
// /proc/self was seen to spin at 75% CPU for ten minutes. Nothing is created here, so a refusal leaves no
// trace; the walk up is bounded by the path's own depth.
import { constants } from 'node:fs';
import { access, lstat, realpath, statfs } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { isErrno } from './errno.js';
import { missingFolders } from './make-folders.js';

/** statfs(2) magic numbers of the kernel's own file systems (linux/magic.h). */
const KERNEL_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x6165676c, 'pstorefs'],
  [0xcafe4a11, 'bpf'],
]);
const KERNEL_TREES = ['/proc', '/sys', '/dev'];

function refuse(root: string, why: string): VsyncError {
  return new VsyncError('STORE_FOLDER_INVALID', `${root}: ${why}`);
}

const under = (path: string, tree: string) => path === tree || path.startsWith(`${tree}${sep}`);

/** Throws STORE_FOLDER_INVALID saying why `root` (absolute) cannot hold a store. */
export async function checkStoreFolder(root: string): Promise<void> {
  for (const tree of KERNEL_TREES) if (under(root, tree)) throw refuse(root, `${tree} is the kernel's, not a place for files`);
  let missing: string[];
  try {
    missing = await missingFolders(root);
  } catch (err) {
    if (isErrno(err, 'ENOTDIR')) throw refuse(root, `a part of the path is a file, not a folder`);
    if (isErrno(err, 'EACCES')) throw refuse(root, `${(err as NodeJS.ErrnoException).path ?? root} cannot be reached (permission denied)`);
    if (isErrno(err, 'ENOENT')) throw refuse(root, 'no part of the path exists');
    throw refuse(root, (err as Error).message);
  }
  const existing = missing.length === 0 ? root : dirname(missing.at(-1)!);
  let real: string;
  try {
    real = await realpath(existing);
  } catch (err) {
    throw refuse(root, `${existing} cannot be resolved: ${(err as Error).message}`);
  }
  for (const tree of KERNEL_TREES)
    if (under(real, tree)) throw refuse(root, `${existing} is ${real}, under ${tree}: the kernel's, not a place for files`);
  const kind = KERNEL_FILE_SYSTEMS.get((await statfs(real)).type);
  if (kind !== undefined) throw refuse(root, `${existing} is on ${kind}, the kernel's file system, not a place for files`);
  const info = await lstat(real);
  if (!info.isDirectory()) throw refuse(root, `${existing === root ? 'it' : existing} is a file, not a folder`);
  try {
    await access(real, constants.W_OK | constants.X_OK);
  } catch {
    throw refuse(root, `${existing} is not writable by this user${existing === root ? '' : ', so the folder cannot be made in it'}`);
  }
}
