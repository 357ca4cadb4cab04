// push, pull and versions against a store an insider wrote (the right key, the wrong intent): a latest from
// the future, an oversized version or pointer, names the file system cannot hold. Each is refused with its
// code and nothing changes here, and the vault goes on working for the next honest push and pull.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZipArchive } from 'archiver';
import { buffer } from 'node:stream/consumers';
import { MemoryStorage } from '../fakes/memory-storage.js';
import type { Consumer, ReadOptions, StoredObject } from '../../daemon/storage/storage.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { versions } from '../../daemon/vault/versions.js';
import { EventHub } from '../../daemon/vault/event-hub.js';
import { doctor } from '../../daemon/vault/doctor/doctor.js';
import { VaultService } from '../../daemon/vault/vault-service.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { seal } from '../../daemon/crypto/seal.js';
import { readConfig } from '../../daemon/vault/config.js';
import { stateFile } from '../../daemon/vault/local-state.js';
import { configFile } from '../../shared/paths.js';
import { twoMachines, type Machine } from '../helpers/vault-fixture.js';

const FUTURE = '99991231-235959';
const envFile = (m: Machine) => join(m.ref.root, 'infra', 'vault', 'dev', '.env.dev');
const write = (m: Machine, text: string) => writeFileSync(envFile(m), text);
const read = (m: Machine) => readFileSync(envFile(m), 'utf8');
const state = (m: Machine) => readFileSync(stateFile('vsync', 'dev', m.deps.environment), 'utf8');

/** A MemoryStorage that records which keys were read (get, download). */
class RecordingStorage extends MemoryStorage {
  gets: string[] = [];
  override get(key: string, limit?: ReadOptions): Promise<StoredObject> {
    this.gets.push(key);
    return super.get(key, limit);
  }

  override download<T>(key: string, consume: Consumer<T>, limit?: ReadOptions): Promise<T> {
    this.gets.push(key);
    return super.download(key, consume, limit);
  }
}

/** Alice pushes v=1, Bob pulls it: both in step at 20260516-113304. */
async function inStep() {
  const { cleanup, storage, keychain, clock, a, b } = await twoMachines('vsync-hostile-', new RecordingStorage());
  write(a, 'v=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  const config = await readConfig(configFile('vsync', 'dev', a.deps.environment));
  const aesKey = await deriveKey(await keychain.get('vsync/dev'), config.encryption.salt);
  /** What an insider does: a genuine, sealed version at `ts` holding `entries`, and latest moved to it. */
  const plant = async (ts: string, entries: Array<[string, string]>, moveLatest = true) => {
    const zip = new ZipArchive({ store: true });
    const bytes = buffer(zip);
    for (const [name, text] of entries) zip.append(Buffer.from(text), { name, mode: 0o600 });
    const [payload] = await Promise.all([bytes, zip.finalize()]);
    await storage.put(`vsync/dev/versions/${ts}.enc`, encryptEnvelope(aesKey, seal(ts, payload)));
    if (moveLatest) await storage.put('vsync/dev/latest', Buffer.from(ts));
  };
  return { cleanup, storage, clock, a, b, plant };
}

t.test('a latest from the future: pull refuses it unread, push replaces it only with --force, named by the clock', async (t) => {
  const { cleanup, storage, clock, a, b, plant } = await inStep();
  t.teardown(cleanup);
  await plant(FUTURE, [['infra/vault/dev/.env.dev', 'v=evil\n']]);
  const bobState = state(b);

  storage.gets = [];
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_VERSION_FROM_FUTURE', message: /latest names 99991231-235959, more than 24 h after/ },
  );
  t.equal(read(b), 'v=1\n', 'the folder is as it was');
  t.equal(state(b), bobState, 'the sync state (and its anti-rollback floor) is as it was');
  t.notOk(storage.gets.includes(`vsync/dev/versions/${FUTURE}.enc`), 'the version was not even downloaded');

  const checked = (await doctor(b.deps, 'dev', async () => b.ref)).checks.find((c) => c.name === 'store')!;
  t.match(
    checked,
    { status: 'warn', detail: /→ 99991231-235959, more than a day after this machine's clock: pull refuses it/ },
    'doctor warns of it',
  );

  const listed = await versions(b.deps, b.ref);
  t.same(
    listed.versions.map((v) => [v.ts, v.latest]),
    [
      [FUTURE, true],
      ['20260516-113304', false],
    ],
    'versions lists it, as latest',
  );

  clock.advance(60);
  write(b, 'v=2\n');
  await t.rejects(
    push(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_CONFLICT', hint: /from the future.*push --force/ },
    'not replaced silently',
  );
  const pushed = await push(b.deps, b.ref, { force: true }, b.progress);
  t.equal(pushed.version, '20260516-113404', 'named by the clock, not after the future one');
  t.ok(
    b.lines().some((l) => l.includes(`the remote latest names ${FUTURE}`)),
    'a warning names the refused latest',
  );
  t.equal((await storage.get('vsync/dev/latest')).body.toString(), '20260516-113404', 'latest moved');
  t.ok(existsSync(stateFile('vsync', 'dev', b.deps.environment)));
  t.equal(JSON.parse(state(b)).newestSeen, '20260516-113404', 'the floor is the real version');

  // Not bricked: the next pushes and pulls are ordinary.
  write(b, 'v=3\n');
  t.equal((await push(b.deps, b.ref, {}, () => undefined)).version, '20260516-113405');
  await pull(a.deps, a.ref, { force: true }, () => undefined);
  t.equal(read(a), 'v=3\n', 'a teammate pulls the good version');
});

t.test('--follow meets a latest from the future: the coded refusal, announced, and the folder untouched', async (t) => {
  const { cleanup, b, plant } = await inStep();
  t.teardown(cleanup);
  writeFileSync(join(b.ref.root, '.vsync'), 'repo=vsync\n'); // outside git: the folder is the checkout
  const events = new EventHub();
  const seen: Array<{ type: string; code?: string }> = [];
  events.subscribe((e) => void seen.push(e as { type: string; code?: string }));
  const service = new VaultService(b.deps, { events });
  await plant(FUTURE, [['infra/vault/dev/.env.dev', 'v=evil\n']]);
  await t.rejects(
    service.follow(b.ref.root, 'dev', () => undefined),
    { code: 'VAULT_VERSION_FROM_FUTURE' },
  );
  t.same(
    seen.filter((e) => e.type === 'pull-failed').map((e) => e.code),
    ['VAULT_VERSION_FROM_FUTURE'],
    'pull-failed names the code, not INTERNAL',
  );
  t.equal(read(b), 'v=1\n');
});

t.test('a version from the future asked for by name is pulled with a warning, and never becomes the floor', async (t) => {
  const { cleanup, a, b, plant } = await inStep();
  t.teardown(cleanup);
  await plant(FUTURE, [['infra/vault/dev/.env.dev', 'v=odd\n']]);
  await pull(b.deps, b.ref, { at: FUTURE }, b.progress);
  t.equal(read(b), 'v=odd\n');
  t.ok(
    b.lines().some((l) => l.includes(`version ${FUTURE} is named more than 24 h after`)),
    'said out loud',
  );
  t.equal(JSON.parse(state(b)).newestSeen, '20260516-113304', 'the floor stays where it was');
  write(b, 'v=4\n');
  t.equal((await push(b.deps, b.ref, {}, () => undefined)).version, '20260516-113305', 'push goes on, past the real floor');
  await pull(a.deps, a.ref, {}, () => undefined);
  t.equal(read(a), 'v=4\n');
});

t.test('a floor already raised to the future (before this rule) neither blocks pulls nor pushes', async (t) => {
  const { cleanup, clock, a, b } = await inStep();
  t.teardown(cleanup);
  const file = stateFile('vsync', 'dev', b.deps.environment);
  writeFileSync(file, JSON.stringify({ ...JSON.parse(state(b)), newestSeen: FUTURE }));
  clock.advance(1);
  write(a, 'v=2\n');
  await push(a.deps, a.ref, {}, () => undefined);
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(read(b), 'v=2\n', 'pulled, not VAULT_ROLLBACK');
  t.equal(JSON.parse(state(b)).newestSeen, '20260516-113305', 'the poisoned floor is gone');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(state(b)), newestSeen: FUTURE }));
  write(b, 'v=3\n');
  t.equal((await push(b.deps, b.ref, {}, () => undefined)).version, '20260516-113306', 'pushed, not INTERNAL');
});

t.test('a version over the cap is refused by its size; a latest over 1 KiB is no pointer', async (t) => {
  const { cleanup, storage, b } = await inStep();
  t.teardown(cleanup);
  const capped = { ...b, deps: { ...b.deps, maxVersionBytes: 4096 } };
  await storage.put('vsync/dev/versions/20260516-113305.enc', Buffer.alloc(8192, 1));
  await storage.put('vsync/dev/latest', Buffer.from('20260516-113305'));
  const bobState = state(b);
  await t.rejects(
    pull(capped.deps, b.ref, {}, () => undefined),
    {
      code: 'VAULT_VERSION_TOO_LARGE',
      message: /holds 8192 bytes, over the cap of 4096 \(VSYNC_MAX_VERSION_BYTES=4096\)/,
    },
  );
  t.equal(read(b), 'v=1\n');
  t.equal(state(b), bobState);

  // 15 characters and 2,000 spaces: trimmed, a valid pointer; but not a pointer vsync would write or read.
  await storage.put('vsync/dev/latest', Buffer.from(`20260516-113304${' '.repeat(2000)}`));
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_POINTER_INVALID', message: /larger than 1024 bytes/ },
  );
  await t.rejects(
    push(b.deps, b.ref, { force: true }, () => undefined),
    { code: 'VAULT_POINTER_INVALID' },
  );
  t.equal((await versions(b.deps, b.ref)).latest, undefined, 'versions still lists, without a latest');
  t.equal(read(b), 'v=1\n');
});

t.test('names the file system cannot hold are refused before anything is written', async (t) => {
  const { cleanup, clock, a, b, plant } = await inStep();
  t.teardown(cleanup);
  const deep = Array.from({ length: 21 }, () => 'd'.repeat(200)).join('/');
  const cases: Array<[string, string]> = [
    ['a part of 256 bytes', `infra/vault/dev/${'a'.repeat(256)}`],
    ['a part of 256 bytes in 2-byte characters', `infra/vault/dev/${'é'.repeat(128)}`],
    ['a folder part of 256 bytes', `infra/vault/dev/${'f'.repeat(256)}/x`],
    ['a path over 4095 bytes from the checkout', `infra/vault/dev/${deep}/x`],
  ];
  let n = 5;
  for (const [what, name] of cases) {
    const ts = `20260516-1133${String(n++).padStart(2, '0')}`;
    await plant(ts, [
      ['infra/vault/dev/.env.dev', 'v=evil\n'],
      [name, 'x'],
    ]);
    const before = readdirSync(join(b.ref.root, 'infra', 'vault'));
    await t.rejects(
      pull(b.deps, b.ref, {}, () => undefined),
      { code: 'BUNDLE_NAME_TOO_LONG' },
      what,
    );
    t.equal(read(b), 'v=1\n', `${what}: the folder is as it was`);
    t.same(readdirSync(join(b.ref.root, 'infra', 'vault')), before, `${what}: nothing left beside it`);
  }
  // 255 bytes is a name like any other.
  const ts = `20260516-1133${String(n++).padStart(2, '0')}`;
  await plant(ts, [
    ['infra/vault/dev/.env.dev', 'v=long\n'],
    [`infra/vault/dev/${'a'.repeat(255)}`, 'x'],
  ]);
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(readFileSync(join(b.ref.root, 'infra', 'vault', 'dev', 'a'.repeat(255)), 'utf8'), 'x', 'a part of 255 bytes is written');
  // And the vault goes on.
  clock.advance(60);
  write(b, 'v=5\n');
  await push(b.deps, b.ref, {}, () => undefined);
  await pull(a.deps, a.ref, { force: true }, () => undefined);
  t.equal(read(a), 'v=5\n');
});

t.test(
  'a version that fails its tag at the very last byte: DECRYPT_FAILED, and nothing reaches the vault or stays beside it',
  async (t) => {
    const { cleanup, storage, b, plant } = await inStep();
    t.teardown(cleanup);
    // A genuine version of ~1 MiB, so that almost all of it is decrypted into the temp file before the tag is read.
    await plant('20260516-113305', [['infra/vault/dev/.env.dev', `v=2\n${'x'.repeat(1 << 20)}\n`]]);
    const key = 'vsync/dev/versions/20260516-113305.enc';
    const genuine = (await storage.get(key)).body;
    const bad = Buffer.from(genuine);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x01;
    await storage.put(key, bad);
    const bobState = state(b);
    const before = readdirSync(join(b.ref.root, 'infra', 'vault'));
    const steps: string[] = [];
    await t.rejects(
      pull(b.deps, b.ref, {}, (p) => {
        if (p.kind === 'step') steps.push(`${p.n} ${p.text}`);
      }),
      { code: 'DECRYPT_FAILED' },
    );
    t.equal(read(b), 'v=1\n', 'the folder is as it was');
    t.equal(state(b), bobState, 'the sync state is as it was');
    t.same(readdirSync(join(b.ref.root, 'infra', 'vault')), before, 'no temp file or staging folder left beside it');
    t.match(steps.at(-1), /^4 decrypting$/, 'the failure comes at the step that names it');

    // Put right, the same pull goes through.
    await storage.put(key, genuine);
    await pull(b.deps, b.ref, {}, () => undefined);
    t.match(read(b), /^v=2\n/);
    t.same(readdirSync(join(b.ref.root, 'infra', 'vault')), before, 'and leaves nothing beside it either');
  },
);

t.test('a version exactly at the size cap is pulled; one byte more is refused before a byte is written', async (t) => {
  const { cleanup, storage, b, plant } = await inStep();
  t.teardown(cleanup);
  await plant('20260516-113305', [['infra/vault/dev/.env.dev', 'v=2\n']]);
  const size = (await storage.head('vsync/dev/versions/20260516-113305.enc')).size;
  const atCap = { ...b.deps, maxVersionBytes: size };
  await pull(atCap, b.ref, {}, () => undefined);
  t.equal(read(b), 'v=2\n', 'at the cap: pulled');

  await plant('20260516-113306', [['infra/vault/dev/.env.dev', 'v=3\n']]);
  const bobState = state(b);
  await t.rejects(
    pull({ ...b.deps, maxVersionBytes: size - 1 }, b.ref, {}, () => undefined),
    {
      code: 'VAULT_VERSION_TOO_LARGE',
      message: new RegExp(`holds ${size} bytes, over the cap of ${size - 1}`),
    },
  );
  t.equal(read(b), 'v=2\n', 'over the cap: the folder is as it was');
  t.equal(state(b), bobState);
});
