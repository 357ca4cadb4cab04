// POST /v1/doctor on fastify's inject(): the schema at the door, the answer's shape, failures as checks (not
// error answers). The domain behind it runs for real over the in-memory store, as in server-app.test.ts.
import t from 'tap';
import { join } from 'node:path';
import { DoctorResultSchema, ErrorBodySchema } from '../../shared/api.js';
import { VERSION } from '../../shared/version.js';
import { appFixture } from '../helpers/app-fixture.js';

const { repo, keychain, keys, storage, app } = appFixture(t, 'vsync-app-doctor-');

const doctor = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/doctor', payload: payload as object });
const statuses = (body: unknown) => DoctorResultSchema.parse(body).checks.map((c) => `${c.name}:${c.status}${c.code ? `:${c.code}` : ''}`);

t.test('failures are checks in a 200 answer; after init, every check is ok', async (t) => {
  const before = await doctor({ cwd: repo, env: 'dev' });
  t.equal(before.statusCode, 200);
  const result = DoctorResultSchema.parse(before.json());
  t.same(result.agent, { version: VERSION, pid: process.pid, socket: '/tmp/x.sock' });
  t.same({ repo: result.repo, env: result.env }, { repo: 'acme_web', env: 'dev' });
  t.same(statuses(before.json()), [
    'config:fail:CONFIG_NOT_FOUND',
    'keychain:fail:KEYCHAIN_NOT_FOUND',
    'git:skip',
    'store:skip',
    'clock:skip',
    'if-none-match:skip',
    'if-match:skip',
  ]);

  t.equal((await app.inject({ method: 'POST', url: '/v1/init', payload: { cwd: repo, env: 'dev' } })).statusCode, 200);
  t.same(keys.unlocked(), ['acme_web/dev'], 'init holds the key it made');
  keys.lock();
  const after = await doctor({ cwd: join(repo, 'infra'), env: 'dev' });
  t.same(statuses(after.json()), ['config:ok', 'keychain:ok', 'git:ok', 'store:ok', 'clock:ok', 'if-none-match:ok', 'if-match:ok']);
  t.same(await storage.list('acme_web/dev/_doctor/'), [], 'the scratch object is gone');
  t.same(keys.unlocked(), [], 'looking at the key does not unlock it');
  t.notMatch(after.body, await keychain.get('acme_web/dev'), 'no key material in the answer');

  const bare = await doctor({ cwd: repo });
  t.same(DoctorResultSchema.parse(bare.json()).checks, [{ name: 'keychain', status: 'ok', detail: 'memory answers' }]);
  t.equal(DoctorResultSchema.parse(bare.json()).env, undefined);
});

t.test('bad requests are error answers', async (t) => {
  const unknown = await doctor({ cwd: repo, env: 'dev', fix: true });
  t.equal(unknown.statusCode, 400);
  t.match(ErrorBodySchema.parse(unknown.json()).error, { code: 'AGENT_BAD_REQUEST', message: /fix/ });
  const relative = await doctor({ cwd: 'work/web' });
  t.equal(relative.statusCode, 400);
  t.match(relative.json(), { error: { code: 'AGENT_BAD_REQUEST', message: /cwd/ } });
  const badEnv = await doctor({ cwd: repo, env: '../x' });
  t.equal(badEnv.statusCode, 400);
  t.match(badEnv.json(), { error: { code: 'NAME_INVALID' } });
  const get = await app.inject({ method: 'GET', url: `/v1/doctor?cwd=${encodeURIComponent(repo)}` });
  t.equal(get.statusCode, 404, 'POST only: it writes a scratch object');
});
