// POST /v1/key/export and /v1/key/import on fastify's inject(): the schemas at the door, the answers'
// shapes, and that no answer holds the key. Two agents (two HOMEs, two keychains) share one store in memory.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { ErrorBodySchema, KeyExportResultSchema, KeyImportResultSchema, StatusResultSchema } from '../../shared/api.js';
import { agentApp, checkout } from '../helpers/app-fixture.js';
import { tempBase } from '../helpers/vault-fixture.js';

const { base, cleanup } = tempBase('vsync-key-routes-');
t.teardown(cleanup);
const storage = new MemoryStorage();

function agent(name: string) {
  const { keychain, app } = agentApp(t, base, { home: name, storage });
  return {
    keychain,
    post: (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object }),
    status: async () => StatusResultSchema.parse((await app.inject({ method: 'GET', url: '/v1/status' })).json()),
  };
}

const alice = agent('alice');
const bob = agent('bob');
const aliceRepo = checkout(join(base, 'alice', 'web'), 'git@github.com:Acme/web.git');

t.test('export, then import on another machine; no answer holds the key', async (t) => {
  t.equal((await alice.post('/v1/init', { cwd: aliceRepo, env: 'dev' })).statusCode, 200);
  const key = await alice.keychain.get('acme_web/dev');

  const exported = await alice.post('/v1/key/export', { cwd: join(aliceRepo, 'infra'), env: 'dev' });
  t.equal(exported.statusCode, 200, exported.body);
  const result = KeyExportResultSchema.parse(exported.json());
  t.equal(result.file, join(aliceRepo, 'infra', 'acme_web-dev.share'), 'by default in the working folder');
  t.notOk(exported.body.includes(key), 'the key is not in the answer');

  const bobRepo = checkout(join(base, 'bob', 'web'), 'https://github.com/acme/web');
  const imported = await bob.post('/v1/key/import', { cwd: bobRepo, file: result.file, passphrase: result.passphrase });
  t.equal(imported.statusCode, 200, imported.body);
  t.same(KeyImportResultSchema.parse(imported.json()), {
    repo: 'acme_web',
    env: 'dev',
    configFile: join(base, 'bob', '.config', 'vsync', 'acme_web', 'env_dev'),
    store: storage.describe('acme_web/dev/'),
    keychain: 'memory',
    key: 'added',
    config: 'added',
  });
  t.notOk(imported.body.includes(key));
  t.equal(await bob.keychain.get('acme_web/dev'), key);
  t.match((await bob.status()).vaults, [{ repo: 'acme_web', env: 'dev', last: { operation: 'key import', ok: true } }]);
  t.match((await alice.status()).vaults, [{ repo: 'acme_web', env: 'dev', last: { operation: 'key export', ok: true } }]);

  const again = await bob.post('/v1/key/import', { cwd: bobRepo, file: result.file, passphrase: result.passphrase!.toLowerCase() });
  t.match(again.json(), { key: 'present', config: 'present' });

  // Run from a checkout of another repo: the import lands all the same, and the answer says where it is.
  const fork = checkout(join(base, 'bob', 'fork'), 'git@github.com:bob/web.git');
  const other = await bob.post('/v1/key/import', { cwd: fork, file: result.file, passphrase: result.passphrase });
  t.match(other.json(), { repo: 'acme_web', checkoutRepo: 'bob_web' });
  const plain = join(base, 'bob', 'downloads');
  mkdirSync(plain, { recursive: true });
  t.notOk(
    'checkoutRepo' in (await bob.post('/v1/key/import', { cwd: plain, file: result.file, passphrase: result.passphrase })).json(),
    'not from a folder outside git',
  );

  const wrong = await bob.post('/v1/key/import', { cwd: bobRepo, file: result.file, passphrase: 'not it' });
  t.equal(wrong.statusCode, 422);
  t.match(ErrorBodySchema.parse(wrong.json()), { error: { code: 'SHARE_PASSPHRASE_WRONG' } });
  t.match(
    (await bob.status()).vaults,
    [{ repo: 'acme_web', env: 'dev', last: { operation: 'key import', ok: true } }],
    'a refusal before the vault is known is not recorded on it',
  );

  const exists = await alice.post('/v1/key/export', { cwd: aliceRepo, env: 'dev', out: result.file });
  t.equal(exists.statusCode, 409);
  t.match(exists.json(), { error: { code: 'SHARE_FILE_EXISTS' } });
});

t.test('bad requests name the field', async (t) => {
  const bad = async (url: string, payload: unknown, field: RegExp) => {
    const res = await alice.post(url, payload);
    t.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}`);
    t.match(res.json(), { error: { code: 'AGENT_BAD_REQUEST', message: field } });
  };
  await bad('/v1/key/export', { cwd: aliceRepo, env: 'dev', out: 'relative.share' }, /out: must be an absolute path/);
  await bad('/v1/key/export', { cwd: aliceRepo, env: 'dev', key: 'x' }, /key/);
  await bad('/v1/key/export', { cwd: aliceRepo, env: 'dev', passphrase: '' }, /passphrase/);
  await bad('/v1/key/import', { cwd: aliceRepo, file: '/x.share' }, /passphrase/);
  await bad('/v1/key/import', { cwd: aliceRepo, file: 'x.share', passphrase: 'p' }, /file: must be an absolute path/);
  await bad('/v1/key/import', { cwd: aliceRepo, file: '/x.share', passphrase: 'p', env: 'dev' }, /env/);
});
