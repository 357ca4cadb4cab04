// Zip a vault folder into the bundle a push encrypts (DESIGN.md, "zip": entries relative to the repo root,
// regular files only). The output is a pure function of the folder's names and contents, so the same secrets
// always give the same bytes: no timestamps, no owner, no permissions from the disk.

import { constants, type Dirent } from 'node:fs';
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { ZipArchive } from 'archiver';
import { VsyncError } from '../../shared/errors.js';
import { isErrno } from '../fs/errno.js';
import { isEditorScratch } from './editor-files.js';
import { nameProblem, showName, vaultFolderPrefix } from './entry-names.js';
import { EntrySet } from './entry-set.js';
import { treeDigest } from './tree-digest.js';
import { resolveBundleLimits, type BundleLimits } from './limits.js';

// Every entry carries the DOS epoch rather than the file's mtime: touching a file without changing it must
// not change the bundle. archiver writes UTC fields unless told otherwise, so the time zone cannot leak in.
const ENTRY_DATE = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

// What a pull writes back; the disk's own mode bits are not carried (a secret file is never group-readable).
const ENTRY_MODE = 0o600;

// O_NOFOLLOW: a file swapped for a symlink after we listed it is refused, not followed out of the folder.
// O_NONBLOCK: a file swapped for a fifo cannot hang the open; the fstat check then refuses it.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

interface SourceFile {
  readonly name: string;
  readonly data: Buffer;
}

/**
 * The vault folder `vaultFolder` (relative to `repoRoot`, like `infra/vault/dev`) as zip bytes.
 *
 * Entries are the folder's regular files, recursively, but for editors' scratch files (editor-files.ts),
 * named relative to the repo root with forward slashes,
 * in byte order of their UTF-8 names, stored uncompressed, dated 1980-01-01 and mode 0600. Empty folders are
 * not represented. The caps in `limits` (defaults in limits.ts) are those unzipToStaging applies.
 *
 * Throws BUNDLE_SOURCE_INVALID when the folder is missing, is not a folder, lies outside the repo (also
 * through a symlinked parent), or holds anything but regular files and folders (a symlink, fifo, socket or
 * device is refused by name, never skipped: dropping it would lose data, following it could leak a file
 * from elsewhere), or a name no pull would accept; BUNDLE_TOO_LARGE when it exceeds a cap.
 */
export async function zipFolder(repoRoot: string, vaultFolder: string, limits?: Partial<BundleLimits>): Promise<Buffer> {
  return (await bundleFolder(repoRoot, vaultFolder, limits)).zip;
}

export interface FolderBundle {
  readonly zip: Buffer;
  /** treeDigest of exactly the bytes zipped (tree-digest.ts). */
  readonly digest: string;
  readonly files: number;
}

/** zipFolder, with the digest of the same bytes and the number of files, from one read of the folder. */
export async function bundleFolder(
  repoRoot: string,
  vaultFolder: string,
  limits?: Partial<BundleLimits>,
): Promise<FolderBundle> {
  const caps = resolveBundleLimits(limits);
  const prefix = vaultFolderPrefix(vaultFolder);
  const folder = await checkedFolder(resolve(repoRoot), prefix);
  const files = await collectFiles(folder, prefix, caps);
  files.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));

  // Stored, not deflated: deflate's exact bytes depend on the zlib build, and the same content must give the
  // same bundle on every machine. A vault folder is a few small files; the envelope hides lengths anyway.
  const archive = new ZipArchive({ store: true });
  const bytes = buffer(archive);
  for (const file of files) {
    archive.append(file.data, { name: file.name, date: ENTRY_DATE, mode: ENTRY_MODE });
  }
  const [zip] = await Promise.all([bytes, archive.finalize()]);
  const digest = treeDigest(files.map((f) => ({ name: f.name.slice(prefix.length + 1), data: f.data })));
  return { zip, digest, files: files.length };
}

/** The vault folder's absolute path, once it is known to be a real folder inside the repo. */
async function checkedFolder(repoRoot: string, prefix: string): Promise<string> {
  const folder = join(repoRoot, ...prefix.split('/'));
  const refuse = (why: string, hint?: string) =>
    new VsyncError('BUNDLE_SOURCE_INVALID', `${prefix}/ ${why}`, hint === undefined ? undefined : { hint });
  let stats;
  try {
    stats = await lstat(folder);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) {
      throw refuse(
        `does not exist in ${repoRoot}`,
        `create it (mkdir -p ${prefix}) and put the env's secret files in it, or set files.vaultFolder in the config`,
      );
    }
    throw err;
  }
  if (stats.isSymbolicLink()) throw refuse('is a symlink; the vault folder must be a real folder');
  if (!stats.isDirectory()) throw refuse('is not a folder');

  // The name has no `..`, but a symlinked parent (infra/vault → /elsewhere) could still lead out of the repo.
  const [realRoot, realFolder] = await Promise.all([realpath(repoRoot), realpath(folder)]);
  const rel = relative(realRoot, realFolder);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
    throw refuse(`resolves to ${realFolder}, which is not inside the repo ${realRoot}`);
  }
  return folder;
}

async function collectFiles(folder: string, prefix: string, caps: BundleLimits): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const names = new EntrySet();
  let totalBytes = 0;

  const walk = async (dir: string, relDir: string): Promise<void> => {
    let dirents: Dirent[];
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new VsyncError('BUNDLE_SOURCE_INVALID', `cannot list ${prefix}/${relDir}`, { cause: err });
    }
    for (const dirent of dirents) {
      if (!dirent.isDirectory() && isEditorScratch(dirent.name)) continue;
      const rel = relDir === '' ? dirent.name : `${relDir}/${dirent.name}`;
      const name = `${prefix}/${rel}`;
      const problem = nameProblem(name);
      if (problem !== undefined) {
        throw new VsyncError('BUNDLE_SOURCE_INVALID', `${showName(name)}: ${problem}`, {
          hint: 'rename the file; vault file names must be plain UTF-8 without backslashes or control characters',
        });
      }
      const path = join(dir, dirent.name);
      if (dirent.isDirectory()) {
        await walk(path, rel);
        continue;
      }
      if (!dirent.isFile()) {
        throw new VsyncError('BUNDLE_SOURCE_INVALID', `${showName(name)} is ${direntKind(dirent)}`, {
          hint: 'a vault folder holds regular files only; replace it with a copy of the real file, or move it out',
        });
      }
      const clash = names.addFile(rel);
      if (clash !== undefined) {
        throw new VsyncError('BUNDLE_SOURCE_INVALID', clash, {
          hint: 'rename one of them: teammates on macOS or Windows could not keep both',
        });
      }
      if (files.length + 1 > caps.maxEntries) {
        throw new VsyncError('BUNDLE_TOO_LARGE', `${prefix}/ holds more than ${caps.maxEntries} files`);
      }
      const data = await readRegularFile(path, name, Math.min(caps.maxEntryBytes, caps.maxTotalBytes - totalBytes));
      totalBytes += data.length;
      files.push({ name, data });
    }
  };

  await walk(folder, '');
  return files;
}

/**
 * The file's bytes, read through a descriptor that is checked to be a regular file (the directory listing
 * may be stale by now). `cap` is what this file may still add; more than that is BUNDLE_TOO_LARGE.
 */
async function readRegularFile(path: string, name: string, cap: number): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    if (isErrno(err, 'ELOOP')) {
      throw new VsyncError('BUNDLE_SOURCE_INVALID', `${showName(name)} is a symlink`);
    }
    throw new VsyncError('BUNDLE_SOURCE_INVALID', `cannot open ${showName(name)}`, { cause: err });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new VsyncError('BUNDLE_SOURCE_INVALID', `${showName(name)} is not a regular file`);
    const tooLarge = () =>
      new VsyncError('BUNDLE_TOO_LARGE', `${showName(name)} would take the bundle over its size limit`);
    if (stats.size > cap) throw tooLarge();
    // Read to the end rather than trusting stats.size: the file may grow while we read, and must not grow
    // past the cap.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > cap) throw tooLarge();
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

function direntKind(dirent: Dirent): string {
  if (dirent.isSymbolicLink()) return 'a symlink';
  if (dirent.isFIFO()) return 'a fifo';
  if (dirent.isSocket()) return 'a socket';
  if (dirent.isCharacterDevice() || dirent.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
