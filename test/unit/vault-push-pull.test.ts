// The domain's push, pull and versions over the in-memory store (held to the storage contract) and real
// folders: the product page's day, and every way the remote can be wrong.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { VsyncError } from '../../shared/errors.js';
import { dirname, join } from 'node:path';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { pull } from '../../daemon/vault/pull.js';
import { push, pushFolder } from '../../daemon/vault/push.js';
import { readFolder } from '../../daemon/bundle/zip-folder.js';
import { openVault } from '../../daemon/vault/vault.js';
import { versions } from '../../daemon/vault/versions.js';
import { generateKey } from '../../daemon/crypto/key.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { seal } from '../../daemon/crypto/seal.js';
import { readConfig } from '../../daemon/vault/config.js';
import { stateFile } from '../../daemon/vault/local-state.js';
import { configFile } from '../../shared/paths.js';
import { ZipArchive } from 'archiver';
import { buffer } from 'node:stream/consumers';
import { type Clock, twoMachines, type Machine } from '../helpers/vault-fixture.js';

const envFile = (m: Machine) => join(m.ref.root, 'infra', 'vault', 'dev', '.env.dev');
const write = (m: Machine, text: string) => writeFileSync(envFile(m), text);
const read = (m: Machine) => readFileSync(envFile(m), 'utf8');

function day() {
  return twoMachines('vsync-domain-', new MemoryStorage());
}

/** Alice pushes v=1 then v=2 (20260516-113304, -113305); Bob pulls v=2. */
async function twoVersionsBobHasTheNewer(clock: Clock, a: Machine, b: Machine): Promise<void> {
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  clock.advance(1);
  write(a, 'v=2\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
}

t.test("the product page's day: push, versions, a teammate pulls", async (t) => {
  const { cleanup, storage, clock, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'DATABASE_URL=postgres://dev\n');
  const pushed = await push(a.deps, a.ref, {}, a.progress);
  t.equal(pushed.version, '20260516-113304');
  t.same(a.lines(), [
    '[1/5] zipping infra/vault/dev/',
    '[2/5] sealing manifest ts=20260516-113304',
    '[3/5] encrypting',
    `[4/5] uploading ${pushed.bytes} bytes → memory:///vsync/dev/versions/20260516-113304.enc`,
    '[5/5] updating pointer → memory:///vsync/dev/latest',
  ]);
  t.equal((await storage.get('vsync/dev/latest')).body.toString(), '20260516-113304', 'latest holds the bare timestamp');

  clock.advance(39);
  const pulled = await pull(b.deps, b.ref, {}, b.progress);
  t.same(
    b.lines(),
    [
      '[1/6] backing up local infra/vault/dev/ (if any)',
      '[2/6] reading pointer memory:///vsync/dev/latest',
      '[3/6] downloading version 20260516-113304 (vsync/dev/versions/20260516-113304.enc)',
      '[4/6] decrypting',
      '[5/6] verifying manifest ts',
      `[6/6] unzipping into ${b.ref.root}`,
    ],
    'no backup line when there was nothing to back up',
  );
  t.equal(pulled.backup, undefined);
  t.equal(read(b), 'DATABASE_URL=postgres://dev\n');

  write(b, 'DATABASE_URL=postgres://dev2\n');
  clock.advance(60);
  t.equal((await push(b.deps, b.ref, {}, () => undefined)).version, '20260516-113443');
  const list = await versions(a.deps, a.ref);
  t.equal(list.location, 'memory:///vsync/dev/versions/');
  t.same(
    list.versions.map((v) => [v.ts, v.latest]),
    [
      ['20260516-113443', true],
      ['20260516-113304', false],
    ],
    'newest first, latest marked',
  );

  a.events.length = 0;
  const back = await pull(a.deps, a.ref, {}, a.progress);
  t.match(a.lines()[1], /^→ .*\/\.config\/vsync\/backups\/vsync\/dev-20260516-113443\.zip\.enc$/, 'the backup line under step 1');
  t.ok(back.backup && existsSync(back.backup));
  t.equal(read(a), 'DATABASE_URL=postgres://dev2\n');
});

t.test('a push over a remote that moved is refused, names both versions, and --force goes through', async (t) => {
  const { cleanup, storage, clock, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  clock.advance(5);
  await pull(b.deps, b.ref, {}, () => undefined);
  write(b, 'v=2\n');
  await push(b.deps, b.ref, {}, () => undefined);
  write(a, 'v=3\n');
  clock.advance(5);
  await t.rejects(
    push(a.deps, a.ref, {}, () => undefined),
    { code: 'VAULT_CONFLICT', message: /remote latest is 20260516-113309; this machine last synced 20260516-113304/ },
  );
  t.equal((await storage.get('vsync/dev/latest')).body.toString(), '20260516-113309', 'the remote is as before');
  t.equal((await storage.list('vsync/dev/versions/')).length, 2, 'no version was uploaded');
  const forced = await push(a.deps, a.ref, { force: true }, () => undefined);
  t.equal((await storage.get('vsync/dev/latest')).body.toString(), forced.version);
});

t.test('a new machine that never synced may not push over an existing remote', async (t) => {
  const { cleanup, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  mkdirSync(join(b.ref.root, 'infra', 'vault', 'dev'), { recursive: true });
  write(b, 'mine\n');
  await t.rejects(
    push(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_CONFLICT', message: /last synced nothing/ },
  );
});

t.test('timestamps strictly increase when the clock is behind the remote', async (t) => {
  const { cleanup, clock, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  clock.advance(3600);
  await push(a.deps, a.ref, {}, () => undefined);
  clock.advance(-3600); // bob's clock runs an hour behind
  await pull(b.deps, b.ref, {}, () => undefined);
  write(b, 'v=2\n');
  t.equal((await push(b.deps, b.ref, {}, () => undefined)).version, '20260516-123305');
  t.equal((await push(b.deps, b.ref, {}, () => undefined)).version, '20260516-123306', 'and again in the same second');
});

t.test('an orphaned version (a push that died before moving latest) is stepped over', async (t) => {
  const { cleanup, storage, a } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await storage.put('vsync/dev/versions/20260516-113305.enc', Buffer.from('orphan'));
  write(a, 'v=2\n');
  t.equal((await push(a.deps, a.ref, {}, () => undefined)).version, '20260516-113306');
  t.equal((await storage.get('vsync/dev/versions/20260516-113305.enc')).body.toString(), 'orphan', 'never overwritten');
});

t.test('a push whose version name is not the one guessed from its floor still asks for the right name', async (t) => {
  // Alice's floor is 113304, so her push asks early whether 113305 is taken (it is not). But latest names
  // 113308 (pushed from elsewhere), so her (forced) push names 113309, where an orphan sits: that name must
  // be asked about too, and stepped over, not taken as free on the guess's answer.
  const { cleanup, storage, a } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await storage.put('vsync/dev/versions/20260516-113308.enc', Buffer.from('from elsewhere'));
  await storage.put('vsync/dev/latest', Buffer.from('20260516-113308'));
  await storage.put('vsync/dev/versions/20260516-113309.enc', Buffer.from('orphan'));
  write(a, 'v=2\n');
  t.equal((await push(a.deps, a.ref, { force: true }, () => undefined)).version, '20260516-113310');
  t.equal((await storage.get('vsync/dev/versions/20260516-113309.enc')).body.toString(), 'orphan', 'never overwritten');
});

t.test('unpushed local edits: refused, backed up, folder untouched; --force replaces them', async (t) => {
  const { cleanup, clock, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  write(a, 'v=2\n');
  clock.advance(1);
  await push(a.deps, a.ref, {}, () => undefined);
  write(b, 'local edit\n');
  clock.advance(1);
  const err = await pull(b.deps, b.ref, {}, () => undefined).catch((e: unknown) => e);
  t.match(err, { code: 'VAULT_UNPUSHED_CHANGES', message: /backup: .*dev-20260516-113306\.zip\.enc/ });
  t.equal(read(b), 'local edit\n', 'the folder is as it was');
  const backups = readdirSync(join(b.home, '.config', 'vsync', 'backups', 'vsync'));
  t.same(backups, ['dev-20260516-113306.zip.enc'], 'the backup is kept');
  clock.advance(1);
  await pull(b.deps, b.ref, { force: true }, () => undefined);
  t.equal(read(b), 'v=2\n');
  t.same(
    readdirSync(join(b.home, '.config', 'vsync', 'backups', 'vsync')),
    ['dev-20260516-113306.zip.enc'],
    'the same edit is not backed up twice',
  );
  for (const n of [1, 2, 3]) {
    clock.advance(1);
    await pull(b.deps, b.ref, {}, () => undefined);
    t.same(
      readdirSync(join(b.home, '.config', 'vsync', 'backups', 'vsync')).sort(),
      ['dev-20260516-113306.zip.enc', 'dev-20260516-113308.zip.enc'],
      `pull ${n} of an unchanged folder rotates nothing away: the unpushed edit is still backed up`,
    );
  }
  write(b, 'another edit\n');
  clock.advance(1);
  await pull(b.deps, b.ref, { force: true }, () => undefined);
  t.same(
    readdirSync(join(b.home, '.config', 'vsync', 'backups', 'vsync')).sort(),
    ['dev-20260516-113308.zip.enc', 'dev-20260516-113311.zip.enc'],
    'two newest kept',
  );

  // What a killed agent left mid-backup is removed at the next backup; a running process's temp file stays.
  const folder = join(b.home, '.config', 'vsync', 'backups', 'vsync');
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  const dead = `.dev.zip.enc.tmp-${gone}-0123456789ab`;
  const ours = `.dev.zip.enc.tmp-${process.pid}-0123456789ab`;
  writeFileSync(join(folder, dead), 'ciphertext');
  writeFileSync(join(folder, ours), 'ciphertext');
  write(b, 'a third edit\n');
  clock.advance(1);
  await pull(b.deps, b.ref, { force: true }, () => undefined);
  const left = readdirSync(folder);
  t.notOk(left.includes(dead), "a dead agent's temp file is removed");
  t.ok(left.includes(ours), "a running process's is not");
});

t.test('a pull into a folder that already holds the version swaps nothing and records nothing new', async (t) => {
  const { cleanup, clock, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  const folder = join(b.ref.root, 'infra', 'vault', 'dev');
  const before = {
    folder: statSync(folder).ino,
    file: statSync(join(folder, '.env.dev')).ino,
    state: readFileSync(stateFile('vsync', 'dev', b.deps.environment), 'utf8'),
  };
  clock.advance(1);
  const steps: string[] = [];
  const result = await pull(b.deps, b.ref, {}, (e) => void (e.kind === 'step' && steps.push(e.text)));
  t.equal(steps.length, 6, 'the six steps are still reported');
  t.equal(result.version, '20260516-113304');
  t.same(
    {
      folder: statSync(folder).ino,
      file: statSync(join(folder, '.env.dev')).ino,
      state: readFileSync(stateFile('vsync', 'dev', b.deps.environment), 'utf8'),
    },
    before,
    'same folder, same file, same state',
  );
  write(a, 'v=2\n');
  clock.advance(1);
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(read(b), 'v=2\n');
  t.not(statSync(folder).ino, before.folder, 'a new version is swapped in');
});

t.test('anti-rollback: a pointer moved back to an older genuine version is refused unless asked for by name', async (t) => {
  const { cleanup, storage, clock, a, b } = await day();
  t.teardown(cleanup);
  await twoVersionsBobHasTheNewer(clock, a, b);
  await storage.put('vsync/dev/latest', Buffer.from('20260516-113304'));
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_ROLLBACK', message: /latest names 20260516-113304, but this machine has seen 20260516-113305/ },
  );
  t.equal(read(b), 'v=2\n');
  await pull(b.deps, b.ref, { at: '20260516-113304' }, () => undefined);
  t.equal(read(b), 'v=1\n', '--at takes the old version on purpose');
});

t.test('a version renamed to a newer name: the seal refuses it', async (t) => {
  const { cleanup, storage, clock, a, b } = await day();
  t.teardown(cleanup);
  await twoVersionsBobHasTheNewer(clock, a, b);
  const old = (await storage.get('vsync/dev/versions/20260516-113304.enc')).body;
  await storage.put('vsync/dev/versions/20260517-000000.enc', old);
  await storage.put('vsync/dev/latest', Buffer.from('20260517-000000'));
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_SEAL_MISMATCH', message: /asked for 20260517-000000, the bundle is sealed 20260516-113304/ },
  );
  t.equal(read(b), 'v=2\n', 'the folder is untouched');
});

t.test('damaged remotes: flipped byte, missing version, junk pointer, nothing pushed', async (t) => {
  const { cleanup, storage, a, b } = await day();
  t.teardown(cleanup);
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_EMPTY' },
  );
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  const key = 'vsync/dev/versions/20260516-113304.enc';
  const good = (await storage.get(key)).body;
  const bad = Buffer.from(good);
  bad[40] = bad[40]! ^ 0x80;
  await storage.put(key, bad);
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'DECRYPT_FAILED' },
  );
  t.notOk(existsSync(envFile(b)), 'nothing written');
  await storage.delete(key);
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_VERSION_NOT_FOUND', message: /latest names 20260516-113304/ },
  );
  await storage.put('vsync/dev/latest', Buffer.from('../../etc/passwd'));
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_POINTER_INVALID' },
  );
  await t.rejects(
    pull(b.deps, b.ref, { at: '2026-05-16' }, () => undefined),
    { code: 'TIMESTAMP_INVALID' },
  );
  t.same((await versions(b.deps, b.ref)).latest, undefined, 'versions still lists with a junk pointer');
});

t.test('a wrong key in the keychain is named as such', async (t) => {
  const { cleanup, keychain, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await keychain.set('vsync/dev', generateKey());
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'KEY_MISMATCH' },
  );
});

t.test('a genuine, sealed version holding an escaping or linked entry is refused; nothing is written', async (t) => {
  const { cleanup, storage, keychain, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  const config = await readConfig(configFile('vsync', 'dev', a.deps.environment));
  const aesKey = await deriveKey(await keychain.get('vsync/dev'), config.encryption.salt);
  for (const [what, add] of [
    ['an entry outside the vault folder', (z: ZipArchive) => z.append(Buffer.from('x'), { name: 'infra/vault/other/.env' })],
    ['a symlink', (z: ZipArchive) => z.symlink('infra/vault/dev/.env.dev', '/etc/passwd')],
  ] as const) {
    const zip = new ZipArchive({ store: true });
    const bytes = buffer(zip);
    add(zip);
    const [payload] = await Promise.all([bytes, zip.finalize()]);
    const ts = '20260516-120000'; // after the pushed version, within a day of the clock (not from the future)
    await storage.put(`vsync/dev/versions/${ts}.enc`, encryptEnvelope(aesKey, seal(ts, payload)));
    await storage.put('vsync/dev/latest', Buffer.from(ts));
    await t.rejects(
      pull(b.deps, b.ref, {}, () => undefined),
      { code: 'BUNDLE_UNSAFE_ENTRY' },
      what,
    );
    t.equal(read(b), 'v=1\n', `${what}: the folder is as it was`);
    t.same(readdirSync(join(b.ref.root, 'infra', 'vault')), ['dev'], `${what}: nothing beside it`);
  }
});

t.test("two clones of one repo on one machine: one clone's push does not let the other, stale one push over it", async (t) => {
  const { cleanup, storage, clock, a } = await day();
  t.teardown(cleanup);
  const clone = { ...a.ref, root: join(a.home, 'projects', 'myrepo-2') };
  mkdirSync(join(clone.root, 'infra', 'vault', 'dev'), { recursive: true });
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(a.deps, clone, {}, () => undefined);
  clock.advance(1);
  write(a, 'v=2\n');
  await push(a.deps, a.ref, {}, () => undefined);
  writeFileSync(join(clone.root, 'infra', 'vault', 'dev', '.env.dev'), 'stale edit\n');
  await t.rejects(
    push(a.deps, clone, {}, () => undefined),
    { code: 'VAULT_CONFLICT' },
  );
  t.equal((await storage.get('vsync/dev/latest')).body.toString(), '20260516-113305', 'v=2 stays latest');
});

t.test('a crash after the pointer moved but before the push was recorded: the next push is not a conflict', async (t) => {
  const { cleanup, storage, clock, a } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  // The store writes latest, then the process "dies" before it can record the sync.
  const crashing = new Proxy(storage, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== 'putIfMatch') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: [string, Buffer, string]) => {
        await target.putIfMatch(...args);
        throw new Error('killed');
      };
    },
  });
  write(a, 'v=2\n');
  clock.advance(1);
  await t.rejects(
    push({ ...a.deps, storageFor: () => crashing }, a.ref, {}, () => undefined),
    { message: 'killed' },
  );
  t.equal((await storage.get('vsync/dev/latest')).body.toString(), '20260516-113305', 'the pointer did move');
  write(a, 'v=3\n');
  clock.advance(1);
  const next = await push(a.deps, a.ref, {}, () => undefined);
  t.equal(next.version, '20260516-113306', 'the pending push was adopted: no conflict, no --force');
});

t.test('a crash after the folder was swapped but before the pull was recorded: the next pull sees no unpushed edits', async (t) => {
  const { cleanup, clock, a, b } = await day();
  t.teardown(cleanup);
  const { readLocalState, writeLocalState, beginSync, stateFile } = await import('../../daemon/vault/local-state.js');
  const file = stateFile('vsync', 'dev', b.deps.environment);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  const before = await readLocalState(file);
  clock.advance(1);
  write(a, 'v=2\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  const after = await readLocalState(file);
  const record = after.synced![b.ref.root]!;
  // What a crash between the swap and the record leaves: the old record, and the new one pending.
  await writeLocalState(file, beginSync(before, b.ref.root, { ts: record.ts, digest: record.digest, etag: record.etag }));
  clock.advance(1);
  write(a, 'v=3\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(read(b), 'v=3\n', 'pulled without --force');
  t.same((await readLocalState(file)).pending, undefined, 'and nothing is pending any more');
});

t.test('remote reads overlap local work, yet a local failure is the one reported and nothing is left unhandled', async (t) => {
  const { cleanup, storage, a, b } = await day();
  t.teardown(cleanup);
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  // The store now fails every read (after a moment, so the local failure comes first) ...
  const failing = Object.assign(Object.create(storage) as MemoryStorage, {
    get: async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new VsyncError('STORAGE_TRANSIENT', 'the store is down');
    },
  });
  const deps = { ...b.deps, storageFor: () => failing };
  // ... and the folder holds what no bundle may: both operations refuse it by name.
  symlinkSync('/etc/passwd', join(b.ref.root, 'infra', 'vault', 'dev', 'passwd'));
  await t.rejects(
    push(deps, b.ref, {}, () => undefined),
    { code: 'BUNDLE_SOURCE_INVALID' },
  );
  await t.rejects(
    pull(deps, b.ref, {}, () => undefined),
    { code: 'BUNDLE_SOURCE_INVALID' },
  );
  await new Promise((resolve) => setTimeout(resolve, 50)); // the reads fail now, after the refusals
  rmSync(join(b.ref.root, 'infra', 'vault', 'dev', 'passwd'));
  await t.rejects(
    pull(deps, b.ref, {}, () => undefined),
    { code: 'STORAGE_TRANSIENT' },
    'with a clean folder the store failure is reported',
  );
  t.equal(read(b), 'v=1\n', 'the folder is as it was');
});

// pushFolder: a push on save reads the vault folder once, to decide, and pushes that same read instead of
// reading the folder again; only when a swap cut short had to be put right first does it read again.

t.test('the read it is handed is what is pushed, not the folder as it is by then', async (t) => {
  const { cleanup, clock, a, b } = await twoMachines('vsync-push-read-', new MemoryStorage());
  t.teardown(cleanup);
  write(a, 'A=1\n');
  const vault = await openVault(a.deps, a.ref);
  const read = await readFolder(a.ref.root, vault.vaultFolder, vault.limits);
  write(a, 'A=2\n'); // saved after the read: the watcher will see it and push again
  const result = await pushFolder(a.deps, vault, read, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(readFileSync(envFile(b), 'utf8'), 'A=1\n', 'the teammate gets what was read');

  clock.advance(1);
  const again = await pushFolder(a.deps, vault, undefined, {}, () => undefined);
  t.not(again.version, result.version, 'without a read, the folder is read now');
  clock.advance(1);
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(readFileSync(envFile(b), 'utf8'), 'A=2\n');
});

t.test('a swap cut short is put right first, and then the folder is read again', async (t) => {
  const { cleanup, a, b } = await twoMachines('vsync-push-read-', new MemoryStorage());
  t.teardown(cleanup);
  write(a, 'stale=1\n');
  const vault = await openVault(a.deps, a.ref);
  const read = await readFolder(a.ref.root, vault.vaultFolder, vault.limits);
  // A pull killed mid-swap: the vault folder moved aside under its hidden old name, with other content.
  write(a, 'kept=1\n');
  renameSync(dirname(envFile(a)), join(dirname(dirname(envFile(a))), '.vsync-old-dev-0123abcd'));
  await pushFolder(a.deps, vault, read, {}, () => undefined);
  t.equal(readFileSync(envFile(a), 'utf8'), 'kept=1\n', 'the folder is back');
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(readFileSync(envFile(b), 'utf8'), 'kept=1\n', 'and what was pushed is the folder put back, not the older read');
});
