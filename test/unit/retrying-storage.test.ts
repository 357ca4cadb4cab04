// Retry semantics over a store whose faults we script: a write that lands but whose answer is lost must
// end as success for its writer and as a precondition failure for everyone else.
import t from 'tap';
import { VsyncError } from '../../shared/errors.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import type { Storage } from '../../daemon/storage/storage.js';

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
    t.ok(store.seen.length >= 4 && store.seen.every((signal) => signal.aborted), 'every attempt was handed a signal, and each was aborted');
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
