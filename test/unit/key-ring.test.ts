import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey, generateSalt } from '../../daemon/crypto/key.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { keyCheck } from '../../daemon/crypto/key-check.js';
import { MemoryKeychain } from '../../daemon/keychain/memory-keychain.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';

class CountingKeychain extends MemoryKeychain {
  gets = 0;
  override async get(account: string): Promise<string> {
    this.gets++;
    return super.get(account);
  }
}

const salt = generateSalt();
const key = generateKey();
const check = keyCheck(await deriveKey(key, salt));

t.test('reads the keychain and derives once, for concurrent and later uses', async (t) => {
  const keychain = new CountingKeychain([['acme/dev', key]]);
  const ring = new KeyRing(keychain);
  const [a, b] = await Promise.all([ring.aesKey('acme', 'dev', salt, check), ring.aesKey('acme', 'dev', salt, check)]);
  t.same(a, b);
  await ring.aesKey('acme', 'dev', salt, check);
  t.equal(keychain.gets, 1);
  t.same(ring.unlocked(), ['acme/dev']);
});

t.test('lock drops every key; the next use reads the keychain again', async (t) => {
  const keychain = new CountingKeychain([['acme/dev', key], ['acme/prod', key]]);
  const ring = new KeyRing(keychain);
  await ring.aesKey('acme', 'dev', salt, check);
  await ring.aesKey('acme', 'prod', salt, check);
  t.equal(ring.lock(), 2);
  t.same(ring.unlocked(), []);
  await ring.aesKey('acme', 'dev', salt, check);
  t.equal(keychain.gets, 3);
});

t.test('an idle key leaves memory after the TTL; use keeps it', async (t) => {
  const ring = new KeyRing(new MemoryKeychain([['acme/dev', key]]), 300);
  await ring.aesKey('acme', 'dev', salt, check);
  await sleep(200);
  await ring.aesKey('acme', 'dev', salt, check);
  await sleep(200);
  t.same(ring.unlocked(), ['acme/dev'], 'used 200 ms ago: still held');
  await sleep(250);
  t.same(ring.unlocked(), [], 'idle past the TTL: dropped');
});

t.test('a key that does not match the config\'s check is refused and not kept', async (t) => {
  const ring = new KeyRing(new MemoryKeychain([['acme/dev', generateKey()]]));
  await t.rejects(ring.aesKey('acme', 'dev', salt, check), { code: 'KEY_MISMATCH' });
  t.same(ring.unlocked(), []);
  await t.rejects(new KeyRing(new MemoryKeychain()).aesKey('acme', 'dev', salt, check), { code: 'KEYCHAIN_NOT_FOUND' });
});

t.test('a lock during a derivation is not undone when the derivation finishes', async (t) => {
  const ring = new KeyRing(new MemoryKeychain([['acme/dev', key]]));
  const deriving = ring.aesKey('acme', 'dev', salt, check);
  ring.lock();
  t.equal((await deriving).length, 32, 'the call in flight still gets its key');
  t.same(ring.unlocked(), [], 'but the ring stays locked');
});
