// Push on save when things go wrong, with the real programs: an env never set up, the keys locked, the
// folder deleted or renamed, the store unreachable mid-push (Ceph RGW behind a proxy the test cuts), and
// turning watching off. Also the real `vsync events` as a terminal beside the editor would run it.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import { AgentEventSchema } from '../../shared/events.js';
import { exitCodes } from '../../shared/errors.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { type EventFollower, followEvents, isType } from '../helpers/event-follower.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import type { TestContext } from '../helpers/tap-types.js';
import { createBucket, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { waitUntil } from '../helpers/patience.js';

const SETTINGS = { VSYNC_WATCH_DEBOUNCE_MS: '150', VSYNC_FOLLOW_SECONDS: '0.5', VSYNC_RETRY_SECONDS: '0.3' };
const quiet = () => sleep(1_400);

async function alice(t: TestContext, initArgs: string[] = []): Promise<User> {
  const { base, cleanup } = tempBase('vsync-watch-faults-');
  const a = await user(base, 'alice', `wf_${randomBytes(4).toString('hex')}`, {
    ...SETTINGS,
    VSYNC_KEY: randomBytes(32).toString('base64'),
  });
  t.teardown(async () => {
    await a.agent.stop();
    cleanup();
  });
  const init = await a.cli(['init', 'dev', ...initArgs]);
  t.equal(init.code, 0, init.stderr);
  return a;
}

/** Alice with one version pushed, watching dev, her agent's events followed. */
async function aliceWatching(t: TestContext): Promise<{ a: User; events: EventFollower }> {
  const a = await alice(t);
  writeFileSync(a.envFile(), 'V=1\n');
  t.equal((await a.cli(['push', 'dev'])).code, 0);
  t.equal((await a.cli(['watch', 'dev'])).code, 0);
  const events = await followEvents(a.agent.socket);
  t.teardown(() => events.close());
  return { a, events };
}

const versionsOf = async (a: User): Promise<number> => ((await a.cli(['versions', 'dev', '--json'])).stdout.match(/"ts"/g) ?? []).length;

t.test('watching an env that was never set up: a clear error, nothing watched', async (t) => {
  const a = await alice(t);
  const r = await a.cli(['watch', 'staging']);
  t.equal(r.code, exitCodes.config);
  t.match(r.stderr, /^vsync: error: .*staging/m);
  t.match(r.stderr, /^vsync: hint: .*vsync init/m);
  t.match((await a.cli(['watch'])).stdout, /^not watching any vault/);
});

t.test('keys locked while watching: the push waits and says why, and goes on once a command unlocks', async (t) => {
  const { a, events } = await aliceWatching(t);
  t.match((await a.cli(['lock'])).stdout, /locked/);
  await events.waitFor(isType('locked'));

  const from = events.events.length;
  writeFileSync(a.envFile(), 'V=2 saved while locked\n');
  const waiting = await events.waitFor(isType('waiting'), { from });
  t.match(waiting, { code: 'KEY_LOCKED' });
  await quiet();
  t.same(events.types(from), ['waiting'], 'no push while locked');
  t.equal(await versionsOf(a), 1);
  t.match((await a.cli(['status'])).stdout, /waiting: the agent is locked/);

  // A command for this vault unlocks it, even one that then refuses (pull over unpushed edits).
  const pulled = await a.cli(['pull', 'dev']);
  t.equal(pulled.code, exitCodes.conflict, pulled.stderr);
  const pushed = await events.waitFor(isType('push-finished', 'watch'), { from });
  t.ok(pushed, 'the waiting push went on');
  t.equal(await versionsOf(a), 2);
});

t.test('the watched folder deleted or renamed: nothing pushed, watching waits; put back, it goes on', async (t) => {
  const { a, events } = await aliceWatching(t);
  const vault = join(a.repo, 'infra', 'vault');

  let from = events.events.length;
  renameSync(join(vault, 'dev'), join(vault, 'dev-aside'));
  t.match(await events.waitFor(isType('waiting'), { from }), { code: 'VAULT_FOLDER_MISSING' });
  writeFileSync(join(vault, 'dev-aside', '.env.dev'), 'V=2 edited aside\n');
  await quiet();
  t.same(events.types(from), ['waiting'], 'nothing pushed, not even an empty folder');
  t.match((await a.cli(['status'])).stdout, /waiting: the watched vault folder is not there/);

  from = events.events.length;
  renameSync(join(vault, 'dev-aside'), join(vault, 'dev'));
  await events.waitFor(isType('push-finished', 'watch'), { from });
  t.equal(await versionsOf(a), 2, 'the edit made aside is pushed once the folder is back');

  from = events.events.length;
  rmSync(join(a.repo, 'infra'), { recursive: true });
  t.match(await events.waitFor(isType('waiting'), { from }), { code: 'VAULT_FOLDER_MISSING' }, 'a parent deleted too');
  mkdirSync(join(vault, 'dev'), { recursive: true });
  writeFileSync(a.envFile(), 'V=3 recreated\n');
  await events.waitFor(isType('push-finished', 'watch'), { from });
  t.equal(await versionsOf(a), 3);
});

t.test('watch --off stops pushing on save; a second --off says so', async (t) => {
  const a = await alice(t);
  t.equal((await a.cli(['watch', 'dev'])).code, 0);
  const events = await followEvents(a.agent.socket);
  t.teardown(() => events.close());
  t.match((await a.cli(['watch', 'dev', '--off'])).stdout, /^stopped watching \S+\/dev$/m);
  t.match(await events.waitFor(isType('watch-stopped')), { env: 'dev', root: a.repo });
  const from = events.events.length;
  writeFileSync(a.envFile(), 'V=1 not watched\n');
  await quiet();
  t.same(events.types(from), []);
  t.equal(await versionsOf(a), 0);
  t.match((await a.cli(['watch', 'dev', '--off'])).stdout, /was not being watched/);
});

t.test('`vsync events --json` follows the agent live, and Ctrl-C ends it quietly', async (t) => {
  const a = await alice(t);
  t.equal((await a.cli(['watch', 'dev'])).code, 0);
  const child = spawn(process.execPath, [fileURLToPath(built(CLI)), 'events', '--json'], { cwd: a.repo, env: childEnv(a.env) });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // `vsync events` prints nothing until an event comes: the test knows it is connected when an event it set
  // off itself (the watch turned off and on) comes through, however long a busy machine took to get there.
  await waitUntil(async () => {
    if (out.includes('"watch-started"')) return true;
    await a.cli(['watch', 'dev', '--off']);
    await a.cli(['watch', 'dev']);
    return out.includes('"watch-started"');
  }, '`vsync events --json` connected');
  const connected = out.length;
  writeFileSync(a.envFile(), 'V=1 saved\n');
  await waitUntil(() => out.includes('"push-finished"'), 'the push on save in `vsync events --json`');
  child.kill('SIGINT');
  t.equal(await exited, 0, err);
  t.equal(err, '');
  const seen = out
    .slice(connected)
    .trim()
    .split('\n')
    .map((line) => AgentEventSchema.parse(JSON.parse(line)));
  t.same(
    seen.map((e) => e.type),
    ['change-seen', 'push-started', 'push-finished'],
  );
  t.ok(seen.every((e) => 'root' in e && e.root === a.repo));

  const plain = spawn(process.execPath, [fileURLToPath(built(CLI)), 'events'], { cwd: a.repo, env: childEnv({ ...a.env, TZ: 'UTC' }) });
  let text = '';
  plain.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const plainExit = new Promise<number | null>((resolve) => plain.on('exit', (code) => resolve(code)));
  // Locking again is harmless: each lock is an event, and the first one seen shows the stream is connected.
  await waitUntil(
    async () => {
      if (!text.includes('locked')) t.equal((await a.cli(['lock'])).code, 0);
      return text.includes('locked');
    },
    '`vsync events` showing the lock',
    200,
  );
  plain.kill('SIGTERM');
  t.equal(await plainExit, 0);
  t.match(text, /^\d\d:\d\d:\d\d {2}locked {2}\d+ keys? dropped$/m);
});

/** A TCP proxy to RGW that the test can cut and restore: the store unreachable, then back. */
async function cuttableProxy(
  target: URL,
): Promise<{ endpoint: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = async () => {
    await new Promise<void>((resolve) => {
      server?.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    server = undefined;
  };
  await listen();
  return { endpoint: `http://127.0.0.1:${port}`, cut, restore: listen, close: cut };
}

t.test('the store unreachable during a push on save: retried with backoff, reported, the pointer never half-moved', async (t) => {
  if (!realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW')) return;
  const proxy = await cuttableProxy(new URL(process.env.VSYNC_TEST_S3_ENDPOINT!));
  t.teardown(() => proxy.close());
  const bucket = await createBucket('vsync-cut');
  const a = await alice(t, ['--bucket', bucket, '--endpoint', proxy.endpoint, '--region', 'us-east-1', '--path-style']);
  const direct = new S3Storage({ bucket, endpoint: process.env.VSYNC_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
  t.teardown(() => direct.destroy());
  writeFileSync(a.envFile(), 'V=1\n');
  t.equal((await a.cli(['push', 'dev'])).code, 0);
  const latestKey = (await direct.list('')).find((o) => o.key.endsWith('/latest'))!.key;
  const before = (await direct.get(latestKey)).body.toString();
  t.equal((await a.cli(['watch', 'dev'])).code, 0);
  const events = await followEvents(a.agent.socket);
  t.teardown(() => events.close());

  await proxy.cut();
  const from = events.events.length;
  writeFileSync(a.envFile(), 'V=2 saved while the store is down\n');
  const failed = await events.waitFor((e) => e.type === 'push-failed' && e.code === 'STORAGE_TRANSIENT', { from });
  t.match(failed, { trigger: 'watch', retryInMs: Number });
  await events.waitFor((e) => e.type === 'push-failed' && e.id > failed.id, { from });
  t.equal((await direct.get(latestKey)).body.toString(), before, 'latest has not moved');
  // The vault's last operation, not the watch's state: a retry may be under way by the time status answers.
  t.match((await a.cli(['status'])).stdout, /push failed \(STORAGE_TRANSIENT\)/);

  await proxy.restore();
  const finished = await events.waitFor(isType('push-finished', 'watch'), { from });
  t.not((await direct.get(latestKey)).body.toString(), before, 'pushed once the store is back');
  t.equal((await direct.get(latestKey)).body.toString().trim(), (finished as { version: string }).version);
  t.equal(readFileSync(a.envFile(), 'utf8'), 'V=2 saved while the store is down\n');
});
