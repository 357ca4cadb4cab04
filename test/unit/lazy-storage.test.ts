// LazyStorage (daemon/storage/lazy-storage.ts): a store whose adapter is loaded at its first call. It names
// keys without loading, loads once however many first calls race, passes every call and its options
// through, and a load that failed (a module that could not be read) is tried again by the next call.
import t from 'tap';
import { LazyStorage } from '../../daemon/storage/lazy-storage.js';
import type { CallOptions, Storage } from '../../daemon/storage/storage.js';
import type { VsyncError } from '../../shared/errors.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { caught } from '../helpers/caught.js';

function counted(load: () => Promise<Storage> = async () => new MemoryStorage()) {
  let loads = 0;
  const storage = new LazyStorage(
    (key) => `lazy://${key}`,
    () => {
      loads++;
      return load();
    },
  );
  return { storage, loads: () => loads };
}

t.test('describe names a key without loading the adapter', async (t) => {
  const { storage, loads } = counted();
  t.equal(storage.describe('acme_web/dev/latest'), 'lazy://acme_web/dev/latest');
  t.equal(loads(), 0, 'nothing loaded');
});

t.test('concurrent first calls share one load; later calls reuse it', async (t) => {
  const { storage, loads } = counted();
  await Promise.all([storage.put('a', Buffer.from('1')), storage.put('b', Buffer.from('2')), storage.list('')]);
  await storage.get('a');
  t.equal(loads(), 1, 'one load');
});

t.test('every call reaches the adapter with its arguments and options', async (t) => {
  const { storage } = counted();
  const controller = new AbortController();
  const options: CallOptions = { signal: controller.signal };
  const first = await storage.putIfAbsent('k', Buffer.from('one'), options);
  t.equal((await storage.get('k', options)).body.toString(), 'one', 'get');
  t.equal(await storage.getIfChanged('k', first.etag, options), undefined, 'getIfChanged: unchanged');
  t.equal((await storage.head('k', options)).size, 3, 'head');
  const second = await storage.putIfMatch('k', Buffer.from('two'), first.etag, options);
  t.not(second.etag, first.etag, 'putIfMatch');
  await storage.put('l', Buffer.from('x'), options);
  t.same(
    (await storage.list('', options)).map((o) => o.key),
    ['k', 'l'],
    'list',
  );
  await storage.delete('l', options);
  t.same(
    (await storage.list('')).map((o) => o.key),
    ['k'],
    'delete',
  );
  t.equal(
    ((await caught(storage.putIfAbsent('k', Buffer.from('three')))) as VsyncError).code,
    'STORAGE_PRECONDITION_FAILED',
    "the adapter's verdicts pass through",
  );
});

t.test('a load that failed fails the call, and the next call tries again', async (t) => {
  let attempt = 0;
  const failure = new Error('could not load the adapter');
  const { storage, loads } = counted(async () => {
    if (++attempt === 1) throw failure;
    return new MemoryStorage();
  });
  const results = await Promise.allSettled([storage.get('x'), storage.head('x')]);
  t.same(
    results.map((r) => r.status === 'rejected' && r.reason === failure),
    [true, true],
    'both racing calls see the one failed load',
  );
  await storage.put('x', Buffer.from('ok'));
  t.equal((await storage.get('x')).body.toString(), 'ok', 'the next call loaded it');
  t.equal(loads(), 2, 'one failed load, one good one');
});
