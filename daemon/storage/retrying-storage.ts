// Retries transient failures for any adapter, with exponential backoff and jitter, and bounds every call in
// time. Permanent failures, missing objects and failed preconditions are answers, not accidents, and pass
// through at once.
//
// A conditional write whose first attempt timed out may in fact have landed; its retry then fails the
// precondition against our own bytes. So after a transient failure, a failed precondition is checked
// against the stored object: if it holds exactly our bytes, the write was ours and succeeded.
//
// A store that hangs (accepts the connection and never answers, or stops halfway through a body) must not
// hang the vault: each call, all its attempts and waits included, ends within `budgetMs`. The attempt in
// flight is aborted through its signal; an adapter that cannot cancel (a hung local file system) is simply
// no longer waited for.
import { setTimeout as sleep } from 'node:timers/promises';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { CallOptions, ListedObject, ObjectHead, ReadOptions, Storage, StoredObject, WriteResult } from './storage.js';

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Every call, all attempts and waits included, ends within this (STORAGE_TRANSIENT when it passes). */
  readonly budgetMs: number;
  /** Told of each retry, for the agent's log and events. */
  readonly onRetry?: (what: string, attempt: number, error: Error) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 3_000, budgetMs: 60_000 };

export class RetryingStorage implements Storage {
  private readonly policy: RetryPolicy;

  /** `policy`: what differs from DEFAULT_RETRY. */
  constructor(
    readonly inner: Storage,
    policy: Partial<RetryPolicy> = {},
  ) {
    this.policy = { ...DEFAULT_RETRY, ...policy };
  }

  describe(key: string): string {
    return this.inner.describe(key);
  }

  private async retry<T>(
    what: string,
    caller: CallOptions | undefined,
    run: (options: CallOptions) => Promise<T>,
    afterTransient?: (err: unknown) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + this.policy.budgetMs;
    let hadTransient = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.bounded(what, deadline - Date.now(), caller?.signal, run);
      } catch (err) {
        if (hadTransient && afterTransient && isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) return afterTransient(err);
        if (!isVsyncError(err, 'STORAGE_TRANSIENT') || attempt >= this.policy.attempts || caller?.signal?.aborted) throw err;
        const delay = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        // No attempt starts that could not have a fair share of the budget left.
        if (Date.now() + delay >= deadline - this.policy.baseDelayMs) throw err;
        hadTransient = true;
        this.policy.onRetry?.(what, attempt, err);
        await sleep(delay, undefined, caller?.signal ? { signal: caller.signal } : {}).catch(() => undefined);
        if (caller?.signal?.aborted) throw err;
      }
    }
  }

  /** One attempt, aborted (and no longer waited for) after `ms` or when the caller's signal fires. */
  private async bounded<T>(
    what: string,
    ms: number,
    callerSignal: AbortSignal | undefined,
    run: (options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const seconds = Math.round(this.policy.budgetMs / 100) / 10;
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new VsyncError('STORAGE_TRANSIENT', `${what}: the store did not answer within ${seconds} s`)),
      Math.max(0, ms),
    );
    const signal = callerSignal ? AbortSignal.any([timeout.signal, callerSignal]) : timeout.signal;
    let stop: () => void = () => undefined;
    const stopped = new Promise<never>((_, reject) => {
      stop = () =>
        reject(
          signal.reason instanceof VsyncError
            ? signal.reason
            : new VsyncError('STORAGE_TRANSIENT', `${what}: cancelled`, { cause: signal.reason }),
        );
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
    try {
      return await Promise.race([run({ signal }), stopped]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
  }

  /**
   * After a lost response: is the object there with exactly our bytes? Then the write was ours. When that
   * cannot be read either, the outcome is unknown, which is transient, not a lost race.
   */
  private landed(key: string, body: Buffer, caller: CallOptions | undefined) {
    return async (refusal: unknown): Promise<WriteResult> => {
      let stored: StoredObject;
      try {
        stored = await this.get(key, caller);
      } catch (err) {
        if (isVsyncError(err, 'STORAGE_NOT_FOUND')) throw refusal;
        throw new VsyncError('STORAGE_TRANSIENT', `the outcome of writing ${key} is unknown: it could not be read back`, { cause: err });
      }
      if (stored.body.equals(body)) return { etag: stored.etag };
      throw refusal;
    };
  }

  get(key: string, options?: ReadOptions): Promise<StoredObject> {
    return this.retry(`get ${key}`, options, (o) => this.inner.get(key, { ...options, ...o }));
  }

  getIfChanged(key: string, etag: string, options?: ReadOptions): Promise<StoredObject | undefined> {
    return this.retry(`get ${key}`, options, (o) => this.inner.getIfChanged(key, etag, { ...options, ...o }));
  }

  head(key: string, options?: CallOptions): Promise<ObjectHead> {
    return this.retry(`head ${key}`, options, (o) => this.inner.head(key, o));
  }

  put(key: string, body: Buffer, options?: CallOptions): Promise<WriteResult> {
    return this.retry(`put ${key}`, options, (o) => this.inner.put(key, body, o));
  }

  putIfAbsent(key: string, body: Buffer, options?: CallOptions): Promise<WriteResult> {
    return this.retry(`put ${key}`, options, (o) => this.inner.putIfAbsent(key, body, o), this.landed(key, body, options));
  }

  putIfMatch(key: string, body: Buffer, etag: string, options?: CallOptions): Promise<WriteResult> {
    return this.retry(`put ${key}`, options, (o) => this.inner.putIfMatch(key, body, etag, o), this.landed(key, body, options));
  }

  list(prefix: string, options?: CallOptions): Promise<ListedObject[]> {
    return this.retry(`list ${prefix}`, options, (o) => this.inner.list(prefix, o));
  }

  delete(key: string, options?: CallOptions): Promise<void> {
    return this.retry(`delete ${key}`, options, (o) => this.inner.delete(key, o));
  }
}
