// Zip a vault folder into the bundle a push encrypts (DESIGN.md, "zip": entries relative to the repo root,
// regular files only). The output is a pure function of the folder's names and contents, so the same secrets
// always give the same bytes: no timestamps, no owner, no permissions from the disk. The zip is a stream
// (FolderRead.zip): small files come from the read's memory, larger ones from the disk again, one at a time,
// so its cost in memory does not grow with the vault; the bytes are the same either way.

import { once } from 'node:events';
import { resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { deflateRawSync } from 'node:zlib';
import type { ZipArchive } from 'archiver';
import { VsyncError } from '../../shared/errors.js';
import { vaultFolderPrefix } from './entry-names.js';
import {
  readFolderSnapshot,
  reopenHashedFile,
  stillAsListed,
  type HashedFile,
  type HashedFileStream,
  type KeptFile,
  type SnapshotFile,
  type SnapshotOptions,
} from './folder-snapshot.js';
import { treeDigest } from './tree-digest.js';
import type { ContentFile } from './bundle-contents.js';
import { resolveBundleLimits, type BundleLimits } from './limits.js';
import { CENTRAL_HEADER_BYTES, DATA_DESCRIPTOR_BYTES, END_RECORD_BYTES, LOCAL_HEADER_BYTES } from './zip-records.js';

// Every entry carries the DOS epoch rather than the file's mtime: touching a file without changing it must
// not change the bundle. archiver writes UTC fields unless told otherwise, so the time zone cannot leak in.
const ENTRY_DATE = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

// What a pull writes back; the disk's own mode bits are not carried (a secret file is never group-readable).
const ENTRY_MODE = 0o600;

/**
 * The bundle caps, and for tests only, hooks into the read and the bound on the bytes it keeps
 * (`keptBytes`, KEPT_BYTES by default; folder-snapshot.ts).
 */
export type ZipOptions = Partial<BundleLimits> & SnapshotOptions;

/**
 * The vault folder `vaultFolder` (relative to `repoRoot`, like `infra/vault/dev`) as zip bytes.
 *
 * Entries are the folder's regular files, recursively, but for editors' scratch files (editor-files.ts),
 * named relative to the repo root with forward slashes, in byte order of their UTF-8 names, deflated where
 * that pays (deflatePays) and stored otherwise, dated 1980-01-01 and mode 0600. Empty folders are not
 * represented. The caps in `limits` (defaults in limits.ts) are those unzipToStaging applies.
 *
 * Throws BUNDLE_SOURCE_INVALID when the folder is missing, is not a folder, lies outside the repo (also
 * through a symlinked parent), or holds anything but regular files and folders (a symlink, fifo, socket or
 * device is refused by name, never skipped: dropping it would lose data, following it could leak a file
 * from elsewhere), a file with more than one hard link (its other name may be outside the folder), or a name
 * no pull would accept; BUNDLE_TOO_LARGE when it exceeds a cap. The files are read as one snapshot
 * (folder-snapshot.ts): a folder that changes during two reads in a row is VAULT_CHANGED_DURING_PUSH, and so
 * is a file read again for the zip that is not the one read (FolderRead.zip).
 *
 * The whole zip in memory: for tests and small callers; a push streams it (readFolder).
 */
export async function zipFolder(repoRoot: string, vaultFolder: string, options?: ZipOptions): Promise<Buffer> {
  return (await bundleFolder(repoRoot, vaultFolder, options)).zip;
}

export interface FolderBundle {
  readonly zip: Buffer;
  /** treeDigest of exactly the bytes zipped (tree-digest.ts). */
  readonly digest: string;
  readonly files: number;
}

/** zipFolder, with the digest of the same bytes and the number of files, from one read of the folder. */
export async function bundleFolder(repoRoot: string, vaultFolder: string, options: ZipOptions = {}): Promise<FolderBundle> {
  const read = await readFolder(repoRoot, vaultFolder, options);
  return { zip: await buffer(read.zip()), digest: read.digest, files: read.files };
}

/**
 * One read of a vault folder: its digest and file count, and the zip of exactly what was read, built only
 * when asked. A push on save reads the folder once to decide whether it changed and pushes that same read.
 */
export interface FolderRead extends Omit<FolderBundle, 'zip'> {
  /** The files' bytes in all. */
  readonly bytes: number;
  /**
   * The zip, built as it is read (nothing is opened before the first read). Small files come from memory;
   * larger ones (past the bound on kept bytes, folder-snapshot.ts) are read again, one open at a time, and
   * must be the very files hashed: a file moved, replaced or written to since (or bytes that do not hash to
   * what was read) fail the stream with VAULT_CHANGED_DURING_PUSH, as does any other error of the build.
   * Destroying the stream closes what it had open. Each call builds the zip again from the same read.
   */
  zip(): Readable;
  /**
   * Whether the folder is still as this read left it, judged by listing it again and reading no byte (the
   * same files, inodes and ctimes: folder-snapshot.ts stillAsListed, with what it can miss). `folder`, relative
   * to the repo root, names where it is now when it was renamed since (a swap moves it out of the way).
   */
  stillAsRead(folder?: string): Promise<boolean>;
  /** How long its newest file had been unchanged when the read's last listing began (folder-snapshot.ts FolderSnapshot). */
  readonly quietMs: number;
  /**
   * The zip's exact length before it is built, so that an upload can declare it and stream the zip as it is
   * made (zipLength); undefined when that would take a pass of its own (a file to deflate that the read
   * did not keep) or the zip would need zip64.
   */
  zipBytes(): number | undefined;
  /**
   * The files read, by path in the vault folder, with their sizes and SHA-256, and the bytes of those the read
   * kept (folder-snapshot.ts): what a push's log entry describes (version-meta.ts), without a second read.
   */
  listing(): ContentFile[];
}

/** The folder read as one snapshot (the refusals of zipFolder), its zip left for later. */
export async function readFolder(repoRoot: string, vaultFolder: string, options: ZipOptions = {}): Promise<FolderRead> {
  const { files, prefix, stamp, quietMs, caps } = await snapshot(repoRoot, vaultFolder, options);
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  const root = resolve(repoRoot);
  const deflates = keptVerdicts();
  return {
    digest: digestOf(files, prefix),
    files: files.length,
    bytes,
    zip: () => zipStream(files, deflates),
    stillAsRead: (folder = prefix) => stillAsListed(root, folder, caps, stamp),
    quietMs,
    zipBytes: () => zipLength(files, deflates),
    listing: () =>
      files.map((file) => ({
        path: file.name.slice(prefix.length + 1),
        size: file.size,
        sha256: file.sha256,
        ...(file.data ? { data: file.data } : {}),
      })),
  };
}

/**
 * bundleFolder's digest and file count without building the zip: for the questions that only compare a
 * folder with a digest (unpushed edits? changed since it was backed up?). Same read, same refusals.
 */
export async function folderDigest(
  repoRoot: string,
  vaultFolder: string,
  limits: Partial<BundleLimits> = {},
): Promise<Omit<FolderBundle, 'zip'>> {
  const { digest, files } = await readFolder(repoRoot, vaultFolder, limits);
  return { digest, files };
}

// Deflate where it pays: an entry is deflated when its first SAMPLE_BYTES deflate to at most PAYS of their size
// (env files, JSON, PEM text do; keys, certificates in DER, random bytes do not), and stored otherwise. Below
// MIN_DEFLATE_BYTES the headers of a deflate stream cost more than it could save. The sample is judged at
// JUDGE_LEVEL, zlib's fastest: it tells text from noise as well as level 6 does, and judging 64 KiB of every
// file at level 6 was the largest CPU cost of a pull of a 24 MB vault of random files (~0.4 s of ~2.8 s,
// measured with --cpu-prof: each pull zips the folder for its backup). A 4 KiB sample tells them apart as
// well as 16 KiB did (PEM text deflates to 0.76 of its size either way) at a fifth of the cost: 43 against
// 204 us a file here, 64 ms of each zip of a 400-file vault.
const SAMPLE_BYTES = 4 * 1024;
const PAYS = 0.9;
const MIN_DEFLATE_BYTES = 128;
const DEFLATE_LEVEL = 6;
const JUDGE_LEVEL = 1;

/**
 * Whether deflating `data` is worth it, judged on a sample so that a large incompressible file costs little.
 * `data` may be the file's first SAMPLE_BYTES (4 KiB) only, or all of it if shorter: the answer is the same.
 */
export function deflatePays(data: Buffer): boolean {
  if (data.length < MIN_DEFLATE_BYTES) return false;
  const sample = data.subarray(0, SAMPLE_BYTES);
  return deflateRawSync(sample, { level: JUDGE_LEVEL }).length <= sample.length * PAYS;
}

// The zip's records as archiver 8 writes them (compress-commons 7), with no extra fields or comments: a local
// header and the name, the data, and for a deflated entry a data descriptor; a central header and the name;
// the end record (zip-records.ts). Past ZIP64_ENTRIES entries or 4 GiB archiver adds zip64 records, which
// zipLength does not count. Held to archiver's output by bundle-snapshot.test.ts.
const ZIP64_ENTRIES = 0xffff;
const ZIP64_BYTES = 0xffffffff;

/**
 * deflatePays of each kept file's bytes, worked out once for a read however often its zip or the zip's length
 * asks (a push that streams its upload asks both).
 */
function keptVerdicts(): (file: KeptFile) => boolean {
  const verdicts = new Map<KeptFile, boolean>();
  return (file) => {
    let verdict = verdicts.get(file);
    if (verdict === undefined) verdicts.set(file, (verdict = deflatePays(file.data)));
    return verdict;
  };
}

/**
 * The length of zipStream(files), without building it: each entry stored or deflated as zipStream decides
 * (deflatePays), a deflated one measured by deflating its kept bytes at the zip's level (zlib's output does
 * not depend on how its input is cut). Undefined for a file to deflate whose bytes were not kept, and for a
 * zip that would need zip64 records.
 */
function zipLength(files: readonly SnapshotFile[], deflates: (file: KeptFile) => boolean): number | undefined {
  if (files.length >= ZIP64_ENTRIES) return undefined;
  let local = 0;
  let central = 0;
  for (const file of files) {
    const name = Buffer.byteLength(file.name, 'utf8');
    let data = file.size;
    if (file.data !== undefined) {
      if (deflates(file)) {
        data = deflateRawSync(file.data, { level: DEFLATE_LEVEL }).length + DATA_DESCRIPTOR_BYTES;
      }
    } else if (file.judged !== false) {
      return undefined; // deflated: its length is known only once it is, from a pass of its own
    }
    local += LOCAL_HEADER_BYTES + name + data;
    central += CENTRAL_HEADER_BYTES + name;
  }
  if (local + central > ZIP64_BYTES) return undefined;
  return local + central + END_RECORD_BYTES;
}

/**
 * The zip of the snapshot's files, in their order, as a stream. Entries go to archiver one at a time: a
 * file whose bytes were not kept is opened when archiver is done with the one before it but one (so a vault
 * of 20,000 files holds two descriptors, not 20,000), and closed before archiver is done with it. The next
 * such file is opened, checked and sampled while this one is zipped: done in turn, those three system calls
 * a file were most of a 400-file push's time in the zip.
 */
function zipStream(files: readonly SnapshotFile[], deflates: (file: KeptFile) => boolean): Readable {
  const stop = new AbortController();
  let archive: ZipArchive | undefined;
  // The file being zipped, and the next one being opened: at most these two are open.
  let current: Promise<HashedFileStream> | undefined;
  let upcoming: { readonly index: number; readonly opening: Promise<HashedFileStream> } | undefined;
  const fail = (err: unknown): void => {
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  const reopen = (file: HashedFile): Promise<HashedFileStream> => {
    const opening = reopenHashedFile(file, SAMPLE_BYTES);
    // Listened to before anything else: halted meanwhile, halt destroys it, and a failure to close it must
    // not be an 'error' nobody hears (that would end the agent). An open that fails is reported when its
    // turn comes, in order.
    opening.then(
      (source) =>
        source.on('error', (err) => {
          if (!stop.signal.aborted) fail(err);
        }),
      () => undefined,
    );
    return opening;
  };
  // Files before this index have been looked at for the next one to open: each is looked at once.
  let scanned = 0;
  const openAfter = (index: number): void => {
    if (upcoming !== undefined || stop.signal.aborted) return;
    for (scanned = Math.max(scanned, index + 1); scanned < files.length; scanned++) {
      const file = files[scanned]!;
      if (file.data === undefined) {
        upcoming = { index: scanned, opening: reopen(file) };
        scanned++;
        return;
      }
    }
  };

  const build = async (): Promise<void> => {
    // Deterministic for one zlib build (Node's own): the same folder gives the same bundle on this machine,
    // which is what the skipped backup and the skipped swap compare. Another Node's zlib may deflate to other
    // bytes; that only costs a swap that writes the same files.
    // archiver is loaded on the first push, not at the agent's start: an idle agent is ~15 MiB lighter.
    const { ZipArchive } = await import('archiver');
    if (stop.signal.aborted) return;
    const zip = (archive = new ZipArchive({ zlib: { level: DEFLATE_LEVEL } }));
    const storedStream = storeStreamsLikeBuffers(zip);
    zip.on('error', fail);
    zip.pipe(out);
    for (const [index, file] of files.entries()) {
      const entry = { name: file.name, date: ENTRY_DATE, mode: ENTRY_MODE };
      if (file.data !== undefined) {
        openAfter(index);
        zip.append(file.data, { ...entry, store: !deflates(file) });
      } else {
        current = upcoming?.index === index ? upcoming.opening : reopen(file);
        upcoming = undefined;
        const source = await current;
        if (stop.signal.aborted) return; // halt closes it
        openAfter(index);
        // Judged as it was read (the bytes zipped hash as those did, or the zip fails).
        const store = !(file.judged ?? deflatePays(source.sample));
        if (store) storedStream.next = { size: file.size, crc32: file.crc32 };
        zip.append(source, { ...entry, store });
      }
      // 'entry' once archiver has taken the whole entry (a file's stream has ended, its descriptor closed).
      await once(zip, 'entry', { signal: stop.signal });
      current = undefined;
    }
    await zip.finalize();
  };

  // Ended, failed, or destroyed by the consumer: the build stops, and the files it has open are closed before
  // the zip stream reports its error or its close.
  const halt = async (): Promise<void> => {
    stop.abort();
    if (archive !== undefined) {
      archive.unpipe(out);
      archive.abort();
    }
    await Promise.all([closeOpened(current), closeOpened(upcoming?.opening)]);
  };

  const out = new ZipOutput(() => void build().catch(fail), halt);
  return out;
}

/** Closes a file the zip opened (or was opening), whether or not it got as far as being zipped. */
async function closeOpened(opening: Promise<HashedFileStream> | undefined): Promise<void> {
  const source = await opening?.catch(() => undefined);
  if (source === undefined || source.closed) return;
  const closed = new Promise((resolve) => source.once('close', resolve));
  source.destroy();
  await closed;
}

/**
 * The zip as its consumer reads it: the build starts at the first read, so nothing is opened, and no error
 * raised, before the consumer is there to take it; destroying it (or its end) waits for `halt`.
 */
class ZipOutput extends PassThrough {
  #start: (() => void) | undefined;
  readonly #halt: () => Promise<void>;

  constructor(start: () => void, halt: () => Promise<void>) {
    super();
    this.#start = start;
    this.#halt = halt;
  }

  override _read(size: number): void {
    const start = this.#start;
    this.#start = undefined;
    start?.();
    super._read(size);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#start = undefined;
    this.#halt().then(
      () => callback(err),
      (haltErr: Error) => callback(err ?? haltErr),
    );
  }
}

// archiver's zip engine (compress-commons' ZipArchiveOutputStream), as far as storeStreamsLikeBuffers uses it.
interface ZipEngineEntry {
  getMethod(): number;
  setSize(size: number): void;
  setCompressedSize(size: number): void;
  setCrc(crc: number): void;
}
type EngineCallback = (err: Error | null, entry?: ZipEngineEntry) => void;
interface ZipEngine {
  _appendStream(entry: ZipEngineEntry, source: NodeJS.ReadableStream, callback: EngineCallback): void;
  _writeLocalFileHeader(entry: ZipEngineEntry): void;
  _smartStream(entry: ZipEngineEntry, callback: EngineCallback): NodeJS.WritableStream;
}
const METHOD_STORED = 0;

/**
 * Makes `archive` write an entry stored from a stream the way it writes one stored from a Buffer, so that a
 * file read again for the zip gives the bytes it would from memory. Given a Buffer, archiver puts the size
 * and CRC in the local header; given a stream it cannot know them before the bytes, so it writes zeros there
 * and a data descriptor after them (16 bytes more, and "version needed" 2.0 instead of 1.0). We know both
 * from the snapshot: `next` is set to the size and CRC of the stored stream entry about to be appended, which
 * is then written as archiver's own Buffer path does (_appendBuffer), only with the bytes streamed; its
 * CRC32Stream computes the CRC and size again as they pass, into the central directory. Deflated entries need
 * nothing: archiver gives them a data descriptor either way, and zlib's output does not depend on how its
 * input was cut. This reaches into archiver 8's engine (compress-commons 7); a change there is caught by the
 * byte-for-byte tests in bundle-snapshot.test.ts, and meanwhile costs only a few bytes (see below).
 */
function storeStreamsLikeBuffers(archive: ZipArchive): { next: { size: number; crc32: number } | undefined } {
  const engine = (archive as unknown as { _module?: { engine?: Partial<ZipEngine> } })._module?.engine;
  const appendStream = engine?._appendStream;
  if (
    engine === undefined ||
    typeof appendStream !== 'function' ||
    typeof engine._writeLocalFileHeader !== 'function' ||
    typeof engine._smartStream !== 'function'
  ) {
    // Another archiver: its stored stream entries keep their data descriptor. The zip is still valid and the
    // same for the same folder on this machine, only not byte for byte the Buffer form, which the byte-for-byte
    // tests in bundle-snapshot.test.ts then report; a push must not fail for it.
    return { next: undefined };
  }
  const known: { next: { size: number; crc32: number } | undefined } = { next: undefined };
  engine._appendStream = function (this: ZipEngine, entry, source, callback) {
    const bytes = known.next;
    known.next = undefined;
    if (entry.getMethod() !== METHOD_STORED) {
      appendStream.call(this, entry, source, callback);
      return;
    }
    if (bytes === undefined) {
      callback(new VsyncError('INTERNAL', 'a stored stream entry without its size and CRC'));
      return;
    }
    entry.setSize(bytes.size);
    entry.setCompressedSize(bytes.size);
    entry.setCrc(bytes.crc32);
    this._writeLocalFileHeader(entry);
    source.pipe(this._smartStream(entry, callback));
  };
  return known;
}

/** The folder's files as one snapshot, in byte order of their UTF-8 names. */
async function snapshot(repoRoot: string, vaultFolder: string, options: ZipOptions) {
  const { onListed, onRead, keptBytes, ...limits } = options;
  const caps = resolveBundleLimits(limits);
  const prefix = vaultFolderPrefix(vaultFolder);
  const read: SnapshotOptions = {
    judge: { bytes: SAMPLE_BYTES, of: deflatePays },
    ...(onListed ? { onListed } : {}),
    ...(onRead ? { onRead } : {}),
    ...(keptBytes !== undefined ? { keptBytes } : {}),
  };
  const { files, ...listed } = await readFolderSnapshot(resolve(repoRoot), prefix, caps, read);
  files.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
  return { files, prefix, caps, ...listed };
}

/** treeDigest of the files by their names inside the vault folder. */
function digestOf(files: readonly SnapshotFile[], prefix: string): string {
  return treeDigest(files.map((f) => ({ name: f.name.slice(prefix.length + 1), sha256: f.sha256 })));
}
