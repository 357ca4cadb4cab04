// Retries transient failures for any adapter, with exponential backoff and jitter. Permanent failures,
// missing objects and failed preconditions are answers, not accidents, and pass through at once.
//
// A conditional write whose first attempt timed out may in fact have landed; its retry then fails the
// precondition against our own bytes. So after a transient failure, a failed precondition is checked
// against the stored object: if it holds exactly our bytes, the write was ours and succeeded.
import { setTimeout as sleep } from 'node:timers/promises';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { ListedObject, ObjectHead, ReadLimit, Storage, StoredObject, WriteResult } from './storage.js';

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Told of each retry, for the agent's log and events. */
  readonly onRetry?: (what: string, attempt: number, error: Error) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 3_000 };

export class RetryingStorage implements Storage {
  constructor(
    readonly inner: Storage,
    private readonly policy: RetryPolicy = DEFAULT_RETRY,
  ) {}

  describe(key: string): string {
    return this.inner.describe(key);
  }

  private async retry<T>(what: string, run: () => Promise<T>, afterTransient?: (err: unknown) => Promise<T>): Promise<T> {
    let hadTransient = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        if (hadTransient && afterTransient && isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) return afterTransient(err);
        if (!isVsyncError(err, 'STORAGE_TRANSIENT') || attempt >= this.policy.attempts) throw err;
        hadTransient = true;
        this.policy.onRetry?.(what, attempt, err);
        const delay = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
        await sleep(delay * (0.5 + Math.random() / 2));
      }
    }
  }

  /**
   * After a lost response: is the object there with exactly our bytes? Then the write was ours. When that
   * cannot be read either, the outcome is unknown, which is transient, not a lost race.
   */
  private landed(key: string, body: Buffer) {
    return async (refusal: unknown): Promise<WriteResult> => {
      let stored: StoredObject;
      try {
        stored = await this.get(key);
      } catch (err) {
        if (isVsyncError(err, 'STORAGE_NOT_FOUND')) throw refusal;
        throw new VsyncError('STORAGE_TRANSIENT', `the outcome of writing ${key} is unknown: it could not be read back`, { cause: err });
      }
      if (stored.body.equals(body)) return { etag: stored.etag };
      throw refusal;
    };
  }

  get(key: string, limit?: ReadLimit): Promise<StoredObject> {
    return this.retry(`get ${key}`, () => this.inner.get(key, limit));
  }

  getIfChanged(key: string, etag: string, limit?: ReadLimit): Promise<StoredObject | undefined> {
    return this.retry(`get ${key}`, () => this.inner.getIfChanged(key, etag, limit));
  }

  head(key: string): Promise<ObjectHead> {
    return this.retry(`head ${key}`, () => this.inner.head(key));
  }

  put(key: string, body: Buffer): Promise<WriteResult> {
    return this.retry(`put ${key}`, () => this.inner.put(key, body));
  }

  putIfAbsent(key: string, body: Buffer): Promise<WriteResult> {
    return this.retry(`put ${key}`, () => this.inner.putIfAbsent(key, body), this.landed(key, body));
  }

  putIfMatch(key: string, body: Buffer, etag: string): Promise<WriteResult> {
    return this.retry(`put ${key}`, () => this.inner.putIfMatch(key, body, etag), this.landed(key, body));
  }

  list(prefix: string): Promise<ListedObject[]> {
    return this.retry(`list ${prefix}`, () => this.inner.list(prefix));
  }

  delete(key: string): Promise<void> {
    return this.retry(`delete ${key}`, () => this.inner.delete(key));
  }
}
