// A store whose adapter is loaded on its first call. The S3 SDK is ~25 MiB of the agent's memory and a fifth
// of its start-up: an agent that only ever serves vaults on the directory store never loads it, and one
// that does loads it when an S3 vault is first used. `describe` needs no adapter, so a vault can be named
// (init's answer, step lines) before anything is loaded.
import type { Body, CallOptions, Consumer, ListedObject, ObjectHead, ReadOptions, Storage, StoredObject, WriteResult } from './storage.js';

export class LazyStorage implements Storage {
  private loading: Promise<Storage> | undefined;

  constructor(
    private readonly name: (key: string) => string,
    private readonly load: () => Promise<Storage>,
  ) {}

  /** The adapter: one load shared by concurrent first calls; a load that failed is tried again next call. */
  private adapter(): Promise<Storage> {
    if (!this.loading) {
      const loading = this.load();
      this.loading = loading;
      loading.catch(() => {
        if (this.loading === loading) this.loading = undefined;
      });
    }
    return this.loading;
  }

  describe(key: string): string {
    return this.name(key);
  }

  async get(key: string, options?: ReadOptions): Promise<StoredObject> {
    return (await this.adapter()).get(key, options);
  }

  async getIfChanged(key: string, etag: string, options?: ReadOptions): Promise<StoredObject | undefined> {
    return (await this.adapter()).getIfChanged(key, etag, options);
  }

  async download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    return (await this.adapter()).download(key, consume, options);
  }

  async head(key: string, options?: CallOptions): Promise<ObjectHead> {
    return (await this.adapter()).head(key, options);
  }

  async put(key: string, body: Buffer, options?: CallOptions): Promise<WriteResult> {
    return (await this.adapter()).put(key, body, options);
  }

  async putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult> {
    return (await this.adapter()).putIfAbsent(key, body, options);
  }

  async putIfMatch(key: string, body: Buffer, etag: string, options?: CallOptions): Promise<WriteResult> {
    return (await this.adapter()).putIfMatch(key, body, etag, options);
  }

  async list(prefix: string, options?: CallOptions): Promise<ListedObject[]> {
    return (await this.adapter()).list(prefix, options);
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    return (await this.adapter()).delete(key, options);
  }
}
