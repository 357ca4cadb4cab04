// Retry semantics over a store whose faults we script: a write that lands but whose answer is lost must
// end as success for its writer and as a precondition failure for everyone else.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import type { Consumer, DownloadInfo, FileBody, ReadOptions, Storage } from '../../daemon/storage/storage.js';
import type { TestContext } from '../helpers/tap-types.js';
import { tempBase } from '../helpers/vault-fixture.js';

const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 };

type Method = 'putIfAbsent' | 'putIfMatch' | 'get';

/**
 * Fails the next `n` calls of `method` with a transient error, after (landed) or instead of doing them;
 * `also` scripts more methods the same way.
 */
function flaky(inner: MemoryStorage, method: Method, n: number, landed: boolean, also: Partial<Record<Method, number>> = {}): Storage {
  const left: Partial<Record<string, number>> = { ...also, [method]: n };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !(prop in left) || typeof value !== 'function')
        return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        if (left[prop]! > 0) {
          left[prop]!--;
          if (landed && prop === method) await value.apply(target, args);
          throw new VsyncError('STORAGE_TRANSIENT', 'scripted fault');
        }
        return value.apply(target, args);
      };
    },
  });
}

t.test('a transient read is retried', async (t) => {
  const mem = new MemoryStorage();
  await mem.put('a/b', Buffer.from('x'));
  const calls: number[] = [];
  const s = new RetryingStorage(flaky(mem, 'get', 2, false), { ...fast, onRetry: (_w, n) => calls.push(n) });
  t.equal((await s.get('a/b')).body.toString(), 'x');
  t.same(calls, [1, 2]);
});

t.test('gives up after the last attempt with the transient error', async (t) => {
  const s = new RetryingStorage(flaky(new MemoryStorage(), 'get', 10, false), fast);
  await t.rejects(s.get('a/b'), { code: 'STORAGE_TRANSIENT' });
});

t.test('putIfAbsent that landed before its answer was lost: success', async (t) => {
  const mem = new MemoryStorage();
  const s = new RetryingStorage(flaky(mem, 'putIfAbsent', 1, true), fast);
  const result = await s.putIfAbsent('a/v.enc', Buffer.from('mine'));
  t.equal(result.etag, (await mem.get('a/v.enc')).etag);
});

t.test("putIfAbsent whose retry meets someone else's object: precondition failed", async (t) => {
  const mem = new MemoryStorage();
  const inner = flaky(mem, 'putIfAbsent', 1, false);
  await mem.put('a/v.enc', Buffer.from('theirs'));
  await t.rejects(new RetryingStorage(inner, fast).putIfAbsent('a/v.enc', Buffer.from('mine')), { code: 'STORAGE_PRECONDITION_FAILED' });
  t.equal((await mem.get('a/v.enc')).body.toString(), 'theirs');
});

t.test('putIfMatch that landed before its answer was lost: success', async (t) => {
  const mem = new MemoryStorage();
  const base = await mem.put('a/latest', Buffer.from('20260516-113304'));
  const s = new RetryingStorage(flaky(mem, 'putIfMatch', 1, true), fast);
  await s.putIfMatch('a/latest', Buffer.from('20260516-113305'), base.etag);
  t.equal((await mem.get('a/latest')).body.toString(), '20260516-113305');
});

t.test('a precondition failure without a transient one before it is not second-guessed', async (t) => {
  const mem = new MemoryStorage();
  await mem.put('a/v.enc', Buffer.from('same'));
  await t.rejects(
    new RetryingStorage(mem, fast).putIfAbsent('a/v.enc', Buffer.from('same')),
    { code: 'STORAGE_PRECONDITION_FAILED' },
    'identical bytes written earlier by someone else are still a refusal',
  );
});

t.test('when the object cannot be read back either, the outcome is unknown: transient', async (t) => {
  const mem = new MemoryStorage();
  await mem.put('a/v.enc', Buffer.from('theirs'));
  const inner = flaky(mem, 'putIfAbsent', 1, false, { get: 100 });
  await t.rejects(new RetryingStorage(inner, fast).putIfAbsent('a/v.enc', Buffer.from('mine')), {
    code: 'STORAGE_TRANSIENT',
    message: /outcome of writing a\/v\.enc is unknown/,
  });
});

// ---- deadlines: a store that hangs does not hang the caller ----

/** A store whose every call hangs until its signal aborts it (as the S3 adapter's requests do), or forever. */
function hung(honoursSignal: boolean): Storage & { seen: AbortSignal[] } {
  const seen: AbortSignal[] = [];
  const never = (options?: { signal?: AbortSignal }) =>
    new Promise<never>((_, reject) => {
      if (options?.signal) seen.push(options.signal);
      if (honoursSignal) options?.signal?.addEventListener('abort', () => reject(new Error('aborted by its signal')));
    });
  return {
    seen,
    describe: (key) => `hung:///${key}`,
    get: (_k, o) => never(o),
    getIfChanged: (_k, _e, o) => never(o),
    head: (_k, o) => never(o),
    put: (_k, _b, o) => never(o),
    download: (_k, _c, o) => never(o),
    putIfAbsent: (_k, _b, o) => never(o),
    putIfMatch: (_k, _b, _e, o) => never(o),
    list: (_p, o) => never(o),
    delete: (_k, o) => never(o),
  };
}

t.test('a call to a store that never answers ends STORAGE_TRANSIENT within its budget, retries included', async (t) => {
  for (const honours of [true, false]) {
    const store = hung(honours);
    const retries: number[] = [];
    const s = new RetryingStorage(store, {
      attempts: 4,
      baseDelayMs: 1,
      maxDelayMs: 2,
      budgetMs: 300,
      onRetry: (_w, n) => retries.push(n),
    });
    for (const call of [
      (): Promise<unknown> => s.get('a/latest'),
      () => s.download('a/v.enc', async () => 'never called'),
      () => s.putIfAbsent('a/v.enc', Buffer.from('x')),
      () => s.putIfMatch('a/latest', Buffer.from('y'), 'e'),
      () => s.list('a/'),
    ]) {
      await t.rejects(
        call(),
        { code: 'STORAGE_TRANSIENT', message: /the store did not answer within 0\.3 s/ },
        honours ? 'an adapter that cancels' : 'an adapter that cannot',
      );
    }
    t.ok(store.seen.length >= 5 && store.seen.every((signal) => signal.aborted), 'every attempt was handed a signal, and each was aborted');
    t.same(retries, [], 'the whole budget went to the first attempt: no retry was left time for');
  }
});

t.test('a caller that goes away cancels the call at once, and nothing is retried', async (t) => {
  const store = hung(true);
  const retries: number[] = [];
  const s = new RetryingStorage(store, { budgetMs: 3_600_000, onRetry: (_w, n) => retries.push(n) });
  const gone = new AbortController();
  const call = s.get('a/latest', { signal: gone.signal });
  gone.abort(new Error('the client hung up'));
  await t.rejects(call, { code: 'STORAGE_TRANSIENT', message: /get a\/latest: cancelled/ });
  t.ok(store.seen[0]?.aborted, "the adapter's request was aborted");
  t.same(retries, []);
});

t.test('a transient failure is retried while the budget lasts, with each retry told', async (t) => {
  const mem = new MemoryStorage();
  await mem.put('a/b', Buffer.from('x'));
  const told: string[] = [];
  const s = new RetryingStorage(flaky(mem, 'get', 3, false), {
    attempts: 5,
    baseDelayMs: 1,
    maxDelayMs: 2,
    budgetMs: 10_000,
    onRetry: (what, n, err) => told.push(`${what} ${n} ${(err as VsyncError).code}`),
  });
  t.equal((await s.get('a/b')).body.toString(), 'x');
  t.same(told, ['get a/b 1 STORAGE_TRANSIENT', 'get a/b 2 STORAGE_TRANSIENT', 'get a/b 3 STORAGE_TRANSIENT']);
});

// ---- downloads and file uploads ----

/** A file of `bytes` as a FileBody, removed when the test ends. */
function fileOf(t: TestContext, bytes: Buffer): FileBody {
  const { base, cleanup } = tempBase('vsync-retrying-');
  t.teardown(cleanup);
  const path = join(base, 'version.enc');
  writeFileSync(path, bytes);
  return { path, size: bytes.length };
}

/** A consumer that keeps what it was handed each time it was called, and returns the bytes. */
function keeper(): { consume: Consumer<Buffer>; calls: Buffer[][] } {
  const calls: Buffer[][] = [];
  return {
    calls,
    consume: async (body) => {
      const chunks: Buffer[] = [];
      calls.push(chunks);
      for await (const chunk of body) chunks.push(chunk);
      return Buffer.concat(chunks);
    },
  };
}

/**
 * `inner`, but the first `n` downloads break after their first chunk, as a connection cut short does: the
 * body throws STORAGE_TRANSIENT from the iteration, after the consumer has started.
 */
function truncating(inner: MemoryStorage, n: number): Storage {
  let left = n;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'download') return typeof value === 'function' ? value.bind(target) : value;
      return <T>(key: string, consume: Consumer<T>, options?: ReadOptions) =>
        target.download(
          key,
          (body, info) => {
            if (left <= 0) return consume(body, info);
            left--;
            return consume(
              (async function* () {
                for await (const chunk of body) {
                  yield chunk;
                  throw new VsyncError('STORAGE_TRANSIENT', `${key}: the store ended the body early (scripted)`);
                }
              })(),
              info,
            );
          },
          options,
        );
    },
  });
}

t.test('a download whose body is cut short is retried, and the consumer starts again from the first byte', async (t) => {
  const mem = new MemoryStorage();
  const body = randomBytes(64 * 1024);
  const written = await mem.put('a/v.enc', body);
  const told: string[] = [];
  const s = new RetryingStorage(truncating(mem, 2), {
    ...fast,
    onRetry: (what, n, err) => told.push(`${what} ${n} ${(err as VsyncError).code}`),
  });
  const { consume, calls } = keeper();
  const infos: DownloadInfo[] = [];
  const got = await s.download('a/v.enc', (chunks, info) => {
    infos.push(info);
    return consume(chunks, info);
  });
  t.ok(got.equals(body), 'the whole object in the end');
  t.equal(calls.length, 3, 'the consumer was called for each attempt');
  for (const [i, chunks] of calls.entries())
    t.ok(chunks[0]?.equals(body.subarray(0, chunks[0].length)), `attempt ${i + 1} began at byte 0`);
  t.same(infos, Array(3).fill({ size: body.length, etag: written.etag }), 'each told the size and ETag');
  t.same(told, ['download a/v.enc 1 STORAGE_TRANSIENT', 'download a/v.enc 2 STORAGE_TRANSIENT']);
});

t.test("a consumer's own failure is never retried, even a transient one, and passes through as it is", async (t) => {
  const mem = new MemoryStorage();
  await mem.put('a/v.enc', randomBytes(1024));
  let retried = 0;
  const s = new RetryingStorage(mem, { ...fast, onRetry: () => retried++ });
  for (const mine of [new Error('the disk is full'), new VsyncError('STORAGE_TRANSIENT', 'a store the consumer writes to'), 'a string']) {
    let calls = 0;
    let error: unknown;
    try {
      await s.download('a/v.enc', async (body) => {
        calls++;
        for await (const _chunk of body) throw mine;
      });
    } catch (err) {
      error = err;
    }
    t.equal(error, mine, `${String(mine)}: the same error`);
    t.equal(calls, 1, `${String(mine)}: the consumer was called once`);
  }
  t.equal(retried, 0);
});

t.test('a download whose body keeps failing gives up with the transient error after the last attempt', async (t) => {
  const mem = new MemoryStorage();
  await mem.put('a/v.enc', randomBytes(1024));
  const { consume, calls } = keeper();
  await t.rejects(new RetryingStorage(truncating(mem, 10), fast).download('a/v.enc', consume), {
    code: 'STORAGE_TRANSIENT',
    message: /ended the body early/,
  });
  t.equal(calls.length, 4, 'one consumer call per attempt');
});

/**
 * A store whose downloads declare `size` and then send nothing until `release()` (or their signal aborts),
 * and whose putIfAbsent does not answer until `release()`: a transfer that goes on and on.
 */
function slow(size: number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const wait = (signal: AbortSignal | undefined) =>
    new Promise<void>((resolve, reject) => {
      void released.then(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason));
    });
  const store: Partial<Storage> = {
    describe: (key) => `slow:///${key}`,
    download: async (_key, consume, options) =>
      consume(
        (async function* () {
          await wait(options?.signal);
          yield Buffer.alloc(size);
        })(),
        { size, etag: 'e' },
      ),
    putIfAbsent: async (_key, _body, options) => {
      await wait(options?.signal);
      return { etag: 'e' };
    },
  };
  return { store: store as Storage, release };
}

// No wall clock: a call that the budget alone bounds is started beside the one under test, and its end is
// the sign that the budget has passed for both.
t.test('a download gets size / minBytesPerSecond more than the budget, once the store declared the size', async (t) => {
  const policy = { attempts: 1, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 200, minBytesPerSecond: 1024 };
  const big = slow(3_600 * 1024); // an hour's worth at 1 KiB/s
  const control = slow(0);
  const consume: Consumer<number> = async (body) => {
    let n = 0;
    for await (const chunk of body) n += chunk.length;
    return n;
  };
  const transfer = new RetryingStorage(big.store, policy).download('a/v.enc', consume);
  await t.rejects(
    new RetryingStorage(control.store, policy).download('a/v.enc', consume),
    { code: 'STORAGE_TRANSIENT', message: /download a\/v\.enc: the store did not answer within 0\.2 s/ },
    'an empty object gets the budget only',
  );
  big.release();
  t.equal(await transfer, 3_600 * 1024, 'the large one was still going after the budget, and ended');
});

t.test('an extended transfer still ends: after the budget and its bytes, no sooner', async (t) => {
  const policy = { attempts: 1, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 100, minBytesPerSecond: 1000 };
  const { store } = slow(300); // 0.3 s at 1,000 bytes/s
  const started = Date.now();
  await t.rejects(
    new RetryingStorage(store, policy).download('a/v.enc', async (body) => {
      for await (const _chunk of body);
    }),
    {
      code: 'STORAGE_TRANSIENT',
      message: /download a\/v\.enc: the transfer did not end within 0\.4 s \(0\.1 s, and 0\.3 s for its bytes at 1000 bytes\/s\)/,
    },
  );
  // Timers never fire early (give or take the millisecond Node rounds to): a lower bound is not a race.
  t.ok(Date.now() - started >= 400 - 5, `not before budget + size / rate (${Date.now() - started} ms)`);
});

t.test('a file upload gets size / minBytesPerSecond more than the budget from its start', async (t) => {
  const policy = { attempts: 1, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 200, minBytesPerSecond: 1 };
  const big = slow(0);
  const control = slow(0);
  const upload = new RetryingStorage(big.store, policy).putIfAbsent('a/v.enc', { path: '/nonexistent/not-read', size: 3_600 });
  await t.rejects(
    new RetryingStorage(control.store, policy).putIfAbsent('a/v.enc', Buffer.alloc(3_600)),
    { code: 'STORAGE_TRANSIENT', message: /the store did not answer within 0\.2 s/ },
    'bytes in memory get the budget only',
  );
  big.release();
  t.same(await upload, { etag: 'e' }, 'the file upload was still going after the budget, and ended');
});

t.test('a FileBody putIfAbsent that landed before its answer was lost: success, the file and object compared', async (t) => {
  const mem = new MemoryStorage();
  const file = fileOf(t, randomBytes(300 * 1024));
  const s = new RetryingStorage(flaky(mem, 'putIfAbsent', 1, true), fast);
  const result = await s.putIfAbsent('a/v.enc', file);
  t.equal(result.etag, (await mem.get('a/v.enc')).etag);
});

t.test("a FileBody putIfAbsent whose retry meets someone else's object: precondition failed", async (t) => {
  const bytes = randomBytes(300 * 1024);
  for (const [what, theirs] of [
    ['other bytes of the same size', randomBytes(bytes.length)],
    ['a different size', bytes.subarray(1)],
  ] as const) {
    const mem = new MemoryStorage();
    await mem.put('a/v.enc', theirs);
    const inner = flaky(mem, 'putIfAbsent', 1, false);
    await t.rejects(
      new RetryingStorage(inner, fast).putIfAbsent('a/v.enc', fileOf(t, bytes)),
      { code: 'STORAGE_PRECONDITION_FAILED' },
      what,
    );
    t.ok((await mem.get('a/v.enc')).body.equals(theirs), `${what}: theirs stays`);
  }
});

t.test('a download no longer waited for that reaches its consumer later arms no timer that outlives the call', async (t) => {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let reached: () => void = () => undefined;
  const consumerReached = new Promise<void>((resolve) => (reached = resolve));
  const inner = new MemoryStorage();
  await inner.put('r/dev/versions/20260516-113304.enc', randomBytes(4096));
  // The store answers only after the caller has gone: the consumer (and its size) come after the call ended.
  const late = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'download') return typeof value === 'function' ? value.bind(target) : value;
      return async (key: string, consume: Consumer<unknown>, options?: ReadOptions) => {
        await gate;
        return target.download(key, consume, options);
      };
    },
  });
  // A budget far beyond the test: a timer it arms would keep the process alive for an hour.
  const store = new RetryingStorage(late, { ...fast, budgetMs: 3_600_000 });
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const cancel = new AbortController();
  const call = store.download(
    'r/dev/versions/20260516-113304.enc',
    async (body) => {
      reached();
      for await (const _ of body);
    },
    { signal: cancel.signal },
  );
  cancel.abort(new VsyncError('AGENT_OPERATION_CANCELLED', 'test'));
  await t.rejects(call, { code: 'AGENT_OPERATION_CANCELLED' });
  open();
  await consumerReached;
  t.equal(timers(), before, 'no timer left behind');
});

t.test('a download whose store declares the size before long work (onSize) has its allowance from then', async (t) => {
  const policy = { attempts: 1, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 200, minBytesPerSecond: 1024 };
  const size = 3_600 * 1024;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  // As the directory store does: the size from fstat, then a whole-file pass, only then the consumer.
  const store = {
    describe: (key: string) => `slow:///${key}`,
    download: async (_key: string, consume: Consumer<number>, options?: ReadOptions) => {
      options?.onSize?.(size);
      await new Promise<void>((resolve, reject) => {
        void released.then(resolve);
        options?.signal?.addEventListener('abort', () => reject(options.signal!.reason));
      });
      return consume((async function* () {})(), { size, etag: 'e' });
    },
  } as unknown as Storage;
  const transfer = new RetryingStorage(store, policy).download('a/v.enc', async () => 1);
  const consume: Consumer<number> = async (body) => {
    for await (const _ of body);
    return 0;
  };
  await t.rejects(
    new RetryingStorage(slow(0).store, policy).download('a/v.enc', consume),
    { code: 'STORAGE_TRANSIENT' },
    'the budget alone has passed',
  );
  release();
  t.equal(await transfer, 1, 'the download, told its size before its long pass, was still allowed to go on');
});
