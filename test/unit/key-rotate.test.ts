// key rotate's domain over the in-memory store, each teammate with a keychain of their own: the rotation, what
// teammates on the old key are told (KEY_ROTATED, never DECRYPT_FAILED), old versions under the old key
// (KEY_RETIRED), the share file of the new key replacing the old one, a rotation racing a teammate's push, and a
// crash between every two steps leaving one working key: the old one before the pointer moved, the new one after.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { decryptEnvelope } from '../../daemon/crypto/envelope.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { keyCheck } from '../../daemon/crypto/key-check.js';
import { unseal } from '../../daemon/crypto/seal.js';
import { readConfig } from '../../daemon/vault/config.js';
import { init } from '../../daemon/vault/init.js';
import { exportKey, importShare, readShare } from '../../daemon/vault/key-share.js';
import { parseKeyHistory } from '../../daemon/vault/key-history.js';
import { ROTATION_STEPS, pendingAccount, rotateKey, settleRotation, type RotationStep } from '../../daemon/vault/key-rotate.js';
import { readLocalState, stateFile } from '../../daemon/vault/local-state.js';
import { log } from '../../daemon/vault/log.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { keysKey, pointerKey, versionKey } from '../../daemon/vault/remote-layout.js';
import { openVault } from '../../daemon/vault/vault.js';
import { versions } from '../../daemon/vault/versions.js';
import type { WriteResult } from '../../daemon/storage/storage.js';
import { configFile } from '../../shared/paths.js';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { Clock, envFileOf, machine, shareConfig, tempBase, type Machine } from '../helpers/vault-fixture.js';

const quiet = () => undefined;
const ACCOUNT = 'vsync/dev';

/** Alice (who rotates) and Bob (who stays on the old key until he imports the new), each their own keychain; Alice pushed A=1. */
async function team(storage = new MemoryStorage()) {
  const { base, cleanup } = tempBase('vsync-rotate-');
  t.teardown(cleanup);
  const clock = new Clock();
  const aliceKeys = new MemoryKeychain();
  const bobKeys = new MemoryKeychain();
  const a = machine(base, 'alice', storage, aliceKeys, clock);
  const b = machine(base, 'bob', storage, bobKeys, clock);
  await init(a.deps, a.ref, { store: join(base, 'unused') });
  shareConfig(a, b);
  await bobKeys.set(ACCOUNT, await aliceKeys.get(ACCOUNT));
  writeFileSync(envFileOf(a), 'A=1\n');
  const v0 = (await push(a.deps, a.ref, {}, quiet)).version;
  await pull(b.deps, b.ref, {}, quiet);
  clock.advance(1);
  return { base, storage, clock, a, b, aliceKeys, bobKeys, v0, oldKey: await aliceKeys.get(ACCOUNT) };
}

/** Whether `key` (text) with `salt` opens the version `latest` names. */
async function opensLatest(storage: MemoryStorage, key: string, salt: string): Promise<boolean> {
  const ts = (await storage.get(pointerKey('vsync', 'dev'))).body.toString();
  try {
    unseal(decryptEnvelope(await deriveKey(key, salt), (await storage.get(versionKey('vsync', 'dev', ts))).body));
    return true;
  } catch {
    return false;
  }
}

async function configOf(m: Machine) {
  return readConfig(configFile('vsync', 'dev', m.deps.environment));
}

t.test('a rotation: latest under a new key, the old key told apart everywhere, the new key shared and taken in', async (t) => {
  const { storage, a, b, aliceKeys, v0, oldKey } = await team();
  const before = await configOf(a);
  const r = await rotateKey(a.deps, a.ref, a.progress);
  t.equal(r.from, v0);
  t.ok(r.version > v0);
  t.same(a.lines(), [
    '[1/5] reading pointer memory:///vsync/dev/latest',
    `[2/5] downloading version ${v0} (vsync/dev/versions/${v0}.enc)`,
    `[3/5] re-encrypting it as version ${r.version} under a new key → memory:///vsync/dev/versions/${r.version}.enc`,
    '[4/5] updating pointer → memory:///vsync/dev/latest',
    `[5/5] recording the new key: memory:///vsync/dev/keys, ${configFile('vsync', 'dev', a.deps.environment)}, the keychain (memory)`,
  ]);
  const newKey = await aliceKeys.get(ACCOUNT);
  t.not(newKey, oldKey, 'a new key in the keychain');
  const after = await configOf(a);
  t.not(after.encryption.salt, before.encryption.salt, 'and a new salt');
  t.equal(after.encryption.keyCheck, keyCheck(await deriveKey(newKey, after.encryption.salt)));
  t.same({ ...after, encryption: undefined }, { ...before, encryption: undefined }, 'nothing else in the config changed');
  t.notOk(aliceKeys.entries.has(pendingAccount('vsync', 'dev')), 'the waiting key is gone');
  t.notOk((await readLocalState(stateFile('vsync', 'dev', a.deps.environment))).rotation, 'nothing left pending');
  t.ok(await opensLatest(storage, newKey, after.encryption.salt));
  t.notOk(await opensLatest(storage, oldKey, before.encryption.salt), 'the old key does not open latest');
  t.same(parseKeyHistory((await storage.get(keysKey('vsync', 'dev'))).body), {
    version: 1,
    keys: [
      { check: before.encryption.keyCheck, since: null },
      { check: after.encryption.keyCheck, since: r.version },
    ],
  });

  // Alice goes on as before: her checkout is in step with the re-encrypted copy.
  writeFileSync(envFileOf(a), 'A=2\n');
  const next = await push(a.deps, a.ref, {}, quiet);
  t.ok(next.version > r.version, 'a push goes on without a conflict');
  await t.rejects(pull(a.deps, a.ref, { at: v0 }, quiet), {
    code: 'KEY_RETIRED',
    message: new RegExp(`version ${v0} is under an earlier key`),
  });
  t.match((await versions(a.deps, a.ref)).versions, [{ ts: next.version }, { ts: r.version }, { ts: v0, key: 'earlier' }]);
  t.notOk('key' in (await versions(a.deps, a.ref)).versions[0]!);
  t.match((await log(a.deps, a.ref, {})).entries, [
    { ts: next.version, entry: 'missing' },
    { ts: r.version },
    { ts: v0, entry: 'other-key' },
  ]);

  // Bob, still on the old key: told to ask for the new one, whatever he tries; the store is left as it was.
  const store = JSON.stringify([...(await storage.list('')).map((o) => o.key)]);
  await t.rejects(pull(b.deps, b.ref, {}, quiet), { code: 'KEY_ROTATED', hint: /share file/ });
  writeFileSync(envFileOf(b), 'A=bob\n');
  await t.rejects(push(b.deps, b.ref, {}, quiet), { code: 'KEY_ROTATED' });
  await t.rejects(push(b.deps, b.ref, { force: true }, quiet), { code: 'KEY_ROTATED' }, 'not even --force overwrites a rotated vault');
  t.equal(JSON.stringify([...(await storage.list('')).map((o) => o.key)]), store);
  t.match((await versions(b.deps, b.ref)).versions, [{ ts: next.version, key: 'later' }, { ts: r.version, key: 'later' }, { ts: v0 }]);

  // Alice shares the new key; Bob's import replaces his old one (the store's key history vouches for it).
  const out = join(a.ref.root, 'share');
  const exported = await exportKey(a.deps, a.ref, { folder: a.ref.root, out, passphrase: 'correct horse battery staple' });
  const imported = await importShare(b.deps, await readShare(exported.file, 'correct horse battery staple'));
  t.match(imported, { key: 'replaced', config: 'replaced' });
  t.equal(await b.deps.keychain.get(ACCOUNT), newKey);
  await pull(b.deps, b.ref, { force: true }, quiet);
  t.equal(readFileSync(envFileOf(b), 'utf8'), 'A=2\n', 'Bob reads latest again');
});

t.test('a share of another key is still refused when the store does not say it is a later key of the vault', async (t) => {
  const { storage, a, b, aliceKeys } = await team();
  await rotateKey(a.deps, a.ref, quiet);
  await storage.delete(keysKey('vsync', 'dev'));
  const out = join(a.ref.root, 'share');
  await exportKey(a.deps, a.ref, { folder: a.ref.root, out, passphrase: 'correct horse battery staple' });
  const old = await b.deps.keychain.get(ACCOUNT);
  await t.rejects(importShare(b.deps, await readShare(out, 'correct horse battery staple')), { code: 'SHARE_CONFLICT' });
  t.equal(await b.deps.keychain.get(ACCOUNT), old, "Bob's key is as it was");
  t.not(old, await aliceKeys.get(ACCOUNT));
});

t.test('a rotation racing a teammate push: refused, nothing changed, the old key still the key', async (t) => {
  const storage = new MemoryStorage();
  const { a, b, aliceKeys, oldKey } = await team(storage);
  const before = await configOf(a);
  // Bob's push lands just before the rotation moves latest.
  const putIfMatch = storage.putIfMatch.bind(storage);
  let raced = false;
  storage.putIfMatch = async (key: string, body: Buffer, etag: string): Promise<WriteResult> => {
    if (!raced && key === pointerKey('vsync', 'dev')) {
      raced = true;
      writeFileSync(envFileOf(b), 'A=bob\n');
      await push(b.deps, b.ref, {}, quiet);
    }
    return putIfMatch(key, body, etag);
  };
  const listedBefore = (await storage.list('vsync/dev/versions/')).length;
  await t.rejects(rotateKey(a.deps, a.ref, quiet), { code: 'VAULT_CONFLICT', message: /during the rotation; nothing changed/ });
  t.equal(await aliceKeys.get(ACCOUNT), oldKey);
  t.same(await configOf(a), before);
  t.notOk(aliceKeys.entries.has(pendingAccount('vsync', 'dev')));
  t.notOk((await readLocalState(stateFile('vsync', 'dev', a.deps.environment))).rotation);
  t.equal((await storage.list('vsync/dev/versions/')).length, listedBefore + 1, "only Bob's version: the rotation's own is removed");
  await t.rejects(storage.get(keysKey('vsync', 'dev')), { code: 'STORAGE_NOT_FOUND' }, 'no key history');
  await pull(a.deps, a.ref, { force: true }, quiet);
  t.equal(readFileSync(envFileOf(a), 'utf8'), 'A=bob\n');
  const again = await rotateKey(a.deps, a.ref, quiet);
  t.ok(again.version, 'and a second try goes through');
});

class Crash extends Error {}

for (const [index, step] of ROTATION_STEPS.entries()) {
  const committed = index >= ROTATION_STEPS.indexOf('latest-moved');
  t.test(
    `killed after ${step}: ${committed ? 'the new key' : 'the old key'} works, then the rotation is ${committed ? 'finished' : 'undone'}`,
    async (t) => {
      const { storage, a, b, aliceKeys, oldKey } = await team();
      const before = await configOf(a);
      const crashAt = (at: RotationStep) => async (after: RotationStep) => {
        if (after === at) throw new Crash(`killed after ${at}`);
      };
      await t.rejects(rotateKey({ ...a.deps, rotationCheckpoint: crashAt(step) }, a.ref, quiet), { message: `killed after ${step}` });

      // Right after the kill, one of the two keys this machine holds opens latest.
      const state = await readLocalState(stateFile('vsync', 'dev', a.deps.environment));
      const config = await configOf(a);
      const main = await aliceKeys.get(ACCOUNT);
      const waiting = aliceKeys.entries.get(pendingAccount('vsync', 'dev'));
      const opens = [
        await opensLatest(storage, main, config.encryption.salt),
        waiting !== undefined && state.rotation !== undefined && (await opensLatest(storage, waiting, state.rotation.salt)),
      ];
      t.ok(opens.includes(true), `a key opens latest (keychain: ${opens[0]}, waiting: ${opens[1]})`);
      t.ok(state.rotation, 'the rotation is noted as unfinished');

      // The next operation settles it.
      t.equal(await settleRotation(a.deps, await openVault(a.deps, a.ref)), true);
      const settled = await aliceKeys.get(ACCOUNT);
      t.equal(settled !== oldKey, committed, committed ? 'the new key is the key' : 'the old key is still the key');
      t.notOk(aliceKeys.entries.has(pendingAccount('vsync', 'dev')), 'nothing waits in the keychain');
      t.notOk((await readLocalState(stateFile('vsync', 'dev', a.deps.environment))).rotation, 'nothing pending');
      t.equal(await settleRotation(a.deps, await openVault(a.deps, a.ref)), false, 'settled once');
      t.ok(await opensLatest(storage, settled, (await configOf(a)).encryption.salt), "this machine's key opens latest");
      await pull(a.deps, a.ref, {}, quiet);
      t.equal(readFileSync(envFileOf(a), 'utf8'), 'A=1\n');
      if (committed) {
        await t.rejects(pull(b.deps, b.ref, {}, quiet), { code: 'KEY_ROTATED' }, 'Bob is told, once the history is written');
      } else {
        t.same(await configOf(a), before, 'the config is as it was');
        await pull(b.deps, b.ref, {}, quiet);
        t.pass('Bob still pulls with the old key');
        t.equal((await storage.list('vsync/dev/versions/')).length, 1, 'the version written for the new key is gone');
      }
    },
  );
}

t.test('refusals: a keychain that cannot store the key, a vault never pushed, a damaged key history', async (t) => {
  const { a, storage } = await team();
  const readOnly = Object.assign(Object.create(a.deps.keychain) as MemoryKeychain, { writable: false });
  await t.rejects(rotateKey({ ...a.deps, keychain: readOnly }, a.ref, quiet), { code: 'KEYCHAIN_READ_ONLY' });
  await storage.put(keysKey('vsync', 'dev'), Buffer.from('{"version":1,"keys":[]}'));
  await t.rejects(rotateKey(a.deps, a.ref, quiet), { code: 'VAULT_KEYS_INVALID' });
  await storage.delete(keysKey('vsync', 'dev'));
  await storage.delete(pointerKey('vsync', 'dev'));
  await t.rejects(rotateKey(a.deps, a.ref, quiet), { code: 'VAULT_EMPTY' });
  await t.rejects(rotateKey(a.deps, { ...a.ref, env: 'qa' }, quiet), { code: 'CONFIG_NOT_FOUND' });
  t.notOk((a.deps.keychain as MemoryKeychain).entries.has(pendingAccount('vsync', 'dev')), 'no key left waiting by a refusal');
});

t.test('rotating twice: three keys in the history, each version under its own', async (t) => {
  const { storage, a, v0 } = await team();
  const first = await rotateKey(a.deps, a.ref, quiet);
  const second = await rotateKey(a.deps, a.ref, quiet);
  t.equal(second.from, first.version);
  t.equal(second.keys, 3);
  const history = parseKeyHistory((await storage.get(keysKey('vsync', 'dev'))).body);
  t.same(
    history.keys.map((k) => k.since),
    [null, first.version, second.version],
  );
  t.match((await versions(a.deps, a.ref)).versions, [
    { ts: second.version },
    { ts: first.version, key: 'earlier' },
    { ts: v0, key: 'earlier' },
  ]);
  t.ok(new VsyncError('KEY_ROTATED').hint.includes('vsync key import'));
});
