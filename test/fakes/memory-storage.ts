// An in-memory Storage for unit tests of domain logic. It passes the same contract suite as the real
// adapters (test/contract/), so a test that passes against it is not passing against a looser fake.
import { VsyncError } from '../../shared/errors.js';
import { assertValidKey, assertValidPrefix, byKey, md5Etag, tooLarge } from '../../daemon/storage/storage.js';
import { fileBodyChunks } from '../../daemon/storage/file-body.js';
import type {
  Body,
  Consumer,
  FileBody,
  ListedObject,
  ObjectHead,
  ReadOptions,
  Storage,
  StoredObject,
  WriteResult,
} from '../../daemon/storage/storage.js';

/** The body handed out by download: a few chunks, as a store's transfer arrives; an abort ends it. */
async function* inChunks(key: string, body: Buffer, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const size = Math.max(1, Math.ceil(body.length / 4));
  for (let at = 0; at < body.length; at += size) {
    await Promise.resolve();
    if (signal?.aborted) throw new VsyncError('STORAGE_TRANSIENT', `${key}: cancelled`, { cause: signal.reason });
    yield Buffer.from(body.subarray(at, at + size));
  }
}

interface Entry {
  body: Buffer;
  etag: string;
  lastModified: Date;
}

export class MemoryStorage implements Storage {
  private readonly objects = new Map<string, Entry>();

  describe(key: string): string {
    return `memory:///${key}`;
  }

  private check(key: string): void {
    assertValidKey(key);
  }

  private entry(key: string): Entry {
    this.check(key);
    const entry = this.objects.get(key);
    if (!entry) throw new VsyncError('STORAGE_NOT_FOUND', key);
    return entry;
  }

  private store(key: string, body: Buffer): WriteResult {
    const etag = md5Etag(body);
    this.objects.set(key, { body: Buffer.from(body), etag, lastModified: new Date() });
    return { etag };
  }

  private capped(key: string, entry: Entry, limit: ReadOptions | undefined): Entry {
    if (limit?.maxBytes !== undefined && entry.body.length > limit.maxBytes) throw tooLarge(key, limit.maxBytes, entry.body.length);
    return entry;
  }

  async get(key: string, limit?: ReadOptions): Promise<StoredObject> {
    const { body, etag } = this.capped(key, this.entry(key), limit);
    return { body: Buffer.from(body), etag };
  }

  async getIfChanged(key: string, etag: string, limit?: ReadOptions): Promise<StoredObject | undefined> {
    const current = this.entry(key);
    if (current.etag === etag) return undefined;
    this.capped(key, current, limit);
    return { body: Buffer.from(current.body), etag: current.etag };
  }

  async download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    const { body, etag } = this.capped(key, this.entry(key), options);
    return consume(inChunks(key, body, options?.signal), { size: body.length, etag });
  }

  async head(key: string): Promise<ObjectHead> {
    const { body, etag, lastModified } = this.entry(key);
    return { size: body.length, etag, lastModified };
  }

  async put(key: string, body: Buffer): Promise<WriteResult> {
    this.check(key);
    return this.store(key, body);
  }

  async putIfAbsent(key: string, body: Body): Promise<WriteResult> {
    this.check(key);
    // The file is read as the real stores read it (its size, its inspector); the check and the write below
    // still happen in one turn, with no await between.
    const bytes = Buffer.isBuffer(body) ? body : await readFileBody(body, key);
    if (this.objects.has(key)) throw new VsyncError('STORAGE_PRECONDITION_FAILED', `${key} already exists`);
    return this.store(key, bytes);
  }

  async putIfMatch(key: string, body: Buffer, etag: string): Promise<WriteResult> {
    this.check(key);
    if (this.objects.get(key)?.etag !== etag) throw new VsyncError('STORAGE_PRECONDITION_FAILED', `${key} is not at ETag ${etag}`);
    return this.store(key, body);
  }

  async list(prefix: string): Promise<ListedObject[]> {
    assertValidPrefix(prefix);
    return [...this.objects]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, e]) => ({ key, size: e.body.length, lastModified: e.lastModified }))
      .sort(byKey);
  }

  async delete(key: string): Promise<void> {
    this.check(key);
    this.objects.delete(key);
  }
}

async function readFileBody(body: FileBody, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of fileBodyChunks(body, `writing ${key}`)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
