// GET /v1/events with a reader that stops reading, on a real socket (inject() reads everything at once, so
// it cannot fall behind): past the buffer limit the stream is dropped, a late reader finds the last comment
// saying so, and the connection ends; a reader that keeps up sees every event.
import t from 'tap';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { SseReader } from '../../client/sse-reader.js';
import { agentApp } from '../helpers/app-fixture.js';
import { waitUntil } from '../helpers/patience.js';
import { tempBase } from '../helpers/vault-fixture.js';

const { base: folder, cleanup } = tempBase('vse-');
t.teardown(cleanup);
const socket = join(folder, 's.sock');
const BUFFER = 32 * 1024;
const { events, app } = agentApp(t, folder, { freshStorage: true, socket, limits: { eventBufferBytes: BUFFER } });
await app.listen({ path: socket });

t.test('a reader that stops reading is dropped and told so; one that reads sees every event', async (t) => {
  const baseline = events.followers;
  const messages: string[] = [];
  const follower = request({ socketPath: socket, path: '/v1/events' }, (res) => {
    const reader = new SseReader();
    res.on('data', (d: Buffer) => messages.push(...reader.push(d).map((m) => m.type)));
  });
  follower.end();
  t.teardown(() => follower.destroy());
  await waitUntil(() => events.followers === baseline + 1, 'the follower');

  const stuck = connect(socket);
  stuck.pause();
  stuck.write('GET /v1/events HTTP/1.1\r\nHost: vsync\r\n\r\n');
  t.teardown(() => stuck.destroy());
  await waitUntil(() => events.followers === baseline + 2, 'the stuck reader');

  let emitted = 0;
  while (events.followers === baseline + 2) {
    events.emit({ type: 'locked', dropped: emitted });
    emitted++;
    // Let the socket take what it can, as it would between real events.
    if (emitted % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (emitted > 100_000) throw new Error('never dropped');
  }
  t.equal(events.followers, baseline + 1, `dropped after ${emitted} events: unsubscribed`);

  let text = '';
  stuck.on('data', (d: Buffer) => (text += d.toString()));
  stuck.resume();
  await new Promise((resolve) => stuck.once('close', resolve));
  t.match(
    text,
    /: dropped: this reader fell \d+ bytes behind \(the limit is 32768\); reconnect to follow again\n\n\r\n0\r\n\r\n$/,
    'the last words, then the end',
  );
  const received = (text.match(/event: locked/g) ?? []).length;
  t.ok(received < emitted, `the stuck reader got ${received} of ${emitted}, not all held for it`);

  await waitUntil(() => messages.filter((m) => m === 'locked').length === emitted, 'the follower to catch up');
  events.emit({ type: 'locked', dropped: 0 });
  await waitUntil(() => messages.filter((m) => m === 'locked').length === emitted + 1, 'one more for the follower');
  t.pass('the reader that reads sees every event, before and after');
});
