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
// no longer waited for. A transfer whose size is known (a download once the store declared it, a file
// upload from the start) cannot be held to a fixed time: each attempt at it gets `size / minBytesPerSecond`
// more, and still ends.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
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

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * Every call, all attempts and waits included, ends within this (STORAGE_TRANSIENT when it passes), plus,
   * for a transfer of known size, size / minBytesPerSecond for each attempt that makes it.
   */
  readonly budgetMs: number;
  /**
   * The slowest a transfer may go: a download's attempt gets size / this more time once the store declared the
   * size, a file upload's attempt from its start. Slower than this, a stalled transfer is told from a slow one.
   */
  readonly minBytesPerSecond: number;
  /** Told of each retry, for the agent's log and events. */
  readonly onRetry?: (what: string, attempt: number, error: Error) => void;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 3_000,
  budgetMs: 60_000,
  minBytesPerSecond: 1024 * 1024,
};

/** How a call's time runs out: its deadline, pushed back by each attempt's transfer allowance. */
interface Clock {
  deadline: number;
  extendedMs: number;
}

/** One attempt: the call with these options. `transfer(bytes)` claims the time a transfer of that size is allowed. */
type Attempt<T> = (options: CallOptions, transfer: (bytes: number) => void) => Promise<T>;

// setTimeout takes at most 2^31 - 1 ms; a longer deadline is waited for in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A consumer's own failure, carried through the adapter so that it is never retried, and unwrapped after. */
class ConsumerFailure {
  constructor(readonly error: unknown) {}
}

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
    run: Attempt<T>,
    afterTransient?: (err: unknown) => Promise<T>,
  ): Promise<T> {
    const clock: Clock = { deadline: Date.now() + this.policy.budgetMs, extendedMs: 0 };
    let hadTransient = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.bounded(what, clock, caller?.signal, run);
      } catch (err) {
        if (hadTransient && afterTransient && isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) return afterTransient(err);
        if (!isVsyncError(err, 'STORAGE_TRANSIENT') || attempt >= this.policy.attempts || caller?.signal?.aborted) throw err;
        const delay = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        // No attempt starts that could not have a fair share of the budget left.
        if (Date.now() + delay >= clock.deadline - this.policy.baseDelayMs) throw err;
        hadTransient = true;
        this.policy.onRetry?.(what, attempt, err);
        await sleep(delay, undefined, caller?.signal ? { signal: caller.signal } : {}).catch(() => undefined);
        if (caller?.signal?.aborted) throw err;
      }
    }
  }

  /**
   * One attempt, aborted (and no longer waited for) when the call's deadline passes or the caller's signal
   * fires. `transfer(bytes)` pushes the deadline back by the time a transfer of that size is allowed.
   */
  private async bounded<T>(what: string, clock: Clock, callerSignal: AbortSignal | undefined, run: Attempt<T>): Promise<T> {
    const timeout = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const expire = () => {
      const seconds = (ms: number) => Math.round(ms / 100) / 10;
      const budget = seconds(this.policy.budgetMs);
      const message =
        clock.extendedMs === 0
          ? `${what}: the store did not answer within ${budget} s`
          : `${what}: the transfer did not end within ${seconds(this.policy.budgetMs + clock.extendedMs)} s ` +
            `(${budget} s, and ${seconds(clock.extendedMs)} s for its bytes at ${this.policy.minBytesPerSecond} bytes/s)`;
      timeout.abort(new VsyncError('STORAGE_TRANSIENT', message));
    };
    const arm = () => {
      clearTimeout(timer);
      const left = clock.deadline - Date.now();
      timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(expire, Math.max(0, left));
    };
    arm();
    let over = false;
    const transfer = (bytes: number) => {
      // An attempt no longer waited for (it lost the race to its deadline or to the caller's signal) may
      // still reach its transfer: it arms nothing, or its timer would outlive the call.
      if (over || timeout.signal.aborted || !(bytes > 0)) return;
      const ms = Math.ceil((bytes / this.policy.minBytesPerSecond) * 1000);
      clock.deadline += ms;
      clock.extendedMs += ms;
      arm();
    };
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
      return await Promise.race([run({ signal }, transfer), stopped]);
    } finally {
      over = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
  }

  /**
   * After a lost response: is the object there with exactly our bytes? Then the write was ours. When that
   * cannot be read either, the outcome is unknown, which is transient, not a lost race. A file is compared by
   * streaming both it and the object through a hash, never holding either.
   */
  private landed(key: string, body: Body, caller: CallOptions | undefined) {
    return async (refusal: unknown): Promise<WriteResult> => {
      let stored: WriteResult | undefined;
      try {
        stored = Buffer.isBuffer(body) ? await this.sameBytes(key, body, caller) : await this.sameFile(key, body, caller);
      } catch (err) {
        if (isVsyncError(err, 'STORAGE_NOT_FOUND')) throw refusal;
        throw new VsyncError('STORAGE_TRANSIENT', `the outcome of writing ${key} is unknown: it could not be read back`, { cause: err });
      }
      if (stored) return stored;
      throw refusal;
    };
  }

  private async sameBytes(key: string, body: Buffer, caller: CallOptions | undefined): Promise<WriteResult | undefined> {
    const stored = await this.get(key, caller);
    return stored.body.equals(body) ? { etag: stored.etag } : undefined;
  }

  private async sameFile(key: string, file: FileBody, caller: CallOptions | undefined): Promise<WriteResult | undefined> {
    await file.growing?.beyond(Number.POSITIVE_INFINITY); // the whole file: its writer done
    const ours = await digest(createReadStream(file.path));
    return this.download(
      key,
      async (body, info) => (info.size === file.size && (await digest(body)) === ours ? { etag: info.etag } : undefined),
      caller,
    );
  }

  get(key: string, options?: ReadOptions): Promise<StoredObject> {
    return this.retry(`get ${key}`, options, (o) => this.inner.get(key, { ...options, ...o }));
  }

  getIfChanged(key: string, etag: string, options?: ReadOptions): Promise<StoredObject | undefined> {
    return this.retry(`get ${key}`, options, (o) => this.inner.getIfChanged(key, etag, { ...options, ...o }));
  }

  /**
   * Each attempt hands the consumer the body from its first byte. What the body throws (a truncated transfer)
   * is retried like any transient failure; what the consumer throws of its own is its answer, passed on as it
   * is and never retried.
   */
  async download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    try {
      return await this.retry(`download ${key}`, options, (o, transfer) => {
        // The allowance is claimed once an attempt: when the store declares the size, or at the latest when
        // the consumer is called (an adapter that does not call onSize).
        let claimed = false;
        const claim = (size: number) => {
          if (!claimed) transfer(size);
          claimed = true;
        };
        return this.inner.download(
          key,
          async (body, info) => {
            claim(info.size);
            const fromBody = new Set<unknown>();
            try {
              return await consume(rethrowing(body, fromBody), info);
            } catch (err) {
              throw fromBody.has(err) ? err : new ConsumerFailure(err);
            }
          },
          { ...options, ...o, onSize: claim },
        );
      });
    } catch (err) {
      throw err instanceof ConsumerFailure ? err.error : err;
    }
  }

  head(key: string, options?: CallOptions): Promise<ObjectHead> {
    return this.retry(`head ${key}`, options, (o) => this.inner.head(key, o));
  }

  put(key: string, body: Buffer, options?: CallOptions): Promise<WriteResult> {
    return this.retry(`put ${key}`, options, (o) => this.inner.put(key, body, o));
  }

  putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult> {
    return this.retry(
      `put ${key}`,
      options,
      (o, transfer) => {
        if (!Buffer.isBuffer(body)) transfer(body.size);
        return this.inner.putIfAbsent(key, body, o);
      },
      this.landed(key, body, options),
    );
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

/** `body`, noting each error it throws, so that one the consumer passes on can be told from its own. */
async function* rethrowing(body: AsyncIterable<Buffer>, thrown: Set<unknown>): AsyncGenerator<Buffer> {
  try {
    yield* body;
  } catch (err) {
    thrown.add(err);
    throw err;
  }
}

/** SHA-256 of a stream's bytes, taken as they pass. */
async function digest(chunks: AsyncIterable<Buffer>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}
