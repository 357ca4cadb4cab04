// mapAtMost (daemon/bundle/at-most.ts): a folder's files read several at a time must be judged as if read
// one after the other: results in order, and the error reported is the earliest item's, whatever finished first.
import t from 'tap';
import { mapAtMost } from '../../daemon/bundle/at-most.js';

/** A promise and the functions that settle it, so that a test decides the order things finish in. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('results come in the items order, with never more than the limit running', async (t) => {
  const gates = Array.from({ length: 7 }, () => deferred<void>());
  let running = 0;
  let most = 0;
  const mapped = mapAtMost(3, [0, 1, 2, 3, 4, 5, 6], async (n) => {
    running++;
    most = Math.max(most, running);
    await gates[n]!.promise;
    running--;
    return n * 10;
  });
  await tick();
  t.equal(running, 3, 'three started');
  for (const n of [2, 0, 6, 1, 5, 3, 4]) {
    gates[n]!.resolve();
    await tick();
  }
  t.same(await mapped, [0, 10, 20, 30, 40, 50, 60]);
  t.equal(most, 3);
});

t.test('the earliest failing item is the error thrown, even when a later one failed first; nothing new starts', async (t) => {
  const gates = Array.from({ length: 6 }, () => deferred<void>());
  const started: number[] = [];
  const mapped = mapAtMost(3, [0, 1, 2, 3, 4, 5], async (n) => {
    started.push(n);
    await gates[n]!.promise;
    return n;
  });
  const refused = t.rejects(mapped, { message: 'item 1' }); // listened to before it can reject
  await tick();
  gates[2]!.reject(new Error('item 2'));
  await tick();
  gates[1]!.reject(new Error('item 1'));
  gates[0]!.resolve();
  await refused;
  t.same(started, [0, 1, 2], 'after the first failure nothing else started');
});

t.test('no items, no work', async (t) => {
  t.same(await mapAtMost(4, [], async () => 1), []);
});
