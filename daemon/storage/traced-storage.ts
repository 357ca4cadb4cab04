// Every request to a store as a span (trace/span.ts) named by its kind, `store.get`, `store.put-if-match`, …:
// what the agent-side breakdown of `npm run bench` lists beside the domain's own steps. Below RetryingStorage,
// so each attempt is its own span.
import { span } from '../trace/span.js';
import type { Body, CallOptions, Consumer, ListedObject, ObjectHead, ReadOptions, Storage, StoredObject, WriteResult } from './storage.js';

export class TracedStorage implements Storage {
  constructor(readonly inner: Storage) {}

  describe(key: string): string {
    return this.inner.describe(key);
  }

  get(key: string, options?: ReadOptions): Promise<StoredObject> {
    return span('store.get', () => this.inner.get(key, options));
  }

  getIfChanged(key: string, etag: string, options?: ReadOptions): Promise<StoredObject | undefined> {
    return span('store.get-if-changed', () => this.inner.getIfChanged(key, etag, options));
  }

  /** Its span holds the consumer's work too (a pull decrypts as the bytes arrive). */
  download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    return span('store.download', () => this.inner.download(key, consume, options));
  }

  head(key: string, options?: CallOptions): Promise<ObjectHead> {
    return span('store.head', () => this.inner.head(key, options));
  }

  put(key: string, body: Buffer, options?: CallOptions): Promise<WriteResult> {
    return span('store.put', () => this.inner.put(key, body, options));
  }

  putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult> {
    return span('store.put-if-absent', () => this.inner.putIfAbsent(key, body, options));
  }

  putIfMatch(key: string, body: Buffer, etag: string, options?: CallOptions): Promise<WriteResult> {
    return span('store.put-if-match', () => this.inner.putIfMatch(key, body, etag, options));
  }

  list(prefix: string, options?: CallOptions): Promise<ListedObject[]> {
    return span('store.list', () => this.inner.list(prefix, options));
  }

  delete(key: string, options?: CallOptions): Promise<void> {
    return span('store.delete', () => this.inner.delete(key, options));
  }
}
