// The API on fastify's inject(): schemas at the door, the registry's statuses, the NDJSON stream's shape.
// The domain behind it runs for real over the in-memory store; the socket is the integration tests' job.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ErrorBodySchema,
  InitResultSchema,
  PushResultSchema,
  StatusResultSchema,
  StreamLineSchema,
  UnwatchResultSchema,
  VersionsResultSchema,
  WatchEntrySchema,
  WatchListResultSchema,
  NDJSON,
} from '../../shared/api.js';
import { AgentEventSchema, type AgentEvent } from '../../shared/events.js';
import { appFixture } from '../helpers/app-fixture.js';

let shutdowns = 0;
const { repo, keychain, events, watches, app } = appFixture(t, 'vsync-app-', {
  startedAt: new Date(Date.now() - 5000),
  onShutdown: () => shutdowns++,
});

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload: payload as object, headers });

t.test('init, push as a stream, versions, status', async (t) => {
  const init = await post('/v1/init', { cwd: repo, env: 'dev' });
  t.equal(init.statusCode, 200);
  t.match(InitResultSchema.parse(init.json()), { repo: 'acme_web', env: 'dev', vaultFolder: 'infra/vault/dev' });

  writeFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), 'A=1\n');
  const pushed = await post('/v1/push', { cwd: join(repo, 'infra'), env: 'dev' }, { accept: NDJSON });
  t.equal(pushed.statusCode, 200);
  t.match(pushed.headers['content-type'], /application\/x-ndjson/);
  const lines = pushed.body
    .trim()
    .split('\n')
    .map((l) => StreamLineSchema.parse(JSON.parse(l)));
  t.same(
    lines.slice(0, 5).map((l) => l.type === 'progress' && l.event.kind === 'step' && l.event.n),
    [1, 2, 3, 4, 5],
  );
  t.equal(lines.length, 6);
  const last = lines[5]!;
  t.equal(last.type, 'result');
  const result = PushResultSchema.parse(last.type === 'result' ? last.result : undefined);
  t.equal(result.repo, 'acme_web');

  const listed = await app.inject({ method: 'GET', url: `/v1/versions?cwd=${encodeURIComponent(repo)}&env=dev` });
  t.equal(VersionsResultSchema.parse(listed.json()).versions[0]?.ts, result.version);

  const status = StatusResultSchema.parse((await app.inject({ method: 'GET', url: '/v1/status' })).json());
  t.equal(status.locked, false);
  t.same(status.unlocked, ['acme_web/dev']);
  t.match(status.vaults, [{ repo: 'acme_web', env: 'dev', last: { operation: 'push', ok: true, version: result.version } }]);
  t.ok(status.uptimeMs >= 5000);
  t.notMatch(JSON.stringify(status), await keychain.get('acme_web/dev'), 'no key material in status');
});

t.test('plain JSON mode: the result, or the registry status with an error body', async (t) => {
  const ok = await post('/v1/push', { cwd: repo, env: 'dev' });
  t.equal(ok.statusCode, 200);
  PushResultSchema.parse(ok.json());
  const missing = await post('/v1/push', { cwd: repo, env: 'prod' });
  t.equal(missing.statusCode, 404);
  t.match(ErrorBodySchema.parse(missing.json()), { error: { code: 'CONFIG_NOT_FOUND', hint: /vsync init/ } });
});

t.test('an error in a stream is its last line', async (t) => {
  const res = await post('/v1/pull', { cwd: repo, env: 'prod' }, { accept: NDJSON });
  t.equal(res.statusCode, 200);
  const lines = res.body
    .trim()
    .split('\n')
    .map((l) => StreamLineSchema.parse(JSON.parse(l)));
  t.match(lines.at(-1), { type: 'error', error: { code: 'CONFIG_NOT_FOUND' } });
});

t.test('bad requests: unknown fields, wrong types, junk, too big, bad names, no route', async (t) => {
  const cases: Array<[string, () => ReturnType<typeof post>, RegExp]> = [
    ['unknown field', () => post('/v1/push', { cwd: repo, env: 'dev', extra: 1 }), /Unrecognized key/i],
    ['missing env', () => post('/v1/push', { cwd: repo }), /env:/],
    ['relative cwd', () => post('/v1/push', { cwd: 'infra', env: 'dev' }), /cwd: must be an absolute path/],
    ['bad --at', () => post('/v1/pull', { cwd: repo, env: 'dev', at: 'yesterday' }), /at: must be a version timestamp/],
    ['force as a string', () => post('/v1/push', { cwd: repo, env: 'dev', force: 'yes' }), /force:/],
    [
      'not JSON',
      () => app.inject({ method: 'POST', url: '/v1/push', payload: '{"cwd":', headers: { 'content-type': 'application/json' } }),
      /./,
    ],
    ['too big', () => post('/v1/push', { cwd: repo, env: 'dev', pad: 'x'.repeat(20_000) }), /size limit/],
    ['lock with a body', () => post('/v1/lock', { all: true }), /Unrecognized key/i],
  ];
  for (const [name, send, message] of cases) {
    const res = await send();
    t.equal(res.statusCode, 400, name);
    t.match(ErrorBodySchema.parse(res.json()), { error: { code: 'AGENT_BAD_REQUEST', message } }, name);
  }
  const badName = await post('/v1/push', { cwd: repo, env: '../etc' });
  t.match(badName.json(), { error: { code: 'NAME_INVALID' } });
  const noRoute = await app.inject({ method: 'GET', url: '/v1/secrets' });
  t.equal(noRoute.statusCode, 404);
  t.match(noRoute.json(), { error: { code: 'AGENT_BAD_REQUEST', message: /no route GET \/v1\/secrets/ } });
});

t.test('lock drops the keys; shutdown answers first, then asks to stop', async (t) => {
  const res = await post('/v1/lock', {});
  t.same(res.json(), { dropped: 1 });
  t.equal(StatusResultSchema.parse((await app.inject({ method: 'GET', url: '/v1/status' })).json()).locked, true);
  const bye = await post('/v1/shutdown', {});
  t.equal(bye.statusCode, 202);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(shutdowns, 1);
});

// ---- watching (GET /v1/events is a stream that never ends: the integration tests follow it) ----

t.test('watch: bad requests are AGENT_BAD_REQUEST; an env never set up is CONFIG_NOT_FOUND', async (t) => {
  const cases: Array<[string, () => ReturnType<typeof post>, RegExp]> = [
    ['unknown field', () => post('/v1/watch', { cwd: repo, env: 'dev', debounce: 5 }), /Unrecognized key/i],
    ['relative cwd', () => post('/v1/watch', { cwd: 'infra', env: 'dev' }), /cwd: must be an absolute path/],
    ['follow as a string', () => post('/v1/watch', { cwd: repo, env: 'dev', follow: 'yes' }), /follow:/],
    ['no env', () => post('/v1/watch', { cwd: repo }), /env:/],
    ['unwatch with follow', () => post('/v1/unwatch', { cwd: repo, env: 'dev', follow: true }), /Unrecognized key/i],
    ['unwatch, relative cwd', () => post('/v1/unwatch', { cwd: '.', env: 'dev' }), /cwd: must be an absolute path/],
    ['list with a query', () => app.inject({ method: 'GET', url: `/v1/watch?cwd=${encodeURIComponent(repo)}` }), /Unrecognized key/i],
  ];
  for (const [name, send, message] of cases) {
    const res = await send();
    t.equal(res.statusCode, 400, name);
    t.match(ErrorBodySchema.parse(res.json()), { error: { code: 'AGENT_BAD_REQUEST', message } }, name);
  }
  const missing = await post('/v1/watch', { cwd: repo, env: 'prod' });
  t.equal(missing.statusCode, 404);
  t.match(ErrorBodySchema.parse(missing.json()), { error: { code: 'CONFIG_NOT_FOUND', message: /env_prod/, hint: /vsync init/ } });
  t.same(watches.list(), [], 'nothing watched after all that');
});

t.test('watch, list, status, unwatch', async (t) => {
  const started: unknown[] = [];
  const off = events.subscribe((e) => started.push(e));
  t.teardown(off);

  const res = await post('/v1/watch', { cwd: join(repo, 'infra'), env: 'dev', follow: true });
  t.equal(res.statusCode, 200);
  const entry = WatchEntrySchema.parse(res.json());
  t.match(entry, { repo: 'acme_web', env: 'dev', root: repo, vaultFolder: 'infra/vault/dev', follow: true, state: 'idle' });
  t.match(started, [{ type: 'watch-started', repo: 'acme_web', env: 'dev', root: repo, follow: true }]);

  const listed = await app.inject({ method: 'GET', url: '/v1/watch' });
  t.equal(listed.statusCode, 200);
  t.match(WatchListResultSchema.parse(listed.json()).watches, [{ repo: 'acme_web', env: 'dev', root: repo, follow: true }]);
  t.equal(WatchListResultSchema.parse(listed.json()).watches.length, 1);

  const status = StatusResultSchema.parse((await app.inject({ method: 'GET', url: '/v1/status' })).json());
  t.match(status.watches, [{ repo: 'acme_web', env: 'dev', root: repo, vaultFolder: 'infra/vault/dev', follow: true }]);
  t.equal(status.watches.length, 1);

  const stopped = await post('/v1/unwatch', { cwd: repo, env: 'dev' });
  t.equal(stopped.statusCode, 200);
  t.same(UnwatchResultSchema.parse(stopped.json()), { repo: 'acme_web', env: 'dev', root: repo, stopped: true });
  t.match(started.at(-1), { type: 'watch-stopped', repo: 'acme_web', env: 'dev', root: repo });
  const again = await post('/v1/unwatch', { cwd: repo, env: 'dev' });
  t.equal(again.statusCode, 200);
  t.same(UnwatchResultSchema.parse(again.json()), { repo: 'acme_web', env: 'dev', root: repo, stopped: false });
  t.same(WatchListResultSchema.parse((await app.inject({ method: 'GET', url: '/v1/watch' })).json()), { watches: [] });
  t.same(StatusResultSchema.parse((await app.inject({ method: 'GET', url: '/v1/status' })).json()).watches, []);
});

t.test('lock raises a `locked` event with what it dropped', async (t) => {
  t.equal((await post('/v1/push', { cwd: repo, env: 'dev' })).statusCode, 200, 'a push unlocks the key');
  const heard: AgentEvent[] = [];
  const off = events.subscribe((e) => heard.push(e));
  t.teardown(off);
  const res = await post('/v1/lock', {});
  t.same(res.json(), { dropped: 1 });
  t.equal(heard.length, 1);
  t.match(AgentEventSchema.parse(heard[0]), { type: 'locked', dropped: 1 });
  t.same((await post('/v1/lock', {})).json(), { dropped: 0 });
  t.match(
    heard,
    [
      { type: 'locked', dropped: 1 },
      { type: 'locked', dropped: 0 },
    ],
    'a lock with nothing to drop is announced too',
  );
});
