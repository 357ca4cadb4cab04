// Reading a bundle's list of entries, taking the central directory as the truth. unzipper parses it; this
// module adds what unzipper leaves out and a pull relies on:
// - a size bound before parsing, and the entry count from the end record before the list is walked;
// - the file type from the unix mode bits (unzipper calls anything not ending in `/` with data a 'File',
//   symlinks and fifos included, and a `dir/` entry carrying data a 'File' too);
// - agreement between each local header and its central record (name, method, sizes, checksum), because
//   unzipper silently falls back to the LOCAL header's sizes when the central compressed size is 0;
// - data ranges that stay in the archive and do not overlap;
// - refusal of encrypted entries and of compression methods other than stored and deflate (unzipper
//   inflates any non-zero method as deflate).
// unzipper checks no CRC and no uncompressed size; the extractor counts and checksums the bytes itself.
// The archive is a ZipSource (zip-source.ts), a buffer or a file alike: every check reads through it, and
// only the bytes a check needs are read, never the whole archive.

import type { Readable } from 'node:stream';
import type * as unzipper from 'unzipper';
import { VsyncError } from '../../shared/errors.js';
import { showName } from './entry-names.js';
import { capText, maxArchiveBytes, type BundleLimits } from './limits.js';
import type { ZipSource } from './zip-source.js';
import { END_RECORD_BYTES, LOCAL_HEADER_BYTES } from './zip-records.js';

export type EntryType =
  | 'file'
  | 'folder'
  | 'symlink'
  | 'fifo'
  | 'socket'
  | 'device'
  | 'entry of unknown type'
  | 'folder named like a file, or a file named like a folder';

export interface ArchiveEntry {
  /** The name exactly as stored (decoded as UTF-8; `nameBytes` are the raw bytes). */
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly type: EntryType;
  readonly compressedSize: number;
  /** Declared by the central directory; the extractor must check the real count against it. */
  readonly uncompressedSize: number;
  readonly crc32: number;
  /** 0 (stored) or 8 (deflate): nothing else passes the checks. */
  readonly method: number;
  /** Where its compressed bytes start in the archive (checked: they lie inside it, overlapping no other entry's). */
  readonly dataStart: number;
  /** The decompressed bytes, unbounded and unchecked: the caller counts and checksums them. */
  open(): Readable;
}

const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const END_RECORD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_END_RECORD_SIGNATURE = 0x06064b50;
const ZIP64_MARK = 0xffffffff;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const DOS_DIRECTORY = 0x10;

/**
 * The archive's entries in central-directory order, each checked for structure (not yet for its name or
 * its place: that is the caller's policy). `zip` is a buffer or a file opened by openZipSource; the entries
 * read from it when opened, so the caller closes it only once done with them. Throws BUNDLE_CORRUPT when the
 * bytes are not a readable zip or headers disagree, BUNDLE_TOO_LARGE when the archive or its entry count
 * exceeds the caps, and a file's read error as it is (a fault of this machine, not of the archive).
 */
export async function readCentralDirectory(zip: ZipSource, limits: BundleLimits): Promise<ArchiveEntry[]> {
  if (zip.size > maxArchiveBytes(limits)) {
    throw new VsyncError(
      'BUNDLE_TOO_LARGE',
      `the archive is ${zip.size} bytes, more than files within the cap of ${capText(limits, 'maxTotalBytes')} bytes could make`,
    );
  }
  const declared = await declaredEntryCount(zip);
  if (declared !== undefined && declared > limits.maxEntries) {
    throw new VsyncError('BUNDLE_TOO_LARGE', `the archive lists ${declared} entries (at most ${capText(limits, 'maxEntries')})`);
  }

  let directory: unzipper.CentralDirectory;
  try {
    // Loaded on the first pull, not at the agent's start: an idle agent is ~10 MiB lighter without it.
    const { Open } = (await import('unzipper')).default;
    directory = await Open.custom({ size: async () => zip.size, stream: (offset, length) => zip.stream(offset, length) });
  } catch (err) {
    if (zip.failure !== undefined) throw zip.failure;
    throw new VsyncError('BUNDLE_CORRUPT', `not a readable zip (${errorText(err)})`, { cause: err });
  }
  // The early check read the count the archive declares; this one counts what unzipper found.
  if (directory.files.length > limits.maxEntries) {
    throw new VsyncError(
      'BUNDLE_TOO_LARGE',
      `the archive lists ${directory.files.length} entries (at most ${capText(limits, 'maxEntries')})`,
    );
  }

  const centralStart = directory.offsetToStartOfCentralDirectory;
  if (!Number.isSafeInteger(centralStart) || centralStart > zip.size) {
    throw new VsyncError('BUNDLE_CORRUPT', 'the central directory lies outside the archive');
  }
  const ranges: Array<{ name: string; start: number; end: number }> = [];
  const entries: ArchiveEntry[] = [];
  for (const file of directory.files) {
    checkMethod(file);
    const range = await checkLocalHeader(zip, file, centralStart);
    ranges.push(range);
    entries.push({
      name: file.path,
      nameBytes: file.pathBuffer,
      type: entryType(file),
      compressedSize: file.compressedSize,
      uncompressedSize: file.uncompressedSize,
      crc32: file.crc32,
      method: file.compressionMethod,
      dataStart: range.end - file.compressedSize,
      open: () => file.stream(),
    });
  }
  checkNoOverlap(ranges);
  return entries;
}

/**
 * The entry count the end record declares, read the way unzipper finds that record (first signature in the
 * last 80 bytes); for a zip64 archive (unzipper's test: a count, disk or offset field at its all-ones mark),
 * the count of the zip64 end record its locator points to. Judged before unzipper parses a single record, so
 * an archive declaring millions of them is refused by its count, not after unzipper built every one.
 * Undefined when a record is not where it should be (unzipper then fails on it: BUNDLE_CORRUPT).
 */
async function declaredEntryCount(zip: ZipSource): Promise<number | undefined> {
  const signature = Buffer.alloc(4);
  signature.writeUInt32LE(END_RECORD_SIGNATURE, 0);
  const tailStart = Math.max(0, zip.size - 80);
  const tail = await zip.read(tailStart, zip.size - tailStart);
  const at = tail.indexOf(signature);
  if (at < 0 || at + END_RECORD_BYTES > tail.length) return undefined;
  const count = tail.readUInt16LE(at + 10);
  const zip64 = tail.readUInt16LE(at + 4) === 0xffff || count === 0xffff || tail.readUInt32LE(at + 16) === ZIP64_MARK;
  if (!zip64) return count;
  // The zip64 locator is the 20 bytes before the end record; it gives the offset of the zip64 end record,
  // whose total entry count is the 8 bytes at 32.
  const locatorAt = tailStart + at - 20;
  if (locatorAt < 0) return undefined;
  const locator = await zip.read(locatorAt, 20);
  if (locator.readUInt32LE(0) !== ZIP64_LOCATOR_SIGNATURE) return undefined;
  const recordAt = locator.readBigUInt64LE(8);
  if (recordAt + 56n > BigInt(locatorAt)) return undefined;
  const record = await zip.read(Number(recordAt), 56);
  if (record.readUInt32LE(0) !== ZIP64_END_RECORD_SIGNATURE) return undefined;
  const total = record.readBigUInt64LE(32);
  return total > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(total);
}

function checkMethod(file: unzipper.File): void {
  if (file.flags & FLAG_ENCRYPTED) {
    throw new VsyncError('BUNDLE_CORRUPT', `${showName(file.path)} is encrypted with a zip password`);
  }
  const method = file.compressionMethod;
  if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
    throw new VsyncError('BUNDLE_CORRUPT', `${showName(file.path)} uses compression method ${method}`);
  }
  if (method === METHOD_STORED && file.compressedSize !== file.uncompressedSize) {
    throw new VsyncError('BUNDLE_CORRUPT', `${showName(file.path)} is stored but its two sizes differ`);
  }
  // No compressed bytes means nothing to inflate; a declared non-zero size would then be a lie.
  if (file.compressedSize === 0 && file.uncompressedSize !== 0) {
    throw new VsyncError('BUNDLE_CORRUPT', `${showName(file.path)} declares data but holds none`);
  }
}

/** Checks the local header against the central record; returns the byte range the entry occupies. */
async function checkLocalHeader(
  zip: ZipSource,
  file: unzipper.File,
  centralStart: number,
): Promise<{ name: string; start: number; end: number }> {
  const corrupt = (why: string) => new VsyncError('BUNDLE_CORRUPT', `${showName(file.path)}: ${why}`);
  const start = file.offsetToLocalFileHeader;
  if (!Number.isSafeInteger(start) || start + LOCAL_HEADER_BYTES > centralStart) throw corrupt('its local header lies outside the archive');
  // One read for the header and the name it should carry; what lies past the central directory's start
  // cannot be this entry's, and is not read.
  const header = await zip.read(start, Math.min(LOCAL_HEADER_BYTES + file.pathBuffer.length, centralStart - start));
  if (header.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) throw corrupt('no local header where the directory points');
  const flags = header.readUInt16LE(6);
  const method = header.readUInt16LE(8);
  const nameLength = header.readUInt16LE(26);
  const extraLength = header.readUInt16LE(28);
  const dataStart = start + LOCAL_HEADER_BYTES + nameLength + extraLength;
  const end = dataStart + file.compressedSize;
  if (end > centralStart) throw corrupt('its data runs past the start of the central directory');
  if (nameLength !== file.pathBuffer.length || !header.subarray(LOCAL_HEADER_BYTES).equals(file.pathBuffer)) {
    throw corrupt('the local header names a different file');
  }
  if (method !== file.compressionMethod) throw corrupt('the local header names a different compression method');
  if (flags & FLAG_ENCRYPTED) throw corrupt('the local header says it is encrypted');
  // With a data descriptor the local fields may be 0 (the values follow the data); zip64 marks them as
  // all ones. Otherwise they must be exactly what the central directory says.
  const agrees = (local: number, central: number) =>
    local === central || local === ZIP64_MARK || (local === 0 && (flags & FLAG_DATA_DESCRIPTOR) !== 0);
  if (
    !agrees(header.readUInt32LE(14), file.crc32 >>> 0) ||
    !agrees(header.readUInt32LE(18), file.compressedSize) ||
    !agrees(header.readUInt32LE(22), file.uncompressedSize)
  ) {
    throw corrupt('the local header and the central directory disagree on its size or checksum');
  }
  return { name: file.path, start, end };
}

// Entries sharing bytes are how "overlapping" zip bombs multiply output; no honest writer produces them.
function checkNoOverlap(ranges: Array<{ name: string; start: number; end: number }>): void {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.start < previous.end) {
      throw new VsyncError('BUNDLE_CORRUPT', `${showName(current.name)} overlaps ${showName(previous.name)}`);
    }
  }
}

function entryType(file: unzipper.File): EntryType {
  const attributes = file.externalFileAttributes >>> 0;
  const format = (attributes >>> 16) & S_IFMT;
  const namedLikeFolder = file.path.endsWith('/');
  // The unix file type is honoured whatever platform the archive claims to come from: some extractors do,
  // so a symlink or fifo must never pass as a file.
  switch (format) {
    case S_IFLNK:
      return 'symlink';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    case S_IFCHR:
    case S_IFBLK:
      return 'device';
    case S_IFDIR:
      return namedLikeFolder ? 'folder' : 'folder named like a file, or a file named like a folder';
    case S_IFREG:
      return namedLikeFolder ? 'folder named like a file, or a file named like a folder' : 'file';
    case 0: {
      // No unix bits (an archive from a DOS/Windows tool): the name and the DOS directory bit decide.
      const dosFolder = (attributes & DOS_DIRECTORY) !== 0;
      if (namedLikeFolder) return 'folder';
      return dosFolder ? 'folder named like a file, or a file named like a folder' : 'file';
    }
    default:
      return 'entry of unknown type';
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
