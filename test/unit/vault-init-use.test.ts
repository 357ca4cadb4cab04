import t from 'tap';
import { existsSync, lstatSync, mkdirSync, readlinkSync, statSync, symlinkSync, unlinkSync, writeFileSync, readFileSync } from 'node:fs';
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
import { silent } from '../../shared/progress.js';
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

const GITIGNORE_AFTER_BOTH = `# secrets: kept by vsync, never committed
/infra/vault/dev/
/.env
# secrets: kept by vsync, never committed
/infra/vault/production/
`;

t.test('use: a relative symlink, a regular .env never replaced, where it points', async (t) => {
  const { base, cleanup } = tempBase('vsync-use-');
  t.teardown(cleanup);
  const m = machine(base, 'alice', new DirStorage(join(base, 'store')), new MemoryKeychain(), new Clock());
  execFileSync('git', ['init', '-q', m.ref.root]);
  await init(m.deps, m.ref, {});
  await init(m.deps, { ...m.ref, env: 'production' }, {});
  t.equal(readFileSync(join(m.ref.root, '.gitignore'), 'utf8'), GITIGNORE_AFTER_BOTH, 'init added each vault folder, and .env once');
  await t.rejects(use(m.deps, m.ref), { code: 'USE_NOTHING_PUSHED', message: /infra\/vault\/dev\/\.env\.dev/ });

  writeFileSync(join(m.ref.root, 'infra/vault/dev/.env.dev'), 'A=dev\n');
  writeFileSync(join(m.ref.root, 'infra/vault/production/.env.production'), 'A=prod\n');
  const first = await use(m.deps, m.ref);
  t.same(first, { link: join(m.ref.root, '.env'), kind: 'symlink', target: 'infra/vault/dev/.env.dev' }, 'ignored: no warning');
  t.equal(readlinkSync(join(m.ref.root, '.env')), 'infra/vault/dev/.env.dev', 'relative');
  t.equal(readFileSync(join(m.ref.root, '.env'), 'utf8'), 'A=dev\n');

  writeFileSync(join(m.ref.root, '.gitignore'), '');
  const second = await use(m.deps, { ...m.ref, env: 'production' });
  t.same(second.gitWarnings, [
    "infra/vault/production/ is not ignored by git, so `git add .` would commit it: `echo '/infra/vault/production/' >> .gitignore`",
    ".env is not ignored by git, so `git add .` would commit it: `echo '/.env' >> .gitignore`",
  ]);
  t.equal(readFileSync(join(m.ref.root, '.env'), 'utf8'), 'A=prod\n');
  t.same(await showUse(m.ref.root), { link: join(m.ref.root, '.env'), kind: 'symlink', target: 'infra/vault/production/.env.production' });

  const other = join(base, 'plain');
  mkdirSync(other);
  writeFileSync(join(other, '.env'), 'MINE=1\n');
  await t.rejects(use(m.deps, { ...m.ref, root: other }), { code: 'USE_NOTHING_PUSHED' });
  mkdirSync(join(other, 'infra/vault/dev'), { recursive: true });
  writeFileSync(join(other, 'infra/vault/dev/.env.dev'), 'A=dev\n');
  await t.rejects(use(m.deps, { ...m.ref, root: other }), { code: 'USE_ENV_IS_FILE' });
  t.equal(readFileSync(join(other, '.env'), 'utf8'), 'MINE=1\n', 'the regular file is untouched');
  t.ok(lstatSync(join(other, '.env')).isFile());
  t.same(await showUse(other), { link: join(other, '.env'), kind: 'file' });
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

t.test('init appends to .gitignore: never reorders, respects broader patterns, refuses a symlink', async (t) => {
  const { base, cleanup } = tempBase('vsync-ignore-');
  t.teardown(cleanup);
  const m = machine(base, 'alice', new DirStorage(join(base, 'store')), new MemoryKeychain(), new Clock());
  execFileSync('git', ['init', '-q', m.ref.root]);
  const gitignore = join(m.ref.root, '.gitignore');
  writeFileSync(gitignore, 'node_modules/\n!keep\ndist'); // no final newline
  const first = await init(m.deps, m.ref, {});
  t.same(first.gitignore, { file: gitignore, added: ['/infra/vault/dev/', '/.env'] });
  t.equal(
    readFileSync(gitignore, 'utf8'),
    'node_modules/\n!keep\ndist\n# secrets: kept by vsync, never committed\n/infra/vault/dev/\n/.env\n',
    'the old lines first, as they were; the new ones on lines of their own',
  );

  writeFileSync(gitignore, '.env*\ninfra/vault/\n');
  const second = await init(m.deps, { ...m.ref, env: 'stg' }, {});
  t.same(second.gitignore, { file: gitignore, added: [] }, 'git already ignores both: nothing added');
  t.equal(readFileSync(gitignore, 'utf8'), '.env*\ninfra/vault/\n');

  const elsewhere = join(base, 'elsewhere');
  writeFileSync(elsewhere, 'theirs\n');
  unlinkSync(gitignore);
  symlinkSync(elsewhere, gitignore);
  const third = await init(m.deps, { ...m.ref, env: 'qa' }, {});
  t.equal(third.gitignore, undefined);
  t.match(third.warnings, [/could not add \/infra\/vault\/qa\/ and \/\.env to .*\.gitignore: it is a symlink; add the lines/]);
  t.equal(readFileSync(elsewhere, 'utf8'), 'theirs\n', 'the file the symlink points at is untouched');
  t.equal(readFileSync(configFile('vsync', 'qa', m.deps.environment)).length > 0, true, 'the vault is made all the same');
});

t.test('use tells "never pushed" from "not pulled here", and warns of tracked secrets', async (t) => {
  const { base, cleanup } = tempBase('vsync-use-why-');
  t.teardown(cleanup);
  const m = machine(base, 'alice', new DirStorage(join(base, 'store')), new MemoryKeychain(), new Clock());
  execFileSync('git', ['init', '-q', m.ref.root]);
  await init(m.deps, m.ref, {});
  await t.rejects(use(m.deps, m.ref), { code: 'USE_NOTHING_PUSHED', message: /nothing pushed to file:\/\// });
  writeFileSync(join(m.ref.root, 'infra/vault/dev/.env.dev'), 'A=1\n');
  const pushed = await push(m.deps, m.ref, {}, silent);
  unlinkSync(join(m.ref.root, 'infra/vault/dev/.env.dev'));
  await t.rejects(use(m.deps, m.ref), { code: 'USE_NOT_PULLED', message: new RegExp(`the store has version ${pushed.version}`) });

  writeFileSync(join(m.ref.root, 'infra/vault/dev/.env.dev'), 'A=1\n');
  execFileSync('git', ['-C', m.ref.root, 'add', '-f', 'infra/vault/dev/.env.dev']);
  const used = await use(m.deps, m.ref);
  t.same(used.gitWarnings, [
    'infra/vault/dev/ is tracked by git, so its secrets are in the history: `git rm -r --cached --force -- infra/vault/dev` (the files stay), commit, and change the secrets it held',
  ]);
});
