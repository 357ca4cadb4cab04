// The agent's event hub: numbering, dating from the injected clock, the shared schema, and listeners that
// cannot hurt each other or whoever raised the event.
import t from 'tap';
import { EventHub } from '../../daemon/vault/event-hub.js';
import { AgentEventSchema, type AgentEvent } from '../../shared/events.js';
import { Clock } from '../helpers/vault-fixture.js';

const vault = { repo: 'acme_web', env: 'dev', root: '/home/alice/web' };

t.test('ids count up from 1; `at` comes from the injected clock; every event fits the schema', async (t) => {
  const clock = new Clock();
  const hub = new EventHub(clock.now);
  const seen: AgentEvent[] = [];
  hub.subscribe((e) => seen.push(e));

  const first = hub.emit({ type: 'watch-started', ...vault, follow: true });
  clock.advance(2);
  const second = hub.emit({ type: 'push-finished', ...vault, trigger: 'watch', version: '20260516-113306' });
  clock.advance(1);
  const third = hub.emit({ type: 'locked', dropped: 0 });

  t.same(
    seen.map((e) => e.id),
    [1, 2, 3],
  );
  t.same(
    seen.map((e) => e.at),
    ['2026-05-16T11:33:04.000Z', '2026-05-16T11:33:06.000Z', '2026-05-16T11:33:07.000Z'],
  );
  t.same(seen, [first, second, third], 'emit returns the event the listeners got');
  for (const event of seen) t.same(AgentEventSchema.parse(event), event, `${event.type} is valid as it is`);
  t.same(third, { type: 'locked', dropped: 0, id: 3, at: '2026-05-16T11:33:07.000Z' }, 'nothing added but id and at');
});

t.test('events are numbered even with nobody listening; a new listener hears only what comes next', async (t) => {
  const hub = new EventHub();
  hub.emit({ type: 'locked', dropped: 1 });
  hub.emit({ type: 'locked', dropped: 2 });
  const seen: AgentEvent[] = [];
  hub.subscribe((e) => seen.push(e));
  const third = hub.emit({ type: 'change-seen', ...vault });
  t.equal(third.id, 3);
  t.same(
    seen.map((e) => e.id),
    [3],
  );
  t.ok(!Number.isNaN(Date.parse(third.at)), 'the default clock gives an ISO date');
  AgentEventSchema.parse(third);
});

t.test('a listener that throws stops neither the other listeners nor the emitter', async (t) => {
  const hub = new EventHub();
  const before: number[] = [];
  const after: number[] = [];
  hub.subscribe((e) => before.push(e.id));
  hub.subscribe(() => {
    throw new Error('a closed stream');
  });
  hub.subscribe((e) => after.push(e.id));
  const first = hub.emit({ type: 'locked', dropped: 0 });
  const second = hub.emit({ type: 'locked', dropped: 0 });
  t.equal(first.id, 1, 'emit returned normally');
  t.equal(second.id, 2);
  t.same(before, [1, 2]);
  t.same(after, [1, 2], 'the listener after the one that threw still heard both');
});

t.test('unsubscribe: that listener hears nothing more, the others go on; unsubscribing twice is harmless', async (t) => {
  const hub = new EventHub();
  const a: number[] = [];
  const b: number[] = [];
  const offA = hub.subscribe((e) => a.push(e.id));
  hub.subscribe((e) => b.push(e.id));
  hub.emit({ type: 'locked', dropped: 0 });
  offA();
  hub.emit({ type: 'locked', dropped: 0 });
  offA();
  hub.emit({ type: 'locked', dropped: 0 });
  t.same(a, [1]);
  t.same(b, [1, 2, 3]);
});

t.test('listeners are those subscribed when the event is raised: one added while it is delivered hears the next', async (t) => {
  const hub = new EventHub();
  const heard: string[] = [];
  const off = hub.subscribe((e) => {
    heard.push(`first ${e.id}`);
    off(); // unsubscribes itself while being called
    hub.subscribe((later) => heard.push(`late ${later.id}`));
  });
  hub.subscribe((e) => heard.push(`second ${e.id}`));
  hub.emit({ type: 'locked', dropped: 0 });
  hub.emit({ type: 'locked', dropped: 0 });
  t.same(heard, ['first 1', 'second 1', 'second 2', 'late 2']);
});
