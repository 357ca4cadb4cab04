// A vault folder's regular files, read as one snapshot. Node has no openat, so every read goes by path, and
// another process can swap a file or the whole folder between two of them: a push would then upload a mix
// of two folders, or a file from outside the folder. So one read is: list the whole tree with lstat (each
// entry's dev/ino, and ctime, which the kernel moves on every write), open each listed file without
// following links and check by fstat that it is that very inode, unchanged while read, then list the tree
// again and check that every folder and file is still where it was, unchanged. Anything that moved is read
// again once; twice is VAULT_CHANGED_DURING_PUSH, never a guess.

import { constants, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises';
import { join, relative, sep, isAbsolute } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { isErrno } from '../fs/errno.js';
import { isEditorScratch } from './editor-files.js';
import { nameProblem, showName } from './entry-names.js';
import { EntrySet } from './entry-set.js';
import { capText, type BundleLimits } from './limits.js';

// O_NOFOLLOW: a file swapped for a symlink after we listed it is not followed out of the folder.
// O_NONBLOCK: a file swapped for a fifo cannot hang the open; the fstat check then sees it.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

// What the system calls say when a listed path no longer leads where it did: a change, not a refusal.
const MOVED = ['ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO', 'EISDIR'];

/** Test-only hooks that open the race windows deterministically; production code passes none. */
export interface SnapshotHooks {
  /** After an attempt has listed the folder, before it opens any file (`attempt` counts from 1). */
  readonly onListed?: (attempt: number) => void | Promise<void>;
  /** After an attempt has read every file, before it lists the folder again to compare. */
  readonly onRead?: (attempt: number) => void | Promise<void>;
}

export interface SnapshotFile {
  /** Relative to the repo root, `/`-separated, starting with the vault folder. */
  readonly name: string;
  readonly data: Buffer;
}

/** Something moved during one attempt; `message` says what, for the error if it happens twice. */
class FolderChanged extends Error {}

interface ListedEntry {
  readonly kind: 'file' | 'folder';
  readonly rel: string;
  readonly path: string;
  readonly stats: BigIntStats;
}

interface Listing {
  readonly root: BigIntStats;
  readonly entries: readonly ListedEntry[];
}

/**
 * The regular files of `prefix` (the vault folder, relative to `repoRoot`), in no particular order, every one
 * read from the folder as it stood at one moment. Throws BUNDLE_SOURCE_INVALID and BUNDLE_TOO_LARGE as
 * zip-folder.ts documents, and VAULT_CHANGED_DURING_PUSH when the folder changed during two reads in a row.
 */
export async function readFolderSnapshot(
  repoRoot: string,
  prefix: string,
  caps: BundleLimits,
  hooks: SnapshotHooks = {},
): Promise<SnapshotFile[]> {
  let first: FolderChanged | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await readOnce(repoRoot, prefix, caps, hooks, attempt);
    } catch (err) {
      if (!(err instanceof FolderChanged)) throw err;
      if (first !== undefined) {
        throw new VsyncError('VAULT_CHANGED_DURING_PUSH', `${prefix}/, read twice: ${first.message}; then ${err.message}`);
      }
      first = err;
    }
  }
}

async function readOnce(repoRoot: string, prefix: string, caps: BundleLimits, hooks: SnapshotHooks, attempt: number) {
  const start = await checkedFolder(repoRoot, prefix);
  const listing = await listTree(start.path, prefix, caps);
  if (!sameInode(listing.root, start.stats)) throw new FolderChanged(`${prefix}/ was replaced`);
  await hooks.onListed?.(attempt);

  const files: SnapshotFile[] = [];
  let totalBytes = 0;
  for (const entry of listing.entries) {
    if (entry.kind !== 'file') continue;
    const name = `${prefix}/${entry.rel}`;
    const left = caps.maxTotalBytes - totalBytes;
    const data =
      caps.maxEntryBytes <= left
        ? await readListedFile(entry, name, caps.maxEntryBytes, `is larger than the cap of ${capText(caps, 'maxEntryBytes')} bytes a file`)
        : await readListedFile(entry, name, left, `would take the bundle over its cap of ${capText(caps, 'maxTotalBytes')} bytes`);
    totalBytes += data.length;
    files.push({ name, data });
  }
  await hooks.onRead?.(attempt);

  const again = await listTree(start.path, prefix, caps);
  const moved = firstDifference(listing, again, prefix);
  if (moved !== undefined) throw new FolderChanged(moved);
  // Still the same folder, still inside the repo: the listings above went by path, and a parent swapped for
  // a symlink would have them agree about a folder elsewhere.
  const end = await checkedFolder(repoRoot, prefix).catch(() => {
    throw new FolderChanged(`${prefix}/ was moved`);
  });
  if (!sameInode(end.stats, start.stats)) throw new FolderChanged(`${prefix}/ was replaced`);
  return files;
}

/** The vault folder's absolute path and lstat, once it is known to be a real folder inside the repo. */
async function checkedFolder(repoRoot: string, prefix: string): Promise<{ path: string; stats: BigIntStats }> {
  const folder = join(repoRoot, ...prefix.split('/'));
  const refuse = (why: string, hint?: string) =>
    new VsyncError('BUNDLE_SOURCE_INVALID', `${prefix}/ ${why}`, hint === undefined ? undefined : { hint });
  let stats: BigIntStats;
  try {
    stats = await lstat(folder, { bigint: true });
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
  return { path: folder, stats };
}

/**
 * Every folder and regular file under `folder`, depth first, names in byte order, each with its lstat.
 * Refuses what no push takes (links, fifos, sockets, devices, hard-linked files, bad names, too many files);
 * throws FolderChanged when a path it just listed is gone or a folder was swapped while it was listed.
 */
async function listTree(folder: string, prefix: string, caps: BundleLimits): Promise<Listing> {
  const entries: ListedEntry[] = [];
  const names = new EntrySet();
  let fileCount = 0;

  const walk = async (dir: string, relDir: string, dirStats: BigIntStats): Promise<void> => {
    let children: string[];
    try {
      children = await readdir(dir);
    } catch (err) {
      if (isErrno(err, ...MOVED)) throw new FolderChanged(`${prefix}/${relDir} was moved`);
      throw new VsyncError('BUNDLE_SOURCE_INVALID', `cannot list ${prefix}/${relDir}`, { cause: err });
    }
    // The names must be this folder's: the one the parent listed, still there after readdir.
    if (!sameInode(await lstatListed(dir, `${prefix}/${relDir}`), dirStats)) {
      throw new FolderChanged(`${prefix}/${relDir} was replaced`);
    }
    children.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    for (const child of children) {
      const rel = relDir === '' ? child : `${relDir}/${child}`;
      const name = `${prefix}/${rel}`;
      const path = join(dir, child);
      // Editors' scratch files come and go as they please; one gone since readdir is not a change we bundle.
      const stats = isEditorScratch(child) ? await lstat(path, { bigint: true }).catch(() => undefined) : await lstatListed(path, name);
      if (stats === undefined || (!stats.isDirectory() && isEditorScratch(child))) continue;
      const problem = nameProblem(name);
      if (problem !== undefined) {
        throw new VsyncError('BUNDLE_SOURCE_INVALID', `${showName(name)}: ${problem}`, {
          hint: 'rename the file; vault file names must be plain UTF-8 without backslashes or control characters',
        });
      }
      if (stats.isDirectory()) {
        entries.push({ kind: 'folder', rel, path, stats });
        await walk(path, rel, stats);
        continue;
      }
      if (!stats.isFile()) {
        throw new VsyncError('BUNDLE_SOURCE_INVALID', `${showName(name)} is ${statsKind(stats)}`, {
          hint: 'a vault folder holds regular files only; replace it with a copy of the real file, or move it out',
        });
      }
      // A second name for the same inode may sit outside the vault folder (a link to ~/.ssh/id_ed25519 made
      // by a script, or by a commit's build step): bundling it would push that file. A copy is always safe.
      if (stats.nlink > 1n) {
        throw new VsyncError('BUNDLE_SOURCE_INVALID', `${showName(name)} has ${stats.nlink} hard links`, {
          hint: 'a hard-linked file may be a file from outside the vault folder; replace it with a copy (`cp f f.tmp && mv f.tmp f`)',
        });
      }
      const clash = names.addFile(rel);
      if (clash !== undefined) {
        throw new VsyncError('BUNDLE_SOURCE_INVALID', clash, {
          hint: 'rename one of them: teammates on macOS or Windows could not keep both',
        });
      }
      if (++fileCount > caps.maxEntries) {
        throw new VsyncError('BUNDLE_TOO_LARGE', `${prefix}/ holds more than ${capText(caps, 'maxEntries')} files`);
      }
      entries.push({ kind: 'file', rel, path, stats });
    }
  };

  const root = await lstatListed(folder, `${prefix}/`);
  if (!root.isDirectory()) throw new FolderChanged(`${prefix}/ was replaced`);
  await walk(folder, '', root);
  return { root, entries };
}

async function lstatListed(path: string, name: string): Promise<BigIntStats> {
  try {
    return await lstat(path, { bigint: true });
  } catch (err) {
    if (isErrno(err, ...MOVED)) throw new FolderChanged(`${showName(name)} was moved`);
    throw new VsyncError('BUNDLE_SOURCE_INVALID', `cannot read ${showName(name)}`, { cause: err });
  }
}

/**
 * The listed file's bytes, read through a descriptor that is checked to be that file: a regular file with
 * the listed dev/ino, one link, and no write (ctime, size) between the listing and the end of the read.
 * `cap` is what this file may still add; more than that is BUNDLE_TOO_LARGE, saying that the file `over` (which cap).
 */
async function readListedFile(entry: ListedEntry, name: string, cap: number, over: string): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(entry.path, OPEN_FLAGS);
  } catch (err) {
    if (isErrno(err, ...MOVED)) throw new FolderChanged(`${showName(name)} was replaced or moved`);
    throw new VsyncError('BUNDLE_SOURCE_INVALID', `cannot open ${showName(name)}`, { cause: err });
  }
  try {
    const before = await handle.stat({ bigint: true });
    if (!before.isFile() || !sameInode(before, entry.stats) || before.nlink !== 1n) {
      throw new FolderChanged(`${showName(name)} was replaced`);
    }
    if (before.ctimeNs !== entry.stats.ctimeNs) throw new FolderChanged(`${showName(name)} was written to`);
    const tooLarge = () => new VsyncError('BUNDLE_TOO_LARGE', `${showName(name)} ${over}`);
    if (before.size > BigInt(cap)) throw tooLarge();
    // Read to the end rather than trusting the size: the file may grow while we read, and must not grow
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
    const after = await handle.stat({ bigint: true });
    if (BigInt(total) !== before.size || after.size !== before.size || after.ctimeNs !== before.ctimeNs) {
      throw new FolderChanged(`${showName(name)} was written to while it was read`);
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

/** Where the second listing differs from the first, if it does: a name, a type, an inode or a write. */
function firstDifference(before: Listing, after: Listing, prefix: string): string | undefined {
  if (!sameInode(before.root, after.root)) return `${prefix}/ was replaced`;
  const count = Math.max(before.entries.length, after.entries.length);
  for (let i = 0; i < count; i++) {
    const a = before.entries[i];
    const b = after.entries[i];
    if (a === undefined || b === undefined || a.rel !== b.rel || a.kind !== b.kind) {
      return `${showName(`${prefix}/${(a ?? b)!.rel}`)} appeared or went away`;
    }
    if (!sameInode(a.stats, b.stats)) return `${showName(`${prefix}/${a.rel}`)} was replaced`;
    if (a.kind === 'file' && a.stats.ctimeNs !== b.stats.ctimeNs) return `${showName(`${prefix}/${a.rel}`)} was written to`;
  }
  return undefined;
}

function sameInode(a: BigIntStats, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function statsKind(stats: BigIntStats): string {
  if (stats.isSymbolicLink()) return 'a symlink';
  if (stats.isFIFO()) return 'a fifo';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}
