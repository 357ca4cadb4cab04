// The embedded default store: each key is a file under a root folder, with the same layout as the bucket
// (`<root>/<repo>/<env>/versions/<ts>.enc`, `<root>/<repo>/<env>/latest`), so a user can look inside with
// `ls` and move to S3 with `aws s3 sync`.
//
// How the contract holds across processes:
// - every write goes to a dot-prefixed temp file, is fsynced, then renamed or linked into place, and the
//   folder is fsynced: readers see old bytes or new, and a crash leaves no torn object;
// - putIfAbsent links the temp file to the key: link(2) fails with EEXIST when the name is taken, so exactly
//   one of any number of writers wins, without a lock;
// - put, putIfMatch and delete compare-and-swap under a lock file `.<name>.lock` created with O_EXCL (the
//   way git guards its index). The critical section is a read and a rename; a lock older than
//   STALE_LOCK_MS is taken to be left by a crashed process and is broken.
// ETags are the MD5 of the bytes, as S3 gives for single-part uploads.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { VsyncError } from '../../shared/errors.js';
import { syncFolder, tempPathFor, writeFileExclusive, writeNewFileSynced } from '../fs/atomic-write.js';
import {
  isValidKey,
  isValidPrefix,
  type ListedObject,
  type ObjectHead,
  type Storage,
  type StoredObject,
  type WriteResult,
} from './storage.js';

const LOCK_WAIT_MS = 10_000;
const STALE_LOCK_MS = 30_000;

const md5 = (body: Buffer): string => createHash('md5').update(body).digest('hex');

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Filesystem failures that a retry can cure (a full disk freed, a busy file released) vs. ones it can't. */
function fsError(err: unknown, what: string): VsyncError {
  const code = errno(err) ?? 'unknown';
  const transient = ['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ENOSPC', 'EINTR', 'ETIMEDOUT'].includes(code);
  return new VsyncError(transient ? 'STORAGE_TRANSIENT' : 'STORAGE_PERMANENT', `${what}: ${code}`, { cause: err });
}

export class DirStorage implements Storage {
  readonly root: string;

  constructor(root: string) {
    if (!isAbsolute(root)) throw new VsyncError('STORAGE_CONFIG_INVALID', `the store folder must be absolute: ${root}`);
    this.root = root;
  }

  describe(key: string): string {
    return pathToFileURL(join(this.root, key)).href;
  }

  private pathOf(key: string): string {
    if (!isValidKey(key)) throw new VsyncError('STORAGE_PERMANENT', `invalid key ${JSON.stringify(key)}`);
    return join(this.root, ...key.split('/'));
  }

  async get(key: string): Promise<StoredObject> {
    const path = this.pathOf(key);
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') throw new VsyncError('STORAGE_NOT_FOUND', key);
      throw fsError(err, `reading ${key}`);
    }
    return { body, etag: md5(body) };
  }

  async head(key: string): Promise<ObjectHead> {
    const { body, etag } = await this.get(key);
    const info = await stat(this.pathOf(key)).catch(() => undefined);
    return { size: body.length, etag, lastModified: info?.mtime ?? new Date() };
  }

  async put(key: string, body: Buffer): Promise<WriteResult> {
    return this.swap(key, body, () => true);
  }

  async putIfAbsent(key: string, body: Buffer): Promise<WriteResult> {
    const path = this.pathOf(key);
    await this.ensureFolder(path);
    let created: boolean;
    try {
      created = await writeFileExclusive(path, body);
    } catch (err) {
      throw fsError(err, `writing ${key}`);
    }
    if (!created) throw new VsyncError('STORAGE_PRECONDITION_FAILED', `${key} already exists`);
    return { etag: md5(body) };
  }

  async putIfMatch(key: string, body: Buffer, etag: string): Promise<WriteResult> {
    return this.swap(key, body, (current) => current === etag, `${key} is not at ETag ${etag}`);
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await this.withLock(path, key, async () => {
      try {
        await unlink(path);
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        throw fsError(err, `deleting ${key}`);
      }
      await syncFolder(dirname(path));
    }).catch((err) => {
      // Deleting under a folder that was never created is deleting nothing.
      if (errno(err) === 'ENOENT') return;
      throw err;
    });
  }

  async list(prefix: string): Promise<ListedObject[]> {
    if (!isValidPrefix(prefix)) throw new VsyncError('STORAGE_PERMANENT', `invalid prefix ${JSON.stringify(prefix)}`);
    // Walk only the folder the prefix's complete segments name; the last, partial segment filters.
    const folderPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = folderPart ? join(this.root, ...folderPart.split('/')) : this.root;
    const found: ListedObject[] = [];
    await this.walk(start, prefix, found);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async walk(folder: string, prefix: string, into: ListedObject[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return;
      throw fsError(err, `listing ${prefix}`);
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
        files.push(stat(path).then((info) => ({ key, size: info.size, lastModified: info.mtime }), () => undefined));
      }
    }
    for (const found of await Promise.all(files)) if (found) into.push(found);
  }

  private async ensureFolder(path: string): Promise<void> {
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw fsError(err, `creating the folder for ${relative(this.root, path)}`);
    }
  }

  /** Replaces the object when `allowed(currentEtag)` holds, under the key's lock. */
  private async swap(
    key: string,
    body: Buffer,
    allowed: (current: string | undefined) => boolean,
    refusal = '',
  ): Promise<WriteResult> {
    const path = this.pathOf(key);
    await this.ensureFolder(path);
    return this.withLock(path, key, async () => {
      const current = await readFile(path).then(md5, (err) => {
        if (errno(err) === 'ENOENT') return undefined;
        throw fsError(err, `reading ${key}`);
      });
      if (!allowed(current)) throw new VsyncError('STORAGE_PRECONDITION_FAILED', refusal);
      const temp = tempPathFor(path);
      try {
        await writeNewFileSynced(temp, body);
        await rename(temp, path);
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw fsError(err, `writing ${key}`);
      }
      await syncFolder(dirname(path));
      return { etag: md5(body) };
    });
  }

  private async withLock<T>(path: string, key: string, critical: () => Promise<T>): Promise<T> {
    const lock = join(dirname(path), `.${path.slice(dirname(path).length + 1)}.lock`);
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(lock, 'wx', 0o600);
        await handle.close();
        break;
      } catch (err) {
        if (errno(err) !== 'EEXIST') {
          if (errno(err) === 'ENOENT') throw err;
          throw fsError(err, `locking ${key}`);
        }
      }
      const held = await stat(lock).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) {
        await unlink(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        throw new VsyncError('STORAGE_TRANSIENT', `${key} stayed locked for ${LOCK_WAIT_MS / 1000} s (${lock})`);
      }
      await sleep(Math.min(2 + attempt * 2, 50) * (0.5 + Math.random()));
    }
    try {
      return await critical();
    } finally {
      await unlink(lock).catch(() => undefined);
    }
  }
}
