import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { configFile, defaultStoreRoot } from '../../shared/paths.js';
import { type Config, readConfig, vaultFolderOf, writeConfig } from '../../daemon/vault/config.js';

const home = mkdtempSync(join(tmpdir(), 'vsync-config-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));
const env = { HOME: home };
const salt = 'mK3b4Ihh0uXmG1Ck8q3Zgw==';
const good: Config = { version: 1, s3: { bucket: 'acme-secrets', region: 'eu-west-1' }, encryption: { salt } };

function writeRaw(name: string, json: unknown): string {
  const file = join(home, 'raw', name);
  mkdirSync(join(home, 'raw'), { recursive: true });
  writeFileSync(file, gzipSync(Buffer.from(typeof json === 'string' ? json : JSON.stringify(json))));
  return file;
}

t.test('the path follows XDG', async (t) => {
  t.equal(configFile('acme_web', 'dev', env), join(home, '.config', 'vsync', 'acme_web', 'env_dev'));
  t.equal(configFile('acme_web', 'dev', { HOME: home, XDG_CONFIG_HOME: '/x/cfg' }), '/x/cfg/vsync/acme_web/env_dev');
  t.equal(defaultStoreRoot(env), join(home, '.local', 'share', 'vsync', 'store'), 'the embedded store');
  t.equal(defaultStoreRoot({ HOME: home, XDG_DATA_HOME: '/x/data' }), '/x/data/vsync/store');
});

t.test('write then read: gzip JSON, 0600 in 0700 folders', async (t) => {
  const file = configFile('acme_web', 'dev', env);
  await writeConfig(file, good);
  const bytes = readFileSync(file);
  t.same([bytes[0], bytes[1]], [0x1f, 0x8b], 'raw gzip');
  t.same(JSON.parse(gunzipSync(bytes).toString()), good, 'plain JSON inside, as FORMAT.md shows');
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(statSync(join(home, '.config', 'vsync', 'acme_web')).mode & 0o777, 0o700);
  t.equal(statSync(join(home, '.config', 'vsync')).mode & 0o777, 0o700);
  t.same(await readConfig(file), good);
  t.same(readdirSync(join(home, '.config', 'vsync', 'acme_web')), ['env_dev'], 'no temp file left');
});

t.test('the directory store and extensions round-trip; unknown fields are kept', async (t) => {
  const config = {
    version: 1,
    store: { kind: 'dir', root: '/var/lib/vsync/store' },
    encryption: { salt, keyCheck: 'gC8qJ6E1U0sV0m3D1ZtqBQ==', future: 1 },
    files: { vaultFolder: 'secrets/dev' },
    addedLater: { x: 1 },
  } as Config;
  const file = configFile('acme_web', 'local', env);
  await writeConfig(file, config);
  const read = await readConfig(file);
  t.same(read, config);
  t.equal(vaultFolderOf(read, 'local'), 'secrets/dev');
  t.equal(vaultFolderOf(good, 'dev'), 'infra/vault/dev', 'the default vault folder');
});

t.test('an upstream config (s3 block, salt only) reads', async (t) => {
  const file = writeRaw('upstream', {
    version: 1,
    s3: { bucket: 'muthuishere-vsync-e2e', region: 'ap-south-1' },
    encryption: { salt: 'AAECAwQFBgcICQoLDA0ODxAR' },
  });
  const read = await readConfig(file);
  t.equal(read.s3?.bucket, 'muthuishere-vsync-e2e');
});

t.test('bad files get errors that name the file and the field', async (t) => {
  await t.rejects(readConfig(join(home, 'nope', 'env_dev')), { code: 'CONFIG_NOT_FOUND', message: /nope\/env_dev/ });
  await t.rejects(readConfig(home), { code: 'CONFIG_INVALID', message: `${home}: EISDIR` }, 'a folder where the file should be');
  const loop = join(home, 'loop');
  symlinkSync(loop, loop);
  await t.rejects(
    readConfig(loop),
    { code: 'FILE_SYSTEM_REFUSED', message: `open ${loop}: ELOOP` },
    'the file system refusing is said as that, not as a broken config',
  );
  const plain = join(home, 'raw', 'plain');
  writeFileSync(plain, JSON.stringify(good));
  await t.rejects(readConfig(plain), { code: 'CONFIG_INVALID', message: /not gzip data/ });
  await t.rejects(readConfig(writeRaw('notjson', '{"version": 1,')), { code: 'CONFIG_INVALID', message: /gzip data that is not JSON/ });
  await t.rejects(readConfig(writeRaw('bomb', ' '.repeat(4 << 20))), {
    code: 'CONFIG_INVALID',
    message: /larger than 1048576 bytes once unzipped/,
  });
  const cases: Array<[string, unknown, RegExp]> = [
    ['no salt', { version: 1, s3: { bucket: 'acme-secrets' }, encryption: {} }, /encryption\.salt: /],
    ['bad salt', { ...good, encryption: { salt: 'short' } }, /encryption\.salt: must be 16 to 18 bytes/],
    ['bad bucket', { ...good, s3: { bucket: 'Not_A_Bucket' } }, /s3\.bucket: must be an S3 bucket name/],
    ['bad endpoint', { ...good, s3: { bucket: 'acme-secrets', endpoint: 'ftp://x' } }, /s3\.endpoint: must be an http\(s\) URL/],
    ['newer version', { ...good, version: 2 }, /version: version 2 is not supported by this vsync/],
    ['no store', { version: 1, encryption: { salt } }, /s3: name exactly one store/],
    ['two stores', { ...good, store: { kind: 'dir', root: '/x' } }, /s3: name exactly one store/],
    [
      'relative store root',
      { version: 1, store: { kind: 'dir', root: 'x' }, encryption: { salt } },
      /store\.root: must be an absolute path/,
    ],
    ['escaping vault folder', { ...good, files: { vaultFolder: '../x' } }, /files\.vaultFolder: must be a folder inside the repo/],
    ['absolute vault folder', { ...good, files: { vaultFolder: '/etc' } }, /files\.vaultFolder/],
    ['dot vault folder', { ...good, files: { vaultFolder: 'infra/./vault' } }, /files\.vaultFolder/],
    ['not an object', [1, 2], /\(top level\)/],
    ['vault folder with a backslash', { ...good, files: { vaultFolder: 'infra\\vault' } }, /files\.vaultFolder/],
    ['vault folder with a drive letter', { ...good, files: { vaultFolder: 'C:/x' } }, /files\.vaultFolder/],
    ['vault folder with a control character', { ...good, files: { vaultFolder: 'infra/\u0007' } }, /files\.vaultFolder/],
  ];
  for (const [name, json, message] of cases) {
    await t.rejects(readConfig(writeRaw(name.replace(/ /g, '_'), json)), { code: 'CONFIG_INVALID', message }, name);
  }
});

t.test('an invalid config is never written', async (t) => {
  const file = configFile('acme_web', 'bad', env);
  await t.rejects(writeConfig(file, { ...good, encryption: { salt: 'x' } }), { code: 'CONFIG_INVALID', message: /encryption\.salt/ });
  t.throws(() => statSync(file), { code: 'ENOENT' });
});
