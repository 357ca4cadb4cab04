// Unpack a pulled bundle into a staging folder that becomes the new vault folder once the caller swaps it
// in. Every entry is judged on the central directory before the first byte is written, and the bytes are
// counted and checksummed as they are written, so a hostile archive is refused without touching anything
// outside the staging folder, and a failed one leaves the staging folder empty. The archive may be a file, so
// a pull need not hold it in memory: it is read in bounded pieces, through one descriptor from the first check
// to the last byte written, so the bytes written are the bytes checked.

import { createHash } from 'node:crypto';
import { createWriteStream, type Stats } from 'node:fs';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { crc32, inflateRaw } from 'node:zlib';
import { isVsyncError, VsyncError } from '../../shared/errors.js';
import { readCentralDirectory, type ArchiveEntry } from './central-directory.js';
import { lengthProblem, nameProblem, showName, vaultFolderPrefix } from './entry-names.js';
import { EntrySet } from './entry-set.js';
import { capText, resolveBundleLimits, type BundleLimits } from './limits.js';
import { openZipSource, type ZipInput, type ZipSource } from './zip-source.js';
import { isErrno } from '../fs/errno.js';
import { fileSha256, treeDigest, type HashedTreeFile } from './tree-digest.js';
import { syncFolder } from '../fs/atomic-write.js';
import { mapAtMost } from './at-most.js';

const FILE_MODE = 0o600;
const FOLDER_MODE = 0o700;
const WRITERS = 8;
/** Entries up to this size (each way) are extracted in one piece (writeWhole); larger ones stream, so memory stays bounded. */
export const WHOLE_ENTRY_BYTES = 1024 * 1024;
const METHOD_STORED = 0;
const inflate = promisify(inflateRaw);

export interface PlannedWrite {
  readonly kind: 'file' | 'folder';
  /** Relative to the vault folder (and so to the staging folder), forward slashes. */
  readonly path: string;
  readonly entry: ArchiveEntry;
}

/**
 * Extracts `zip` (entries relative to the repo root) into `stagingDir`, which must be an existing, empty
 * folder made by the caller (mkdtemp, on the same file system as the vault folder so the swap is a rename).
 * Entries must lie inside `vaultFolder` (`infra/vault/dev`); each is written at its path relative to it, so
 * the staging folder ends up holding the new contents of the vault folder. Files get mode 0600, folders 0700;
 * every file is created exclusively, so nothing is followed or overwritten. Folder entries for the vault
 * folder itself or its parents (`infra/`, `infra/vault/`), which some zip tools list, are ignored.
 *
 * `zip` is the archive's bytes, or `{ path }` of a regular file holding them that nothing writes while this
 * runs (a pull's own temp file, 0600 in a 0700 folder). The file is held open until this returns, never read
 * whole, and judged exactly as the bytes would be, by its size when opened. One that cannot be opened or is
 * not a regular file is refused with INTERNAL (the caller made it: that is a bug, not a damaged bundle), and
 * a read error is thrown as it is.
 *
 * Returns the files written, relative to the staging folder, in byte order.
 *
 * Refused before anything is written: BUNDLE_CORRUPT for an archive that is not a readable zip or whose
 * headers disagree; BUNDLE_TOO_LARGE when the archive, its entry count, an entry's declared size or the
 * declared total exceeds `limits`; BUNDLE_UNSAFE_ENTRY for a name that is absolute, has a drive letter, a
 * backslash, a `.`/`..`/empty segment, a control character or invalid UTF-8, that lies outside the vault
 * folder or clashes with another entry (exactly, or by case or Unicode normalisation), and for symlinks,
 * fifos, sockets and devices; BUNDLE_NAME_TOO_LONG for a name with a part over 255 bytes or a path over
 * 4095 bytes under the staging folder (entry-names.ts lengthProblem). Refused while writing: BUNDLE_CORRUPT when an entry's bytes do not match its
 * declared size or checksum (writing stops as soon as the size is exceeded, so the caps hold even when a
 * header lies).
 *
 * Cleanup: on any failure after the staging folder was found empty, this function empties it again (the
 * folder itself stays: the caller made it and removes it). A staging folder that is missing or not empty is
 * refused with INTERNAL and left untouched.
 */
export async function unzipToStaging(
  zip: ZipInput,
  stagingDir: string,
  vaultFolder: string,
  limits?: Partial<BundleLimits>,
): Promise<{ files: string[] }> {
  const { files } = await unzipWithDigest(zip, stagingDir, vaultFolder, limits);
  return { files };
}

/**
 * unzipToStaging, with the staging folder's treeDigest (tree-digest.ts) taken from the bytes as they were
 * written: what a pull or restore records, without reading the folder back.
 */
export async function unzipWithDigest(
  zip: ZipInput,
  stagingDir: string,
  vaultFolder: string,
  limits?: Partial<BundleLimits>,
): Promise<{ files: string[]; digest: string }> {
  const caps = resolveBundleLimits(limits);
  const prefix = vaultFolderPrefix(vaultFolder);
  const staging = resolve(stagingDir);
  await checkStaging(staging);
  let source: ZipSource | undefined;
  try {
    source = await openZipSource(zip);
    const plan = planWrites(await readCentralDirectory(source, caps), prefix, caps, staging);
    const files: Array<{ path: string; target: string; entry: ArchiveEntry }> = [];
    for (const write of plan) {
      const target = join(staging, ...write.path.split('/'));
      // The names were checked segment by segment; this is the last line should that ever regress.
      if (!target.startsWith(staging + sep)) {
        throw new VsyncError('BUNDLE_UNSAFE_ENTRY', `${showName(write.entry.name)} resolves outside the staging folder`);
      }
      await mkdir(write.kind === 'folder' ? target : dirname(target), { recursive: true, mode: FOLDER_MODE });
      if (write.kind === 'file') files.push({ path: write.path, target, entry: write.entry });
    }
    // Several at once: each write ends in an fsync, and the file system commits concurrent ones together.
    const hashed: HashedTreeFile[] = [];
    await mapAtMost(WRITERS, files, async (file) => {
      hashed.push({ name: file.path, sha256: await writeEntry(source!, file.entry, file.target) });
    });
    // The caller renames this folder into place; its files and names must be on disk before that rename
    // is, or a power cut could leave the new vault folder holding empty files (each file was flushed).
    const written = files.map((file) => file.path);
    await Promise.all([...foldersOf(written)].map((folder) => syncFolder(join(staging, ...folder.split('/')))));
    return { files: written.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))), digest: treeDigest(hashed) };
  } catch (err) {
    await emptyFolder(staging);
    // A failed read of the file surfaces as whatever unzipper made of the missing bytes; report the cause.
    throw source?.failure ?? err;
  } finally {
    // Only now: the entries' streams read through it until the last write is done.
    await source?.close();
  }
}

async function checkStaging(staging: string): Promise<void> {
  const refuse = (why: string, cause?: unknown) => new VsyncError('INTERNAL', `staging folder ${staging} ${why}`, { cause });
  let stats: Stats;
  try {
    stats = await lstat(staging);
  } catch (err) {
    throw refuse('cannot be read', err);
  }
  if (!stats.isDirectory()) throw refuse('is not a folder');
  if ((await readdir(staging)).length > 0) throw refuse('is not empty');
}

/**
 * Judges every entry against the vault's rules and the caps; returns what to write, in archive order.
 * `staging` is the folder the names are judged under for length (zip-contents.ts passes the vault folder).
 */
export function planWrites(entries: ArchiveEntry[], prefix: string, caps: BundleLimits, staging: string): PlannedWrite[] {
  const plan: PlannedWrite[] = [];
  const names = new EntrySet();
  let totalBytes = 0;
  for (const entry of entries) {
    const unsafe = (why: string) => new VsyncError('BUNDLE_UNSAFE_ENTRY', `${showName(entry.name)} ${why}`);
    if (entry.type !== 'file' && entry.type !== 'folder') throw unsafe(`is a ${entry.type}`);
    // unzipper decodes every name as UTF-8; bytes that do not survive the round trip are not what we'd write.
    if (!Buffer.from(entry.name, 'utf8').equals(entry.nameBytes)) throw unsafe('is not valid UTF-8');
    const name = entry.type === 'folder' ? entry.name.slice(0, -1) : entry.name;
    // Under the staging folder, whose path is longer than the vault folder's (vault-folder.ts makeStaging):
    // a name that fits there fits once swapped in. Judged first, so it gets its own code.
    const tooLong = lengthProblem(name.startsWith(prefix + '/') ? name.slice(prefix.length + 1) : name, staging);
    if (tooLong !== undefined) throw new VsyncError('BUNDLE_NAME_TOO_LONG', `${showName(shortened(entry.name))}: ${tooLong}`);
    const problem = nameProblem(name);
    if (problem !== undefined) throw unsafe(`is refused: ${problem}`);

    if (entry.type === 'folder') {
      if (entry.uncompressedSize !== 0) throw unsafe('is a folder entry that carries data');
      if (name === prefix || prefix.startsWith(name + '/')) continue;
    }
    if (!name.startsWith(prefix + '/')) throw unsafe(`lies outside the vault folder ${prefix}/`);
    const path = name.slice(prefix.length + 1);

    const clash = entry.type === 'folder' ? names.addFolder(path) : names.addFile(path);
    if (clash !== undefined) throw new VsyncError('BUNDLE_UNSAFE_ENTRY', clash);

    if (entry.type === 'file') {
      if (entry.uncompressedSize > caps.maxEntryBytes) {
        throw new VsyncError(
          'BUNDLE_TOO_LARGE',
          `${showName(entry.name)} declares ${entry.uncompressedSize} bytes (at most ${capText(caps, 'maxEntryBytes')})`,
        );
      }
      totalBytes += entry.uncompressedSize;
      if (totalBytes > caps.maxTotalBytes) {
        throw new VsyncError('BUNDLE_TOO_LARGE', `the files declare more than ${capText(caps, 'maxTotalBytes')} bytes in all`);
      }
    }
    plan.push({ kind: entry.type, path, entry });
  }
  return plan;
}

/** A name cut to a length an error line can carry. */
function shortened(name: string): string {
  return name.length > 80 ? `${name.slice(0, 80)}…` : name;
}

/** Writes one file entry; returns the SHA-256 of the bytes written (tree-digest.ts). */
async function writeEntry(zip: ZipSource, entry: ArchiveEntry, target: string): Promise<Buffer> {
  // `wx`: create only. An existing name (a clash the checks missed, or a symlink planted in the staging
  // folder) fails instead of being overwritten or followed.
  if (entry.compressedSize === 0) {
    // Nothing to read. Not asking unzipper is deliberate: for a central size of 0 it would fall back to the
    // local header's sizes, the one place a forged local header could still steer it.
    if (entry.crc32 !== 0) throw new VsyncError('BUNDLE_CORRUPT', `${showName(entry.name)} does not match its checksum`);
    await writeExclusive(() => writeFile(target, Buffer.alloc(0), { flag: 'wx', mode: FILE_MODE, flush: true }), entry);
    return fileSha256(Buffer.alloc(0));
  }
  if (entry.uncompressedSize <= WHOLE_ENTRY_BYTES && entry.compressedSize <= WHOLE_ENTRY_BYTES) return writeWhole(zip, entry, target);
  const source = entry.open();
  // unzipper forwards its inner streams' failures with a bare entry.emit('error'), which can come after the
  // pipeline has torn down (when the guard stops a too-long entry early). A lasting listener keeps such a
  // late error from becoming an uncaught exception; the pipeline still sees every error raised in time.
  source.on('error', () => {});
  const guard = new EntryGuard(entry);
  await writeExclusive(() => pipeline(source, guard, createWriteStream(target, { flags: 'wx', mode: FILE_MODE, flush: true })), entry);
  return guard.sha256;
}

/**
 * A small entry in one piece: its compressed bytes read at once from the range the central directory checks
 * vouched for, inflated with the output capped at the declared size, checked like EntryGuard checks a stream
 * (the declared size exactly, the checksum), and written with one open, write and flush. Most vault files are
 * small, and unzipper's stream for each (a local header parsed again, a pipeline, a write stream) was most
 * of a pull's extraction time for many files.
 */
async function writeWhole(zip: ZipSource, entry: ArchiveEntry, target: string): Promise<Buffer> {
  const data = await readWhole(zip, entry);
  await writeExclusive(() => writeFile(target, data, { flag: 'wx', mode: FILE_MODE, flush: true }), entry);
  return fileSha256(data);
}

/**
 * An entry of at most WHOLE_ENTRY_BYTES (each way), read and checked as one piece: exactly the declared size,
 * the checksum; the inflation stops as soon as the output passes the declared size.
 */
export async function readWhole(zip: ZipSource, entry: ArchiveEntry): Promise<Buffer> {
  const corrupt = (why: string, cause?: unknown) => new VsyncError('BUNDLE_CORRUPT', `${showName(entry.name)} ${why}`, { cause });
  const more = `holds more than the ${entry.uncompressedSize} bytes its header declares`;
  if (entry.compressedSize === 0) {
    // See writeEntry: unzipper is never asked for an entry of no bytes.
    if (entry.crc32 !== 0 || entry.uncompressedSize !== 0) throw corrupt('does not match its checksum');
    return Buffer.alloc(0);
  }
  const packed = await zip.read(entry.dataStart, entry.compressedSize);
  let data: Buffer;
  if (entry.method === METHOD_STORED) {
    data = packed;
  } else {
    try {
      // zlib stops, with ERR_BUFFER_TOO_LARGE, as soon as the output passes the declared size: no bomb inflates further.
      data = await inflate(packed, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw corrupt(more, err);
      throw corrupt('could not be decompressed', err);
    }
  }
  if (data.length > entry.uncompressedSize) throw corrupt(more);
  if (data.length < entry.uncompressedSize) {
    throw corrupt(`holds ${data.length} bytes, not the ${entry.uncompressedSize} its header declares`);
  }
  if (crc32(data) >>> 0 !== entry.crc32 >>> 0) throw corrupt('does not match its checksum');
  return data;
}

async function writeExclusive(write: () => Promise<void>, entry: ArchiveEntry): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (isVsyncError(err)) throw err;
    if (isErrno(err, 'EEXIST')) {
      throw new VsyncError('BUNDLE_UNSAFE_ENTRY', `${showName(entry.name)} would replace another entry`, { cause: err });
    }
    // File-system failures (ENOSPC, EACCES) are about this machine, not the archive: let them through.
    if (typeof err === 'object' && err !== null && 'syscall' in err) throw err;
    throw new VsyncError('BUNDLE_CORRUPT', `${showName(entry.name)} could not be decompressed`, { cause: err });
  }
}

/**
 * Passes an entry's bytes through while counting them against the size the central directory declared
 * (already checked against the caps) and checksumming them. It fails on the first byte past the declared
 * size, so a lying header cannot make us write more than the caps allow. It also takes their SHA-256, so
 * the staging folder's digest comes from the one pass that wrote it, not from reading it back.
 */
export class EntryGuard extends Transform {
  private count = 0;
  private crc = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly entry: ArchiveEntry) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.entry.uncompressedSize) {
      callback(this.corrupt(`holds more than the ${this.entry.uncompressedSize} bytes its header declares`));
      return;
    }
    this.crc = crc32(chunk, this.crc);
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.count !== this.entry.uncompressedSize) {
      callback(this.corrupt(`holds ${this.count} bytes, not the ${this.entry.uncompressedSize} its header declares`));
    } else if (this.crc >>> 0 !== this.entry.crc32 >>> 0) {
      callback(this.corrupt('does not match its checksum'));
    } else {
      callback();
    }
  }

  /** SHA-256 of the bytes that passed; read once the pipeline has finished. */
  get sha256(): Buffer {
    return this.hash.copy().digest();
  }

  private corrupt(why: string): VsyncError {
    return new VsyncError('BUNDLE_CORRUPT', `${showName(this.entry.name)} ${why}`);
  }
}

/** Every folder that holds one of `files` (relative paths), the staging folder itself as ''. */
function foldersOf(files: string[]): Set<string> {
  const folders = new Set<string>(['']);
  for (const file of files) {
    for (let at = file.lastIndexOf('/'); at > 0; at = file.lastIndexOf('/', at - 1)) folders.add(file.slice(0, at));
  }
  return folders;
}

// Removes what a failed extraction wrote. rm does not follow symlinks, and we never create any.
async function emptyFolder(folder: string): Promise<void> {
  const children = await readdir(folder).catch(() => []);
  await Promise.all(children.map((child) => rm(join(folder, child), { recursive: true, force: true })));
}
