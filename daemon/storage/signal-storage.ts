// One operation's view of a store: every call carries the operation's AbortSignal, so that cancelling the
// operation (its client went away, the agent is stopping) ends the store call in flight at once instead of
// at the store deadline. The domain code (push.ts, pull.ts, …) is unchanged: it passes its own options, and
// the operation's signal is joined to any signal those carry.
import type { Body, CallOptions, Consumer, ListedObject, ObjectHead, ReadOptions, Storage, StoredObject, WriteResult } from './storage.js';

export class SignalStorage implements Storage {
  constructor(
    readonly inner: Storage,
    readonly signal: AbortSignal,
  ) {}

  /** `options` with the operation's signal added; a call made after the abort fails before it starts. */
  private with<O extends CallOptions>(options: O | undefined): O {
    this.signal.throwIfAborted();
    const signal = options?.signal ? AbortSignal.any([options.signal, this.signal]) : this.signal;
    return { ...options, signal } as O;
  }

  describe(key: string): string {
    return this.inner.describe(key);
  }

  async get(key: string, options?: ReadOptions): Promise<StoredObject> {
    return this.inner.get(key, this.with(options));
  }

  async getIfChanged(key: string, etag: string, options?: ReadOptions): Promise<StoredObject | undefined> {
    return this.inner.getIfChanged(key, etag, this.with(options));
  }

  async download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    return this.inner.download(key, consume, this.with(options));
  }

  async head(key: string, options?: CallOptions): Promise<ObjectHead> {
    return this.inner.head(key, this.with(options));
  }

  async put(key: string, body: Buffer, options?: CallOptions): Promise<WriteResult> {
    return this.inner.put(key, body, this.with(options));
  }

  async putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult> {
    return this.inner.putIfAbsent(key, body, this.with(options));
  }

  async putIfMatch(key: string, body: Buffer, etag: string, options?: CallOptions): Promise<WriteResult> {
    return this.inner.putIfMatch(key, body, etag, this.with(options));
  }

  async list(prefix: string, options?: CallOptions): Promise<ListedObject[]> {
    return this.inner.list(prefix, this.with(options));
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    return this.inner.delete(key, this.with(options));
  }
}

/** `storage` as one operation sees it: every call also ends when `signal` aborts. */
export function withSignal(storage: Storage, signal: AbortSignal | undefined): Storage {
  return signal ? new SignalStorage(storage, signal) : storage;
}
