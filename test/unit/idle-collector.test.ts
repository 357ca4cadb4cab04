// The agent's collection after operations (daemon/memory): when it runs, on a clock the test drives, and that
// the collection it runs is V8's, freeing what nothing holds.
import t from 'tap';
import { setImmediate as tick } from 'node:timers/promises';
import { collectWhenIdle } from '../../daemon/memory/idle-collector.js';
import { fullCollection } from '../../daemon/memory/v8-heap.js';
import { span, spans } from '../../daemon/trace/span.js';
import { ManualTimers } from '../helpers/manual-timers.js';

/** An operation span (as vault-service.ts names them) that ends when `finish` is called. */
function operation(name = 'operation.push') {
  let finish!: () => void;
  const done = span(name, () => new Promise<void>((resolve) => (finish = resolve)));
  return {
    finish: async () => {
      finish();
      await done;
    },
  };
}

t.test('one collection, the idle time after an operation ends, and not before', async (t) => {
  const clock = new ManualTimers();
  let collected = 0;
  const stop = collectWhenIdle(() => collected++, 2000, clock);
  t.teardown(stop);
  const op = operation();
  t.same(clock.pending(), [], 'nothing is armed while the operation runs');
  await op.finish();
  t.same(clock.pending(), [2000], 'armed for the idle time when it ends');
  t.equal(collected, 0);
  clock.advance(2000);
  await tick();
  t.equal(collected, 1);
  t.same(clock.pending(), [], 'and not again without another operation');
});

t.test('an operation that starts in the quiet time postpones the collection to after it', async (t) => {
  const clock = new ManualTimers();
  let collected = 0;
  const stop = collectWhenIdle(() => collected++, 2000, clock);
  t.teardown(stop);
  await operation().finish();
  const second = operation('operation.pull');
  const third = operation('operation.push');
  t.same(clock.pending(), [], 'the pending collection is cancelled');
  await second.finish();
  t.same(clock.pending(), [], 'nothing armed while another operation still runs');
  await third.finish();
  t.same(clock.pending(), [2000]);
  clock.advance(2000);
  await tick();
  t.equal(collected, 1, 'one collection for the run of operations');
});

t.test('spans that are not operations (store requests, status) arm nothing; a failed operation does', async (t) => {
  const clock = new ManualTimers();
  let collected = 0;
  const stop = collectWhenIdle(() => collected++, 2000, clock);
  t.teardown(stop);
  await span('store.get', async () => undefined);
  await span('memory.collect', async () => undefined);
  t.same(clock.pending(), []);
  await span('operation.pull', async () => Promise.reject(new Error('offline'))).catch(() => undefined);
  t.same(clock.pending(), [2000]);
});

t.test('the collection is itself a span; stopping unsubscribes and cancels', async (t) => {
  const clock = new ManualTimers();
  let collected = 0;
  const names: string[] = [];
  const listen = { start: (c: { name: string }) => names.push(c.name), end() {}, asyncStart() {}, asyncEnd() {}, error() {} };
  spans.subscribe(listen);
  t.teardown(() => spans.unsubscribe(listen));
  const stop = collectWhenIdle(() => collected++, 2000, clock);
  await operation().finish();
  clock.advance(2000);
  await tick();
  t.ok(names.includes('memory.collect'));
  await operation().finish();
  stop();
  t.same(clock.pending(), [], 'the armed collection is cancelled');
  await operation().finish();
  t.same(clock.pending(), [], 'and operations arm nothing after stop');
  t.equal(collected, 1);
});

t.test("fullCollection is V8's: an object nothing holds is gone after it", async (t) => {
  const collect = fullCollection();
  let held: object | undefined = { payload: new Array(1000).fill('x') };
  const ref = new WeakRef(held);
  held = undefined;
  // A WeakRef keeps its target until the current job ends, and every deref() keeps it for the rest of that job.
  await tick();
  t.not(ref.deref(), undefined, 'still there before the collection (nothing has needed the memory)');
  await tick();
  collect();
  t.equal(ref.deref(), undefined, 'collected');
});
