// key export / key import in the domain: real files in temp HOMEs, real derivations, keychains in memory
// (the Secret Service is the integration test's). Every refusal is checked to change nothing: the keychain,
// the config folder and the share file stay exactly as they were.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey } from '../../daemon/crypto/key.js';
import { EnvKeychain } from '../../daemon/keychain/env-keychain.js';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { readConfig, writeConfig } from '../../daemon/vault/config.js';
import { init } from '../../daemon/vault/init.js';
import { differences, exportKey, importShare, readShare } from '../../daemon/vault/key-share.js';
import { encodeShare, sealShareFile } from '../../daemon/vault/share-file.js';
import { configFile, configRoot } from '../../shared/paths.js';
import { caught } from '../helpers/caught.js';
import { Clock, machine, tempBase, type Machine } from '../helpers/vault-fixture.js';

const { base, cleanup } = tempBase('vsync-key-share-');
t.teardown(cleanup);
const storage = new MemoryStorage();
const clock = new Clock();
let n = 0;

/** A machine with its own keychain (a teammate's laptop). */
function laptop(keychain = new MemoryKeychain()): Machine & { keychain: MemoryKeychain } {
  return Object.assign(machine(base, `m${++n}`, storage, keychain, clock), { keychain });
}

/** What a refusal must leave alone: the keychain's entries and every file under the config root. */
function snapshot(m: Machine, keychain?: MemoryKeychain): string {
  const root = configRoot(m.deps.environment);
  const files = existsSync(root)
    ? execFileSync('find', [root, '-printf', '%p %m %s\\n'], { encoding: 'utf8' }).split('\n').sort().join('\n') +
      readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => readFileSync(join(d.parentPath, d.name), 'base64'))
        .join(',')
    : '(no config root)';
  return JSON.stringify({ keys: keychain ? [...keychain.entries] : [], files });
}

const alice = laptop();
await init(alice.deps, alice.ref, {});
const aliceKey = await alice.keychain.get('vsync/dev');
const aliceConfig = await readConfig(configFile('vsync', 'dev', alice.deps.environment));
const exported = await exportKey(alice.deps, alice.ref, { folder: alice.ref.root });
const shareFile = exported.file;
const passphrase = exported.passphrase!;

t.test('export writes a 0600 share file in the folder and answers the passphrase it made', async (t) => {
  t.equal(shareFile, join(alice.ref.root, 'vsync-dev.share'));
  t.same({ repo: exported.repo, env: exported.env }, { repo: 'vsync', env: 'dev' });
  t.match(passphrase, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/);
  t.equal(statSync(shareFile).mode & 0o777, 0o600);
  t.notOk(readFileSync(shareFile).includes(Buffer.from(aliceKey)), 'the key text is not in the file');
  t.same(
    readdirSync(alice.ref.root).filter((name) => name.startsWith('.') && name !== '.gitignore'),
    [],
    'no temp file left beside it',
  );
  const share = await readShare(shareFile, passphrase);
  t.same(share, { repo: 'vsync', env: 'dev', key: aliceKey, config: aliceConfig });
});

t.test("export to --out; with a passphrase of one's own, it is not answered back", async (t) => {
  const out = join(base, 'elsewhere.share');
  const own = 'correct horse battery staple';
  const result = await exportKey(alice.deps, alice.ref, { folder: alice.ref.root, out, passphrase: own });
  t.same(result, { repo: 'vsync', env: 'dev', file: out });
  t.equal((await readShare(out, own)).key, aliceKey);
});

t.test('export refuses, and writes nothing', async (t) => {
  const before = readFileSync(shareFile);
  t.match(await caught(exportKey(alice.deps, alice.ref, { folder: alice.ref.root })), {
    code: 'SHARE_FILE_EXISTS',
    message: new RegExp(`already exists.*: ${shareFile}$`),
  });
  t.same(readFileSync(shareFile), before, 'the existing file is untouched');

  const dangling = join(base, 'dangling.share');
  symlinkSync(join(base, 'nowhere'), dangling);
  t.match(
    await caught(exportKey(alice.deps, alice.ref, { folder: alice.ref.root, out: dangling })),
    { code: 'SHARE_FILE_EXISTS' },
    'a dangling symlink is not followed',
  );
  t.notOk(existsSync(join(base, 'nowhere')));

  const missing = join(base, 'no-such-folder', 'x.share');
  t.match(await caught(exportKey(alice.deps, alice.ref, { folder: alice.ref.root, out: missing })), {
    code: 'SHARE_FILE_UNWRITABLE',
    message: new RegExp(`cannot be written: ${missing} \\(ENOENT\\)`),
  });

  const weak = join(base, 'weak.share');
  t.match(await caught(exportKey(alice.deps, alice.ref, { folder: alice.ref.root, out: weak, passphrase: 'hunter2' })), {
    code: 'SHARE_PASSPHRASE_INVALID',
    message: /7 characters, at least 16 needed/,
  });
  t.notOk(existsSync(weak));

  const stranger = laptop();
  t.match(
    await caught(exportKey(stranger.deps, stranger.ref, { folder: stranger.ref.root })),
    { code: 'CONFIG_NOT_FOUND' },
    'no vault here',
  );
  t.same(readdirSync(stranger.ref.root), [], 'no file written');

  // A config without its key, and a keychain holding another key than the config was made with.
  const keyless = laptop();
  mkdirSync(join(configRoot(keyless.deps.environment), 'vsync'), { recursive: true });
  await writeConfig(configFile('vsync', 'dev', keyless.deps.environment), aliceConfig);
  t.match(await caught(exportKey(keyless.deps, keyless.ref, { folder: keyless.ref.root })), { code: 'KEYCHAIN_NOT_FOUND' });
  await keyless.keychain.set('vsync/dev', generateKey());
  t.match(
    await caught(exportKey(keyless.deps, keyless.ref, { folder: keyless.ref.root })),
    { code: 'KEY_MISMATCH' },
    'a key that does not open the vault is never exported',
  );
  t.same(readdirSync(keyless.ref.root), []);
});

t.test('import into a machine with nothing: the key and the config are stored', async (t) => {
  const bob = laptop();
  const result = await importShare(bob.deps, await readShare(shareFile, passphrase));
  const file = configFile('vsync', 'dev', bob.deps.environment);
  t.same(result, {
    repo: 'vsync',
    env: 'dev',
    configFile: file,
    store: storage.describe('vsync/dev/'),
    keychain: 'memory',
    key: 'added',
    config: 'added',
  });
  t.equal(await bob.keychain.get('vsync/dev'), aliceKey);
  t.same(await readConfig(file), aliceConfig);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(statSync(join(file, '..')).mode & 0o777, 0o700);

  const before = snapshot(bob, bob.keychain);
  const inode = lstatSync(file).ino;
  const again = await importShare(bob.deps, await readShare(shareFile, passphrase));
  t.same({ key: again.key, config: again.config }, { key: 'present', config: 'present' }, 'the same file twice: already there');
  t.equal(snapshot(bob, bob.keychain), before, 'and nothing rewritten');
  t.equal(lstatSync(file).ino, inode);
});

t.test('import completes a half-imported vault', async (t) => {
  const onlyConfig = laptop();
  await writeConfig(configFile('vsync', 'dev', onlyConfig.deps.environment), aliceConfig);
  const a = await importShare(onlyConfig.deps, await readShare(shareFile, passphrase));
  t.same({ key: a.key, config: a.config }, { key: 'added', config: 'present' });
  t.equal(await onlyConfig.keychain.get('vsync/dev'), aliceKey);

  const onlyKey = laptop(new MemoryKeychain([['vsync/dev', aliceKey]]));
  const b = await importShare(onlyKey.deps, await readShare(shareFile, passphrase));
  t.same({ key: b.key, config: b.config }, { key: 'present', config: 'added' });
  t.same(await readConfig(configFile('vsync', 'dev', onlyKey.deps.environment)), aliceConfig);
});

t.test('import never replaces a different key or config, and changes nothing when it refuses', async (t) => {
  const share = await readShare(shareFile, passphrase);

  const otherKey = laptop(new MemoryKeychain([['vsync/dev', generateKey()]]));
  const before1 = snapshot(otherKey, otherKey.keychain);
  t.match(await caught(importShare(otherKey.deps, share)), {
    code: 'SHARE_CONFLICT',
    message: /holds another key for account "vsync\/dev" of service tools\.vsync/,
  });
  t.equal(snapshot(otherKey, otherKey.keychain), before1);

  const otherConfig = laptop();
  await writeConfig(configFile('vsync', 'dev', otherConfig.deps.environment), { ...aliceConfig, files: { vaultFolder: 'secrets/dev' } });
  const before2 = snapshot(otherConfig, otherConfig.keychain);
  t.match(await caught(importShare(otherConfig.deps, share)), {
    code: 'SHARE_CONFLICT',
    message: /env_dev differs from the share's config in files$/,
  });
  t.equal(snapshot(otherConfig, otherConfig.keychain), before2, 'the key was not stored either');

  // Another team's vault of the same name: both differ; the key is named first.
  const otherVault = laptop();
  await init(otherVault.deps, otherVault.ref, {});
  const before3 = snapshot(otherVault, otherVault.keychain);
  t.match(await caught(importShare(otherVault.deps, share)), { code: 'SHARE_CONFLICT', message: /another key/ });
  t.equal(snapshot(otherVault, otherVault.keychain), before3);

  const corrupt = laptop();
  mkdirSync(join(configRoot(corrupt.deps.environment), 'vsync'), { recursive: true });
  writeFileSync(configFile('vsync', 'dev', corrupt.deps.environment), 'not gzip');
  t.match(
    await caught(importShare(corrupt.deps, share)),
    { code: 'CONFIG_INVALID' },
    'a config that cannot be read is not replaced either',
  );
  t.equal(readFileSync(configFile('vsync', 'dev', corrupt.deps.environment), 'utf8'), 'not gzip');
  t.same([...corrupt.keychain.entries], []);
});

t.test('import with keys from VSYNC_KEY (read-only) refuses, even when it holds the same key', async (t) => {
  const share = await readShare(shareFile, passphrase);
  const headless = machine(base, `m${++n}`, storage, new EnvKeychain({ VSYNC_KEY: aliceKey }), clock);
  t.match(await caught(importShare(headless.deps, share)), {
    code: 'KEYCHAIN_READ_ONLY',
    message: /cannot store the key for "vsync\/dev": this agent takes its keys from the environment \(env:VSYNC_KEY\)/,
    hint: /unset every VSYNC_KEY variable/,
  });
  t.notOk(existsSync(configRoot(headless.deps.environment)), 'no config written');
});

t.test('a share whose key does not open its own config is refused', async (t) => {
  const forged = join(base, 'forged.share');
  writeFileSync(
    forged,
    await sealShareFile(encodeShare({ repo: 'vsync', env: 'dev', key: generateKey(), config: aliceConfig }), passphrase),
  );
  const bob = laptop();
  t.match(await caught(readShare(forged, passphrase).then((s) => importShare(bob.deps, s))), {
    code: 'SHARE_FILE_INVALID',
    message: /its key does not match its config's encryption\.keyCheck/,
  });
  t.same([...bob.keychain.entries], []);
  t.notOk(existsSync(configRoot(bob.deps.environment)));
});

t.test('a config that cannot be written takes back the key stored just before it', async (t) => {
  const bob = laptop();
  mkdirSync(configRoot(bob.deps.environment), { recursive: true });
  // Reads as absent (ENOENT through the dangling link), but mkdir of the repo's folder fails.
  symlinkSync(join(base, 'gone'), join(configRoot(bob.deps.environment), 'vsync'));
  t.ok(await caught(importShare(bob.deps, await readShare(shareFile, passphrase))));
  t.same([...bob.keychain.entries], [], 'the key is gone again');
});

t.test('reading a share file: clear errors for what is not one', async (t) => {
  t.match(await caught(readShare(join(base, 'nope.share'), passphrase)), {
    code: 'SHARE_FILE_UNREADABLE',
    message: /nope\.share \(ENOENT\)/,
  });
  t.match(await caught(readShare(base, passphrase)), { code: 'SHARE_FILE_UNREADABLE', message: /is not a regular file/ }, 'a folder');
  const fifo = join(base, 'fifo.share');
  execFileSync('mkfifo', [fifo]);
  t.match(
    await caught(readShare(fifo, passphrase)),
    { code: 'SHARE_FILE_UNREADABLE', message: /is not a regular file/ },
    'a fifo, without waiting for a writer',
  );
  const big = join(base, 'big.share');
  writeFileSync(big, Buffer.alloc(64 * 1024 + 1));
  t.match(await caught(readShare(big, passphrase)), { code: 'SHARE_FILE_INVALID', message: /65537 bytes; a share file is a few hundred/ });
  t.match(await caught(readShare(shareFile, '')), { code: 'SHARE_PASSPHRASE_INVALID', message: /empty/ });
  t.match(await caught(readShare(shareFile, 'wrong')), { code: 'SHARE_PASSPHRASE_WRONG' });
});

t.test('differences names the leaves that differ', async (t) => {
  t.same(differences({ a: 1, b: { c: 2, d: [1] } }, { a: 1, b: { c: 3, d: [1] } }), ['b.c']);
  t.same(differences({ s3: { bucket: 'x' } }, { store: { kind: 'dir' } }), ['s3', 'store'], 'a block on one side only is named whole');
  t.same(differences({ e: { salt: 'a', keyCheck: 'k' } }, { e: { salt: 'b', keyCheck: 'k' } }), ['e.salt']);
  t.same(differences({ a: [1, 2] }, { a: [2, 1] }), ['a']);
  t.same(differences(aliceConfig, structuredClone(aliceConfig)), []);
});
