// GET /v1/events with a reader that stops reading, on a real socket (inject() reads everything at once, so
// it cannot fall behind): past the buffer limit the stream is dropped, a late reader finds the last comment
// saying so, and the connection ends; a reader that keeps up sees every event.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import { VaultService } from '../../daemon/vault/vault-service.js';
import { buildApp } from '../../daemon/server/app.js';
import { EventHub } from '../../daemon/vault/event-hub.js';
import { DEFAULT_WATCH_SETTINGS } from '../../daemon/watch/vault-watch.js';
import { watchListFile } from '../../daemon/watch/watch-list.js';
import { Watches } from '../../daemon/watch/watches.js';
import { SseReader } from '../../client/sse-reader.js';

const folder = mkdtempSync(join(tmpdir(), 'vse-'));
const socket = join(folder, 's.sock');
const keychain = new MemoryKeychain();
const keys = new KeyRing(keychain);
const events = new EventHub();
const environment = { HOME: join(folder, 'home') };
const service = new VaultService(
  { storageFor: () => new MemoryStorage(), keychain, keys, environment, now: () => new Date() },
  { events, automaticKeys: keys.automatic() },
);
const watches = new Watches({
  service,
  events,
  keys,
  settings: DEFAULT_WATCH_SETTINGS,
  listFile: watchListFile(environment),
  log: () => undefined,
});
const BUFFER = 32 * 1024;
const app = buildApp({
  service,
  keys,
  watches,
  events,
  socket,
  startedAt: new Date(),
  onShutdown: () => undefined,
  limits: { eventBufferBytes: BUFFER },
});
t.teardown(() => watches.close());
t.teardown(() => app.close());
await app.listen({ path: socket });

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(5);
  }
}

t.test('a reader that stops reading is dropped and told so; one that reads sees every event', async (t) => {
  const baseline = events.followers;
  const messages: string[] = [];
  const follower = request({ socketPath: socket, path: '/v1/events' }, (res) => {
    const reader = new SseReader();
    res.on('data', (d: Buffer) => messages.push(...reader.push(d).map((m) => m.type)));
  });
  follower.end();
  t.teardown(() => follower.destroy());
  await until('the follower', () => events.followers === baseline + 1);

  const stuck = connect(socket);
  stuck.pause();
  stuck.write('GET /v1/events HTTP/1.1\r\nHost: vsync\r\n\r\n');
  t.teardown(() => stuck.destroy());
  await until('the stuck reader', () => events.followers === baseline + 2);

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

  await until('the follower to catch up', () => messages.filter((m) => m === 'locked').length === emitted);
  events.emit({ type: 'locked', dropped: 0 });
  await until('one more for the follower', () => messages.filter((m) => m === 'locked').length === emitted + 1);
  t.pass('the reader that reads sees every event, before and after');
});
