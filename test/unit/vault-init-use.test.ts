import t from 'tap';
import { existsSync, lstatSync, mkdirSync, readlinkSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { EnvKeychain } from '../../daemon/keychain/env-keychain.js';
import { generateKey } from '../../daemon/crypto/key.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { keyCheck } from '../../daemon/crypto/key-check.js';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { readConfig } from '../../daemon/vault/config.js';
import { init } from '../../daemon/vault/init.js';
import { push } from '../../daemon/vault/push.js';
import { showUse, use } from '../../daemon/vault/use.js';
import { configFile } from '../../shared/paths.js';
import { Clock, machine, tempBase } from '../helpers/vault-fixture.js';

t.test('init: key, salt, keyCheck, config, folder; the embedded store by default', async (t) => {
  const { base, cleanup } = tempBase('vsync-init-');
  t.teardown(cleanup);
  const keychain = new MemoryKeychain();
  const m = machine(base, 'alice', new DirStorage(join(base, 'alice', '.local', 'share', 'vsync', 'store')), keychain, new Clock());
  const result = await init(m.deps, m.ref, {});
  const config = await readConfig(result.configFile);
  t.same(config.store, { kind: 'dir', root: join(m.home, '.local', 'share', 'vsync', 'store') }, 'the default folder');
  t.match(config.encryption, { salt: /^[A-Za-z0-9+/]{22}==$/, keyCheck: /^[A-Za-z0-9+/]{22}==$/ });
  t.equal((await keychain.get('vsync/dev')).length, 44);
  t.ok(statSync(join(m.ref.root, 'infra', 'vault', 'dev')).isDirectory());
  t.equal(result.store, `file://${join(m.home, '.local', 'share', 'vsync', 'store')}/vsync/dev/`);

  await t.rejects(init(m.deps, m.ref, {}), { code: 'VAULT_EXISTS' });
});

t.test('init never replaces a key, and bad options change nothing', async (t) => {
  const { base, cleanup } = tempBase('vsync-init-');
  t.teardown(cleanup);
  const keychain = new MemoryKeychain([['vsync/dev', 'A'.repeat(43) + '=']]);
  const m = machine(base, 'bob', new DirStorage(join(base, 'store')), keychain, new Clock());
  await t.rejects(init(m.deps, m.ref, {}), { code: 'VAULT_KEY_EXISTS' });
  t.equal(await keychain.get('vsync/dev'), 'A'.repeat(43) + '=', 'the key is as it was');
  t.notOk(existsSync(configFile('vsync', 'dev', m.deps.environment)), 'no config written');

  const prod = { ...m.ref, env: 'prod' };
  await t.rejects(init(m.deps, prod, { bucket: 'Bad_Bucket' }), { code: 'CONFIG_INVALID', message: /s3\.bucket/ });
  await t.rejects(init(m.deps, prod, { store: 'relative/dir' }), { code: 'USAGE' });
  await t.rejects(init(m.deps, prod, { bucket: 'good-bucket', store: '/x' }), { code: 'USAGE' });
  await t.rejects(init(m.deps, prod, { region: 'eu-west-1' }), { code: 'USAGE' });
  await t.rejects(init(m.deps, { ...m.ref, env: '../x' }, {}), { code: 'NAME_INVALID' });
  await t.rejects(keychain.get('vsync/prod'), { code: 'KEYCHAIN_NOT_FOUND' }, 'no key was stored for prod');
  t.notOk(existsSync(configFile('vsync', 'prod', m.deps.environment)));

  const s3 = await init(m.deps, prod, { bucket: 'acme-secrets', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000', prefix: 'team/' });
  t.same((await readConfig(s3.configFile)).s3, {
    bucket: 'acme-secrets',
    region: 'eu-west-1',
    endpoint: 'http://127.0.0.1:9000',
    prefix: 'team/',
  });
});

t.test('use: a relative symlink, a regular .env never replaced, where it points', async (t) => {
  const { base, cleanup } = tempBase('vsync-use-');
  t.teardown(cleanup);
  const m = machine(base, 'alice', new DirStorage(join(base, 'store')), new MemoryKeychain(), new Clock());
  execFileSync('git', ['init', '-q', m.ref.root]);
  await init(m.deps, m.ref, {});
  await init(m.deps, { ...m.ref, env: 'production' }, {});
  const env = m.deps.environment;
  await t.rejects(use(env, 'vsync', 'dev', m.ref.root), { code: 'USE_TARGET_MISSING', message: /infra\/vault\/dev\/\.env\.dev/ });

  writeFileSync(join(m.ref.root, 'infra/vault/dev/.env.dev'), 'A=dev\n');
  writeFileSync(join(m.ref.root, 'infra/vault/production/.env.production'), 'A=prod\n');
  const first = await use(env, 'vsync', 'dev', m.ref.root);
  t.same(first, { link: join(m.ref.root, '.env'), kind: 'symlink', target: 'infra/vault/dev/.env.dev', gitignored: false });
  t.equal(readlinkSync(join(m.ref.root, '.env')), 'infra/vault/dev/.env.dev', 'relative');
  t.equal(readFileSync(join(m.ref.root, '.env'), 'utf8'), 'A=dev\n');

  writeFileSync(join(m.ref.root, '.gitignore'), '.env\n');
  const second = await use(env, 'vsync', 'production', m.ref.root);
  t.equal(second.gitignored, true);
  t.equal(readFileSync(join(m.ref.root, '.env'), 'utf8'), 'A=prod\n');
  t.same(await showUse(m.ref.root), {
    link: join(m.ref.root, '.env'),
    kind: 'symlink',
    target: 'infra/vault/production/.env.production',
    gitignored: true,
  });

  const other = join(base, 'plain');
  mkdirSync(other);
  writeFileSync(join(other, '.env'), 'MINE=1\n');
  await t.rejects(use(env, 'vsync', 'dev', other), { code: 'USE_TARGET_MISSING' });
  mkdirSync(join(other, 'infra/vault/dev'), { recursive: true });
  writeFileSync(join(other, 'infra/vault/dev/.env.dev'), 'A=dev\n');
  await t.rejects(use(env, 'vsync', 'dev', other), { code: 'USE_ENV_IS_FILE' });
  t.equal(readFileSync(join(other, '.env'), 'utf8'), 'MINE=1\n', 'the regular file is untouched');
  t.ok(lstatSync(join(other, '.env')).isFile());
  t.same(await showUse(other), { link: join(other, '.env'), kind: 'file', gitignored: undefined });
});

t.test('init on a headless machine adopts the key from VSYNC_KEY and writes none', async (t) => {
  const { base, cleanup } = tempBase('vsync-init-');
  t.teardown(cleanup);
  const key = generateKey();
  const m = machine(base, 'ci', new DirStorage(join(base, 'store')), new EnvKeychain({ VSYNC_KEY: key }), new Clock());
  const result = await init(m.deps, m.ref, {});
  const config = await readConfig(result.configFile);
  t.equal(config.encryption.keyCheck, keyCheck(await deriveKey(key, config.encryption.salt)), 'the config is made for that key');
  const none = machine(base, 'bare', new DirStorage(join(base, 'store')), new EnvKeychain({}), new Clock());
  await t.rejects(init(none.deps, none.ref, {}), { code: 'KEYCHAIN_NOT_FOUND', hint: /VSYNC_KEY/ });
  t.notOk(existsSync(configFile('vsync', 'dev', none.deps.environment)));
});

t.test("init hands the key it derived to the ring: the vault's first push reads no keychain and derives nothing", async (t) => {
  const { base, cleanup } = tempBase('vsync-init-adopt-');
  t.teardown(cleanup);
  let gets = 0;
  const keychain = new MemoryKeychain();
  const counting = Object.assign(Object.create(keychain) as MemoryKeychain, {
    get: (account: string) => {
      gets++;
      return keychain.get(account);
    },
  });
  const m = machine(base, 'alice', new DirStorage(join(base, 'store')), counting, new Clock());
  await init(m.deps, m.ref, { store: join(base, 'store') });
  const afterInit = gets;
  writeFileSync(join(m.ref.root, 'infra', 'vault', 'dev', '.env.dev'), 'A=1\n');
  await push(m.deps, m.ref, {}, () => undefined);
  t.equal(gets, afterInit, 'no keychain read after init');
  t.equal(readFileSync(join(m.ref.root, 'infra', 'vault', 'dev', '.env.dev'), 'utf8'), 'A=1\n');
});
