// A vault folder's regular files, read as one snapshot. Node has no openat, so every read goes by path, and
// another process can swap a file or the whole folder between two of them: a push would then upload a mix
// of two folders, or a file from outside the folder. So one read is: list the whole tree with lstat (each
// entry's dev/ino, and ctime, which the kernel moves on every write), open each listed file without
// following links and check by fstat that it is that very inode, unchanged while read, then list the tree
// again and check that every folder and file is still where it was, unchanged. Anything that moved is read
// again once; twice is VAULT_CHANGED_DURING_PUSH, never a guess.
//
// The read takes each file's SHA-256 (the folder's digest, tree-digest.ts) in chunks; only small files keep
// their bytes (KEPT_BYTES). The zip reads the others again (reopenHashedFile), through the same checks, and
// fails rather than zip a byte that is not the one hashed.

import { createHash } from 'node:crypto';
import { constants, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, realpath, type FileHandle } from 'node:fs/promises';
import { join, relative, sep, isAbsolute } from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { VsyncError } from '../../shared/errors.js';
import { isErrno } from '../fs/errno.js';
import { isEditorScratch } from './editor-files.js';
import { nameProblem, showName } from './entry-names.js';
import { EntrySet } from './entry-set.js';
import { capText, type BundleLimits } from './limits.js';
import { mapAtMost } from './at-most.js';

// O_NOFOLLOW: a file swapped for a symlink after we listed it is not followed out of the folder.
// O_NONBLOCK: a file swapped for a fifo cannot hang the open; the fstat check then sees it.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

// What the system calls say when a listed path no longer leads where it did: a change, not a refusal.
const MOVED = ['ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO', 'EISDIR'];

// Files are read, hashed and zipped in chunks of this size.
const CHUNK_BYTES = 64 * 1024;
/** Files read at once: enough to keep libuv's four threads and the disk busy, each with one 64 KiB buffer. */
const READERS = 8;
/** A folder's children lstat-ed before any of them is judged. */
const STAT_BATCH = 64;

/**
 * How many bytes of file contents one read keeps, in all, for the zip. Most vaults are a few KiB: keeping
 * their bytes spares the zip a second read of every file (and its checks). A file that would take the total
 * past this keeps only its hash, and is read again when zipped, so the agent's memory stays near this bound
 * (plus the chunks in flight) however large the vault: a 256 MiB vault no longer costs 256 MiB twice over.
 */
export const KEPT_BYTES = 8 * 1024 * 1024;

/** Test-only hooks that open the race windows deterministically; production code passes none. */
export interface SnapshotHooks {
  /** After an attempt has listed the folder, before it opens any file (`attempt` counts from 1). */
  readonly onListed?: (attempt: number) => void | Promise<void>;
  /** After an attempt has read every file, before it lists the folder again to compare. */
  readonly onRead?: (attempt: number) => void | Promise<void>;
}

export interface SnapshotOptions extends SnapshotHooks {
  /** The bound on kept bytes (KEPT_BYTES unless a test lowers or raises it); 0 keeps only empty files. */
  readonly keptBytes?: number;
  /** A question put to the first bytes of each file not kept, answered in HashedFile.judged (a zip: deflate it?). */
  readonly judge?: SampleJudge;
}

/** `of` is asked of a file's first `bytes` bytes (all of it, if shorter), as they are read. */
export interface SampleJudge {
  readonly bytes: number;
  of(sample: Buffer): boolean;
}

/** What fstat said of a file while it was read; the zip finds it the same, or fails. */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly ctimeNs: bigint;
  readonly size: bigint;
}

interface SnapshotFileBase {
  /** Relative to the repo root, `/`-separated, starting with the vault folder. */
  readonly name: string;
  readonly size: number;
  /** SHA-256 of the bytes read (tree-digest.ts). */
  readonly sha256: Buffer;
}

/** A file whose bytes the snapshot kept (within KEPT_BYTES). */
export interface KeptFile extends SnapshotFileBase {
  readonly data: Buffer;
}

/** A file the snapshot hashed without keeping its bytes: reopenHashedFile reads them again, checked. */
export interface HashedFile extends SnapshotFileBase {
  readonly data?: undefined;
  /** The absolute path it was read from. */
  readonly path: string;
  readonly identity: FileIdentity;
  /** CRC-32 of its bytes: a zip entry stored from a stream needs it in its local header, before the bytes. */
  readonly crc32: number;
  /** What SnapshotOptions.judge said of its first bytes; undefined without a judge. */
  readonly judged?: boolean;
}

export type SnapshotFile = KeptFile | HashedFile;

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

/** A snapshot: its files, and the listing that ended it. */
export interface FolderSnapshot {
  readonly files: SnapshotFile[];
  /** What stillAsListed compares. */
  readonly stamp: string;
  /**
   * How long (ms) its newest file had been unchanged when that listing began: this machine's clock against the
   * file's ctime (the file system's); Infinity when it listed no file.
   */
  readonly quietMs: number;
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
  options: SnapshotOptions = {},
): Promise<FolderSnapshot> {
  const { keptBytes = KEPT_BYTES, judge, ...hooks } = options;
  if (!Number.isSafeInteger(keptBytes) || keptBytes < 0) {
    throw new VsyncError('INTERNAL', `keptBytes must be a non-negative integer, got ${String(keptBytes)}`);
  }
  let first: FolderChanged | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await readOnce(repoRoot, prefix, caps, hooks, keptBytes, judge, attempt);
    } catch (err) {
      if (!(err instanceof FolderChanged)) throw err;
      if (first !== undefined) {
        throw new VsyncError('VAULT_CHANGED_DURING_PUSH', `${prefix}/, read twice: ${first.message}; then ${err.message}`);
      }
      first = err;
    }
  }
}

async function readOnce(
  repoRoot: string,
  prefix: string,
  caps: BundleLimits,
  hooks: SnapshotHooks,
  keptBytes: number,
  judge: SampleJudge | undefined,
  attempt: number,
): Promise<FolderSnapshot> {
  const start = await checkedFolder(repoRoot, prefix);
  const listing = await listTree(start.path, prefix, caps);
  if (!sameInode(listing.root, start.stats)) throw new FolderChanged(`${prefix}/ was replaced`);
  await hooks.onListed?.(attempt);

  // Each file's allowances, in bundle order, from its listed size: a file read with another size was written
  // to since the listing (its ctime moved), which readListedFile refuses as a change. So the files can be
  // read several at a time and still be judged exactly as one after the other would judge them.
  const reads: Array<{ entry: ListedEntry; name: string; keep: number; cap: number; over: string }> = [];
  let totalBytes = 0;
  let kept = 0;
  for (const entry of listing.entries) {
    if (entry.kind !== 'file') continue;
    const size = Number(entry.stats.size);
    const left = caps.maxTotalBytes - totalBytes;
    const keep = keptBytes - kept;
    const [cap, over] =
      caps.maxEntryBytes <= left
        ? [caps.maxEntryBytes, `is larger than the cap of ${capText(caps, 'maxEntryBytes')} bytes a file`]
        : [left, `would take the bundle over its cap of ${capText(caps, 'maxTotalBytes')} bytes`];
    reads.push({ entry, name: `${prefix}/${entry.rel}`, keep, cap, over });
    totalBytes += size;
    if (size <= keep) kept += size;
  }
  const files = await mapAtMost(READERS, reads, (read) => readListedFile(read.entry, read.name, read.keep, read.cap, read.over, judge));
  await hooks.onRead?.(attempt);

  const listedAtMs = Date.now();
  const again = await listTree(start.path, prefix, caps);
  const moved = firstDifference(listing, again, prefix);
  if (moved !== undefined) throw new FolderChanged(moved);
  // Still the same folder, still inside the repo: the listings above went by path, and a parent swapped for
  // a symlink would have them agree about a folder elsewhere.
  const end = await checkedFolder(repoRoot, prefix).catch(() => {
    throw new FolderChanged(`${prefix}/ was moved`);
  });
  if (!sameInode(end.stats, start.stats)) throw new FolderChanged(`${prefix}/ was replaced`);
  let newestChangeMs = Number.NEGATIVE_INFINITY;
  for (const entry of again.entries) if (entry.kind === 'file') newestChangeMs = Math.max(newestChangeMs, Number(entry.stats.ctimeMs));
  return { files, stamp: stampOf(again), quietMs: listedAtMs - newestChangeMs };
}

/**
 * Whether the folder `prefix` (relative to `repoRoot`: the snapshot's folder, or that folder renamed within
 * the repo), listed again without reading a byte, is as the snapshot that gave `stamp` left it: the same
 * folder inside the repo, the same files and folders, each the same inode, and no file written to since
 * (its ctime, size or mtime moved). This trusts ctime as the snapshot itself does. A file written
 * within the same tick of the kernel's clock as the snapshot's last look, to the same size, is the one
 * change it can miss: a caller that must not miss one reads the folder again (folder-as-seen.ts).
 * A folder that cannot be listed, or holds what no snapshot takes, has changed.
 */
export async function stillAsListed(repoRoot: string, prefix: string, caps: BundleLimits, stamp: string): Promise<boolean> {
  try {
    const start = await checkedFolder(repoRoot, prefix);
    const listing = await listTree(start.path, prefix, caps);
    return sameInode(listing.root, start.stats) && stampOf(listing) === stamp;
  } catch {
    return false;
  }
}

/** A SHA-256 over what stillAsListed compares: the root's inode, and each entry's kind, name, inode and (files) ctime, size, mtime. */
function stampOf(listing: Listing): string {
  const hash = createHash('sha256');
  const inode = (s: BigIntStats) => `${s.dev}:${s.ino}`;
  hash.update(`${inode(listing.root)}\n`);
  for (const { kind, rel, stats } of listing.entries) {
    const written = kind === 'file' ? ` ${stats.ctimeNs} ${stats.size} ${stats.mtimeNs}` : '';
    // The name last, with its length: names may hold spaces, never a newline (entry-names.ts).
    hash.update(`${kind} ${inode(stats)}${written} ${Buffer.byteLength(rel)} ${rel}\n`);
  }
  return hash.digest('hex');
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
    // The children's lstats are taken a batch at a time, several at once, and each is judged in order
    // (mapAtMost reports the earliest error). A batch, not the whole folder: a folder of a million files is
    // refused after the file cap plus one batch of lstats, as it was one lstat at a time.
    let batch: Array<BigIntStats | undefined> = [];
    for (const [i, child] of children.entries()) {
      if (i % STAT_BATCH === 0) {
        batch = await mapAtMost(READERS, children.slice(i, i + STAT_BATCH), (next) => {
          const path = join(dir, next);
          // Editors' scratch files come and go as they please; one gone since readdir is not a change we bundle.
          if (isEditorScratch(next)) return lstat(path, { bigint: true }).catch(() => undefined);
          return lstatListed(path, `${prefix}/${relDir === '' ? next : `${relDir}/${next}`}`);
        });
      }
      const rel = relDir === '' ? child : `${relDir}/${child}`;
      const name = `${prefix}/${rel}`;
      const path = join(dir, child);
      const stats = batch[i % STAT_BATCH];
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
 * The listed file, read through a descriptor that is checked to be that file: a regular file with the listed
 * dev/ino, one link, and no write (ctime, size) between the listing and the end of the read. Its bytes are
 * kept when it holds at most `keep` of them, else only hashed. `cap` is what this file may still add; more
 * than that is BUNDLE_TOO_LARGE, saying that the file `over` (which cap).
 */
async function readListedFile(
  entry: ListedEntry,
  name: string,
  keep: number,
  cap: number,
  over: string,
  judge: SampleJudge | undefined,
): Promise<SnapshotFile> {
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
    const keeping = before.size <= BigInt(keep);
    // Read to the end rather than trusting the size: the file may grow while we read, and must not grow
    // past the cap. One buffer a file, sized by the listing: a kept file is read into exactly its size and
    // one byte more (so growth shows), and a file only hashed reuses one chunk, not a fresh 64 KiB buffer
    // for every file (or every chunk) for V8 to collect late.
    const hash = createHash('sha256');
    let crc = 0;
    let total = 0;
    const size = Number(before.size);
    const buffer = Buffer.allocUnsafe(keeping ? size + 1 : Math.min(CHUNK_BYTES, size + 1));
    // The first bytes of a file not kept, for the judge: gathered across reads, judged once there are enough.
    const sample = !keeping && judge !== undefined ? Buffer.allocUnsafe(Math.min(judge.bytes, size)) : undefined;
    let sampled = 0;
    for (;;) {
      const at = keeping ? total : 0;
      const { bytesRead } = await handle.read(buffer, at, buffer.length - at, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > cap) throw tooLarge();
      if (keeping && total > size) throw new FolderChanged(`${showName(name)} was written to while it was read`);
      const chunk = buffer.subarray(at, at + bytesRead);
      hash.update(chunk);
      if (!keeping) crc = crc32(chunk, crc);
      if (sample !== undefined && sampled < sample.length) sampled += chunk.copy(sample, sampled);
    }
    const after = await handle.stat({ bigint: true });
    if (BigInt(total) !== before.size || after.size !== before.size || after.ctimeNs !== before.ctimeNs) {
      throw new FolderChanged(`${showName(name)} was written to while it was read`);
    }
    const sha256 = hash.digest();
    if (keeping) return { name, size: total, sha256, data: buffer.subarray(0, total) };
    const identity = { dev: before.dev, ino: before.ino, ctimeNs: before.ctimeNs, size: before.size };
    const judged = sample === undefined || judge === undefined ? {} : { judged: judge.of(sample) };
    return { name, size: total, sha256, path: entry.path, identity, crc32: crc, ...judged };
  } finally {
    await handle.close();
  }
}

/**
 * `file` opened again to be zipped, with the snapshot's flags, and checked by fstat to be the inode that was
 * hashed, with the same ctime and size; its first `sampleBytes` (or all of it, if shorter) read ahead into
 * `sample`. Throws VAULT_CHANGED_DURING_PUSH when it is not that file any more.
 */
export async function reopenHashedFile(file: HashedFile, sampleBytes: number): Promise<HashedFileStream> {
  let handle: FileHandle;
  try {
    handle = await open(file.path, OPEN_FLAGS);
  } catch (err) {
    if (isErrno(err, ...MOVED)) throw changedWhileZipped(file);
    throw new VsyncError('BUNDLE_SOURCE_INVALID', `cannot open ${showName(file.name)}`, { cause: err });
  }
  try {
    const stats = await handle.stat({ bigint: true });
    const { identity } = file;
    if (
      !stats.isFile() ||
      stats.nlink !== 1n ||
      stats.dev !== identity.dev ||
      stats.ino !== identity.ino ||
      stats.ctimeNs !== identity.ctimeNs ||
      stats.size !== identity.size
    ) {
      throw changedWhileZipped(file);
    }
    const sample = Buffer.allocUnsafe(Math.min(sampleBytes, file.size));
    for (let filled = 0; filled < sample.length; ) {
      const { bytesRead } = await handle.read(sample, filled, sample.length - filled, filled);
      if (bytesRead === 0) throw changedWhileZipped(file);
      filled += bytesRead;
    }
    return new HashedFileStream(handle, file, sample);
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * The bytes of a reopened file (reopenHashedFile), `sample` first, hashed as they pass: a file that turns
 * out longer, shorter or other than the one hashed fails the stream (VAULT_CHANGED_DURING_PUSH) before its
 * end, so no consumer takes it for whole. The descriptor is closed before the end is signalled, and when the
 * stream is destroyed.
 */
export class HashedFileStream extends Readable {
  /** The first bytes, read ahead (a zip decides from them whether to deflate). */
  readonly sample: Buffer;
  readonly #handle: FileHandle;
  #closing: Promise<void> | undefined;
  readonly #file: HashedFile;
  readonly #hash = createHash('sha256');
  #position = 0;

  /** Use reopenHashedFile, which checks the file before it is streamed. */
  constructor(handle: FileHandle, file: HashedFile, sample: Buffer) {
    super({ highWaterMark: CHUNK_BYTES });
    this.#handle = handle;
    this.#file = file;
    this.sample = sample;
  }

  override _read(): void {
    this.#next().catch((err: unknown) => this.destroy(err as Error));
  }

  async #next(): Promise<void> {
    if (this.#closing !== undefined || this.destroyed) return;
    let chunk: Buffer;
    if (this.#position === 0 && this.sample.length > 0) {
      chunk = this.sample;
    } else {
      // No more than the rest of the file and a byte (to see growth): after the sample of a small file, the
      // read that finds its end takes one byte, not a fresh 64 KiB buffer (see readListedFile).
      const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, this.#file.size - this.#position + 1)));
      const { bytesRead } = await this.#handle.read(buffer, 0, buffer.length, this.#position);
      if (this.destroyed) return;
      if (bytesRead === 0) {
        if (this.#position !== this.#file.size || !this.#hash.digest().equals(this.#file.sha256)) throw changedWhileZipped(this.#file);
        await this.#close();
        if (!this.destroyed) this.push(null);
        return;
      }
      chunk = buffer.subarray(0, bytesRead);
    }
    this.#position += chunk.length;
    if (this.#position > this.#file.size) throw changedWhileZipped(this.#file);
    this.#hash.update(chunk);
    this.push(chunk);
  }

  /** Closes the descriptor, once; a read in flight finishes first (FileHandle.close waits for it). */
  #close(): Promise<void> {
    this.#closing ??= this.#handle.close();
    return this.#closing;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#close().then(
      () => callback(err),
      (closeErr: Error) => callback(err ?? closeErr),
    );
  }
}

function changedWhileZipped(file: HashedFile): VsyncError {
  return new VsyncError('VAULT_CHANGED_DURING_PUSH', `${showName(file.name)} changed while it was zipped`);
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
