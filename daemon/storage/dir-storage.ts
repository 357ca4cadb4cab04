// The embedded default store: each key is a file under a root folder, with the same layout as the bucket
// (`<root>/<repo>/<env>/versions/<ts>.enc`, `<root>/<repo>/<env>/latest`), so a user can look inside with
// `ls` and move to S3 with `aws s3 sync`.
//
// How the contract holds across processes:
// - every write goes to a dot-prefixed temp file, is fsynced, then renamed or linked into place, and the
//   folder is fsynced (and so are folders just created): readers see old bytes or new, and a crash leaves
//   no torn object and loses no object that was reported written;
// - putIfAbsent links the temp file to the key: link(2) fails with EEXIST when the name is taken, so exactly
//   one of any number of writers wins, without a lock; a FileBody is copied into the temp file as
//   file-body.ts reads it;
// - put, putIfMatch and delete read, compare and rename under the key's lock (fs/lock-file.ts);
// - a download reads one open file descriptor: an object is only ever replaced by a rename, so the open file
//   is a snapshot of it.
// ETags are the MD5 of the bytes, as S3 gives for single-part uploads.
import { createHash } from 'node:crypto';
import { open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { fillFileExclusive, syncFolder, writeFileAtomic, writeFileExclusive } from '../fs/atomic-write.js';
import { errnoOf, isErrno } from '../fs/errno.js';
import { LockFile, type LockFileOptions } from '../fs/lock-file.js';
import { makeFolders } from '../fs/make-folders.js';
import { assertValidKey, assertValidPrefix, byKey, cancelled, isValidKey, md5Etag, tooLarge } from './storage.js';
import { fileBodyChunks } from './file-body.js';
import type {
  Body,
  CallOptions,
  Consumer,
  FileBody,
  ListedObject,
  ObjectHead,
  ReadOptions,
  Storage,
  StoredObject,
  WriteResult,
} from './storage.js';

const READ_CHUNK_BYTES = 16 * 1024 * 1024;
// What a download hands its consumer at a time.
const STREAM_CHUNK_BYTES = 1024 * 1024;

/**
 * Filesystem failures that a retry can cure (a full disk freed, a busy file released) vs. ones it can't. With
 * the store's root, the hint is about that folder: the registry's STORAGE_* hints speak of buckets and
 * credentials, which a directory store has none of.
 */
function fsError(err: unknown, what: string, root?: string): VsyncError {
  if (err instanceof VsyncError) return err;
  const code = errnoOf(err) ?? 'unknown';
  const transient = ['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ENOSPC', 'EINTR', 'ETIMEDOUT'].includes(code);
  const hint = root === undefined ? undefined : folderHint(code, root);
  return new VsyncError(transient ? 'STORAGE_TRANSIENT' : 'STORAGE_PERMANENT', `${what}: ${code}`, {
    cause: err,
    ...(hint ? { hint } : {}),
  });
}

/** What to do about the store's folder, by the errno the file system answered. */
export function folderHint(code: string, root: string): string {
  const elsewhere = `the vault keeps its versions in this folder (\`vsync init <env> --store <folder>\` chose it; it is in the vault's config)`;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return `this user may not read or write the store folder ${root} or a folder in it: check their owner and permissions (\`ls -ld ${root}\`); ${elsewhere}`;
    case 'EROFS':
      return `the store folder ${root} is on a read-only file system: mount it read-write; under the systemd service, a folder outside your home and /tmp needs a ReadWritePaths= drop-in (systemd/README.md); ${elsewhere}`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `the disk that holds the store folder ${root} is full (or your quota there is used up): free some space, then try again`;
    case 'ENOTDIR':
    case 'EEXIST':
    case 'EISDIR':
      return `a file stands where a folder of the store should be, at ${root} or under it: move that file away; ${elsewhere}`;
    case 'ENOENT':
      return `the store folder ${root}, or a folder above it, is missing: is the drive or network share it lives on mounted? ${elsewhere}`;
    case 'EBUSY':
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EINTR':
    case 'ETIMEDOUT':
      return `the file system of the store folder ${root} was busy; try again`;
    default:
      return `check the store folder ${root}: that it exists, that this user may write it, and that its disk has space`;
  }
}

/** The file's bytes; with a cap, judged by `size` first and never read past maxBytes + 1. */
async function readCapped(key: string, handle: FileHandle, size: number, max: number | undefined): Promise<Buffer> {
  if (max === undefined) return handle.readFile();
  if (size > max) throw tooLarge(key, max, size);
  // In chunks sized by the file, never by the cap: one read of a cap-sized buffer asked Node for more than
  // 2 GiB at once when the cap was raised that far, which aborts the whole process (a native assertion).
  const chunks: Buffer[] = [];
  let length = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, max + 1 - length, Math.max(size + 1 - length, 64 * 1024)));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    length += bytesRead;
    // The file may grow while it is read: more than the cap is refused as soon as it is seen.
    if (length > max) throw tooLarge(key, max);
    chunks.push(chunk.subarray(0, bytesRead));
  }
  return Buffer.concat(chunks, length);
}

/** Size and MD5 ETag of the file, read 64 KiB at a time. */
async function hashFile(handle: FileHandle): Promise<{ size: number; etag: string }> {
  const hash = createHash('md5');
  const chunk = Buffer.alloc(1 << 16);
  let size = 0;
  for (let n = -1; n !== 0; size += n) {
    n = (await handle.read(chunk, 0, chunk.length, null)).bytesRead;
    hash.update(chunk.subarray(0, n));
  }
  return { size, etag: hash.digest('hex') };
}

/**
 * The file's bytes from its start, in fresh buffers of up to 1 MiB, read by position so that one handle can
 * be read through twice. With a cap, a file that has grown past it is cut off at the first byte over.
 */
async function* chunksOf(
  key: string,
  handle: FileHandle,
  size: number,
  max: number | undefined,
  signal: AbortSignal | undefined,
  root: string,
) {
  for (let position = 0; ; ) {
    if (signal?.aborted) throw cancelled(`reading ${key}`, signal);
    // Sized by the file (plus a byte, to see its end), so a small object is not handed out in a 1 MiB buffer.
    let length = Math.min(STREAM_CHUNK_BYTES, Math.max(size + 1 - position, 64 * 1024));
    if (max !== undefined) length = Math.min(length, max + 1 - position);
    const chunk = Buffer.allocUnsafe(length);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(chunk, 0, length, position));
    } catch (err) {
      throw fsError(err, `reading ${key}`, root);
    }
    if (bytesRead === 0) return;
    position += bytesRead;
    if (max !== undefined && position > max) throw tooLarge(key, max);
    yield chunk.subarray(0, bytesRead);
  }
}

/**
 * The body a download's consumer reads: the bytes whose size and ETag it was told. A file that came out
 * shorter (truncated in place) or different (rewritten in place, which vsync never does) fails at its end.
 */
async function* snapshot(key: string, handle: FileHandle, info: { size: number; etag: string }, options: ReadOptions, root: string) {
  const hash = createHash('md5');
  let length = 0;
  for await (const chunk of chunksOf(key, handle, info.size, options.maxBytes, options.signal, root)) {
    hash.update(chunk);
    length += chunk.length;
    yield chunk;
  }
  if (length < info.size) {
    throw new VsyncError('STORAGE_TRANSIENT', `${key} ended after ${length} of its ${info.size} bytes: it was truncated while read`);
  }
  if (length !== info.size || hash.digest('hex') !== info.etag) {
    throw new VsyncError('STORAGE_TRANSIENT', `${key} changed while it was read`);
  }
}

/** Writes all of `chunk`: one write may take fewer bytes than it was given. */
async function writeAll(into: FileHandle, chunk: Buffer): Promise<void> {
  for (let at = 0; at < chunk.length; ) at += (await into.write(chunk, at, chunk.length - at)).bytesWritten;
}

/** Copies `body`'s file (file-body.ts: exactly its size, and past its inspector) into `into`; returns the MD5 of the copy. */
async function copyFile(key: string, body: FileBody, into: FileHandle, signal: AbortSignal | undefined): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of fileBodyChunks(body, `writing ${key}`, signal)) {
    hash.update(chunk);
    await writeAll(into, chunk);
  }
  return hash.digest('hex');
}

// A key that names a folder (`acme/dev` while `acme/dev/latest` exists) is no object, as on S3.
const ABSENT = ['ENOENT', 'ENOTDIR', 'EISDIR'];

export class DirStorage implements Storage {
  readonly root: string;
  private readonly lockOptions: LockFileOptions;

  constructor(root: string, lockOptions: Pick<LockFileOptions, 'waitMs'> = {}) {
    if (!isAbsolute(root)) throw new VsyncError('STORAGE_CONFIG_INVALID', `the store folder must be absolute: ${root}`);
    this.root = root;
    this.lockOptions = lockOptions;
  }

  describe(key: string): string {
    return pathToFileURL(join(this.root, key)).href;
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split('/'));
  }

  /**
   * Body, ETag and mtime from one open file, so the three describe the same version of the object. With a
   * cap, the file's size is judged before a byte is read, and a file that grows past it while being read is
   * cut off there: never more than maxBytes + 1 bytes are held.
   */
  private async read(key: string, limit?: ReadOptions): Promise<{ body: Buffer; etag: string; mtime: Date }> {
    return this.withFile(key, async (handle, info) => {
      const body = await readCapped(key, handle, info.size, limit?.maxBytes);
      return { body, etag: md5Etag(body), mtime: info.mtime };
    });
  }

  private async withFile<T>(key: string, use: (handle: FileHandle, info: { size: number; mtime: Date }) => Promise<T>): Promise<T> {
    const { handle, info } = await this.openObject(key);
    try {
      return await use(handle, info);
    } catch (err) {
      throw fsError(err, `reading ${key}`, this.root);
    } finally {
      await handle.close();
    }
  }

  /** The object's file, open for reading, and its size and mtime. */
  private async openObject(key: string): Promise<{ handle: FileHandle; info: { size: number; mtime: Date } }> {
    const path = this.pathOf(key);
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      const info = await handle.stat();
      if (!info.isFile()) throw new VsyncError('STORAGE_NOT_FOUND', key);
      return { handle, info };
    } catch (err) {
      await handle?.close().catch(() => undefined);
      if (isErrno(err, ...ABSENT)) throw new VsyncError('STORAGE_NOT_FOUND', key);
      throw fsError(err, `reading ${key}`, this.root);
    }
  }

  async get(key: string, limit?: ReadOptions): Promise<StoredObject> {
    const { body, etag } = await this.read(key, limit);
    return { body, etag };
  }

  async getIfChanged(key: string, etag: string, limit?: ReadOptions): Promise<StoredObject | undefined> {
    return this.withFile(key, async (handle, info) => {
      // Over the cap, only its hash is taken (in chunks): unchanged is still an answer, as a 304 is on S3.
      if (limit?.maxBytes !== undefined && info.size > limit.maxBytes) {
        if ((await hashFile(handle)).etag === etag) return undefined;
        throw tooLarge(key, limit.maxBytes, info.size);
      }
      const body = await readCapped(key, handle, info.size, limit?.maxBytes);
      const current = md5Etag(body);
      return current === etag ? undefined : { body, etag: current };
    });
  }

  /**
   * Two passes over one open file: the first hashes it, since the consumer is told the ETag before the first
   * byte, and the second hands the same bytes over (from the page cache, for any file that fits in it).
   */
  async download<T>(key: string, consume: Consumer<T>, options: ReadOptions = {}): Promise<T> {
    const { handle, info } = await this.openObject(key);
    try {
      const max = options.maxBytes;
      if (max !== undefined && info.size > max) throw tooLarge(key, max, info.size);
      options.onSize?.(info.size); // before the hash pass, which reads the whole file
      const hash = createHash('md5');
      let length = 0;
      for await (const chunk of chunksOf(key, handle, info.size, max, options.signal, this.root)) {
        hash.update(chunk);
        length += chunk.length;
      }
      if (length !== info.size) throw new VsyncError('STORAGE_TRANSIENT', `${key} changed while it was read`);
      const etag = hash.digest('hex');
      // The consumer's own errors pass through untouched: only the body's are this store's to classify.
      return await consume(snapshot(key, handle, { size: info.size, etag }, options, this.root), { size: info.size, etag });
    } finally {
      await handle.close();
    }
  }

  /** Hashes the file in chunks: a head of a huge object costs time, never memory. */
  async head(key: string): Promise<ObjectHead> {
    return this.withFile(key, async (handle, info) => ({ ...(await hashFile(handle)), lastModified: info.mtime }));
  }

  async put(key: string, body: Buffer): Promise<WriteResult> {
    return this.swap(key, body, () => true);
  }

  async putIfAbsent(key: string, body: Body, options: CallOptions = {}): Promise<WriteResult> {
    const path = this.pathOf(key);
    await this.ensureFolder(path);
    let created: boolean;
    let etag: string;
    try {
      if (Buffer.isBuffer(body)) {
        created = await writeFileExclusive(path, body);
        etag = md5Etag(body);
      } else {
        etag = '';
        created = await fillFileExclusive(path, async (handle) => {
          etag = await copyFile(key, body, handle, options.signal);
        });
      }
    } catch (err) {
      throw fsError(err, `writing ${key}`, this.root);
    }
    if (!created) throw new VsyncError('STORAGE_PRECONDITION_FAILED', `${key} already exists`);
    return { etag };
  }

  async putIfMatch(key: string, body: Buffer, etag: string): Promise<WriteResult> {
    return this.swap(key, body, (current) => current === etag, `${key} is not at ETag ${etag}`);
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    // Deleting under a folder that was never created is deleting nothing.
    if (!(await stat(dirname(path)).catch(() => undefined))) return;
    await this.lock(path).hold(async () => {
      try {
        await unlink(path);
      } catch (err) {
        if (isErrno(err, ...ABSENT)) return;
        throw fsError(err, `deleting ${key}`, this.root);
      }
      await syncFolder(dirname(path));
    });
  }

  async list(prefix: string): Promise<ListedObject[]> {
    assertValidPrefix(prefix);
    // Walk only the folder the prefix's complete segments name; the last, partial segment filters.
    const folderPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = folderPart ? join(this.root, ...folderPart.split('/')) : this.root;
    const found: ListedObject[] = [];
    await this.walk(start, prefix, found);
    return found.sort(byKey);
  }

  private async walk(folder: string, prefix: string, into: ListedObject[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw fsError(err, `listing ${prefix}`, this.root);
    }
    const files: Array<Promise<ListedObject | undefined>> = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // temp and lock files are not objects
      const path = join(folder, entry.name);
      const key = relative(this.root, path).split(sep).join('/');
      if (entry.isDirectory()) {
        // Descend only where keys below could still start with the prefix.
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix) || `${key}/`.startsWith(prefix)) {
          await this.walk(path, prefix, into);
        }
      } else if (entry.isFile() && key.startsWith(prefix) && isValidKey(key)) {
        // A file removed between readdir and stat was deleted meanwhile: not listed.
        files.push(
          stat(path).then(
            (info) => ({ key, size: info.size, lastModified: info.mtime }),
            () => undefined,
          ),
        );
      }
    }
    for (const found of await Promise.all(files)) if (found) into.push(found);
  }

  /** Creates the key's folder; fsyncs every folder it had to create, so a new object survives a crash. */
  private async ensureFolder(path: string): Promise<void> {
    const folder = dirname(path);
    try {
      const first = await makeFolders(folder, 0o700);
      if (first === undefined) return;
      for (let dir = folder; ; dir = dirname(dir)) {
        await syncFolder(dirname(dir));
        if (dir === first) break;
      }
    } catch (err) {
      throw fsError(err, `creating the folder for ${relative(this.root, path)}`, this.root);
    }
  }

  private lock(path: string): LockFile {
    return new LockFile(join(dirname(path), `.${path.slice(dirname(path).length + 1)}.lock`), this.lockOptions);
  }

  /** Replaces the object when `allowed(currentEtag)` holds, under the key's lock. */
  private async swap(key: string, body: Buffer, allowed: (current: string | undefined) => boolean, refusal = ''): Promise<WriteResult> {
    const path = this.pathOf(key);
    await this.ensureFolder(path);
    return this.lock(path).hold(async () => {
      const current = await this.read(key).then(
        (o) => o.etag,
        (err) => {
          if (isVsyncError(err, 'STORAGE_NOT_FOUND')) return undefined;
          throw err;
        },
      );
      if (!allowed(current)) throw new VsyncError('STORAGE_PRECONDITION_FAILED', refusal);
      try {
        await writeFileAtomic(path, body);
      } catch (err) {
        throw fsError(err, `writing ${key}`, this.root);
      }
      return { etag: md5Etag(body) };
    });
  }
}
