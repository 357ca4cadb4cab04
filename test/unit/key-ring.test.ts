import t from 'tap';
import { generateKey, generateSalt } from '../../daemon/crypto/key.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { keyCheck } from '../../daemon/crypto/key-check.js';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import { ManualTimers } from '../helpers/manual-timers.js';

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
  const keychain = new CountingKeychain([
    ['acme/dev', key],
    ['acme/prod', key],
  ]);
  const ring = new KeyRing(keychain);
  await ring.aesKey('acme', 'dev', salt, check);
  await ring.aesKey('acme', 'prod', salt, check);
  t.equal(ring.lock(), 2);
  t.same(ring.unlocked(), []);
  await ring.aesKey('acme', 'dev', salt, check);
  t.equal(keychain.gets, 3);
});

t.test('an idle key leaves memory after the TTL; use keeps it', async (t) => {
  const clock = new ManualTimers();
  const ring = new KeyRing(new MemoryKeychain([['acme/dev', key]]), 300, clock);
  await ring.aesKey('acme', 'dev', salt, check);
  clock.advance(200);
  await ring.aesKey('acme', 'dev', salt, check);
  clock.advance(299);
  t.same(ring.unlocked(), ['acme/dev'], 'used 299 ms ago: still held');
  clock.advance(1);
  t.same(ring.unlocked(), [], 'idle for the whole TTL: dropped');
  await ring.aesKey('acme', 'dev', salt, check);
  ring.lock();
  clock.advance(1_000);
  t.same(ring.unlocked(), [], 'a lock leaves no timer to bring a key back');
});

t.test("a key that does not match the config's check is refused and not kept", async (t) => {
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

// ---- automatic(): the keys for work nobody asked for just now, which `lock` stops ----

t.test('automatic() reads the keychain like the ring itself before any lock', async (t) => {
  const keychain = new CountingKeychain([['acme/dev', key]]);
  const ring = new KeyRing(keychain);
  const auto = ring.automatic();
  const got = await auto.aesKey('acme', 'dev', salt, check);
  t.same(got, await deriveKey(key, salt));
  t.equal(keychain.gets, 1, 'read the keychain once');
  t.same(ring.unlocked(), ['acme/dev'], 'and the key is held in the ring');
  await auto.aesKey('acme', 'dev', salt, check);
  t.equal(keychain.gets, 1, 'the held key is used after that');
});

t.test('after lock(), automatic() is KEY_LOCKED for every vault, held or not, without reading the keychain', async (t) => {
  const keychain = new CountingKeychain([
    ['acme/dev', key],
    ['acme/prod', key],
  ]);
  const ring = new KeyRing(keychain);
  await ring.aesKey('acme', 'dev', salt, check);
  ring.lock();
  const auto = ring.automatic();
  await t.rejects(auto.aesKey('acme', 'dev', salt, check), { code: 'KEY_LOCKED', message: /acme\/dev/ });
  await t.rejects(auto.aesKey('acme', 'prod', salt, check), { code: 'KEY_LOCKED', message: /acme\/prod/ });
  await t.rejects(ring.automatic().aesKey('acme', 'prod', salt, check), { code: 'KEY_LOCKED' }, 'a view made after the lock too');
  t.equal(keychain.gets, 1, 'only the read before the lock');
  t.same(ring.unlocked(), []);
});

t.test('a command for vault A unlocks A for automatic work, and only A; a second lock locks A again', async (t) => {
  const keychain = new CountingKeychain([
    ['acme/dev', key],
    ['acme/prod', key],
  ]);
  const ring = new KeyRing(keychain);
  const auto = ring.automatic();
  await auto.aesKey('acme', 'dev', salt, check);
  await auto.aesKey('acme', 'prod', salt, check);
  ring.lock();

  await ring.aesKey('acme', 'dev', salt, check); // what a command does
  t.same(await auto.aesKey('acme', 'dev', salt, check), await deriveKey(key, salt), 'A works for automatic work');
  await t.rejects(auto.aesKey('acme', 'prod', salt, check), { code: 'KEY_LOCKED' }, 'B is still locked');
  t.same(ring.unlocked(), ['acme/dev']);

  t.equal(ring.lock(), 1);
  await t.rejects(auto.aesKey('acme', 'dev', salt, check), { code: 'KEY_LOCKED' }, 'locked again');
  await ring.aesKey('acme', 'prod', salt, check);
  await auto.aesKey('acme', 'prod', salt, check);
  await t.rejects(auto.aesKey('acme', 'dev', salt, check), { code: 'KEY_LOCKED' }, 'unlocking B does not unlock A');
});

t.test('onUnlock: once per locked vault a command unlocks, never without a lock; unsubscribe stops it', async (t) => {
  const ring = new KeyRing(
    new MemoryKeychain([
      ['acme/dev', key],
      ['acme/prod', key],
    ]),
  );
  const heard: string[] = [];
  const off = ring.onUnlock((account) => heard.push(account));

  await ring.aesKey('acme', 'dev', salt, check);
  await ring.automatic().aesKey('acme', 'prod', salt, check);
  t.same(heard, [], 'nothing was locked: no unlock to report');

  ring.lock();
  await Promise.all([ring.aesKey('acme', 'dev', salt, check), ring.aesKey('acme', 'dev', salt, check)]);
  await ring.aesKey('acme', 'dev', salt, check);
  await ring.automatic().aesKey('acme', 'dev', salt, check);
  t.same(heard, ['acme/dev'], 'once, with the account, however many uses follow');

  const others: string[] = [];
  const offOther = ring.onUnlock((account) => others.push(account));
  off();
  await ring.aesKey('acme', 'prod', salt, check);
  t.same(heard, ['acme/dev'], 'unsubscribed: not called');
  t.same(others, ['acme/prod'], 'the other listener still is');
  offOther();

  const again: string[] = [];
  ring.onUnlock((account) => again.push(account));
  ring.lock();
  await ring.aesKey('acme', 'dev', salt, check);
  t.same(again, ['acme/dev'], 'a second lock: unlocking A is reported again');
});

t.test('a failed unlock (wrong key) reports nothing and leaves automatic work locked', async (t) => {
  const keychain = new MemoryKeychain([['acme/dev', key]]);
  const ring = new KeyRing(keychain);
  const heard: string[] = [];
  ring.onUnlock((account) => heard.push(account));
  ring.lock();
  keychain.entries.set('acme/dev', generateKey());
  await t.rejects(ring.aesKey('acme', 'dev', salt, check), { code: 'KEY_MISMATCH' });
  t.same(heard, []);
  await t.rejects(ring.automatic().aesKey('acme', 'dev', salt, check), { code: 'KEY_LOCKED' });
});

t.test("adopt: init's own key is held without a keychain read, checked, idled out, and unlocks its vault after a lock", async (t) => {
  const keychain = new CountingKeychain([['acme/dev', key]]);
  const timers = new ManualTimers();
  const ring = new KeyRing(keychain, 1000, timers);
  const derived = await deriveKey(key, salt);
  ring.adopt('acme', 'dev', salt, derived);
  t.same(await ring.aesKey('acme', 'dev', salt, check), derived, 'the adopted key serves the first use');
  t.equal(keychain.gets, 0, 'without reading the keychain or deriving');
  await t.rejects(
    ring.aesKey('acme', 'dev', salt, keyCheck(Buffer.alloc(32))),
    { code: 'KEY_MISMATCH' },
    "and it is held to the config's check",
  );
  const otherSalt = generateSalt();
  t.same(
    await ring.aesKey('acme', 'dev', otherSalt, undefined),
    await deriveKey(key, otherSalt),
    'another salt is another key: read and derived',
  );
  t.equal(keychain.gets, 1);

  const idle = new KeyRing(keychain, 1000, timers);
  idle.adopt('acme', 'dev', salt, derived);
  timers.advance(1000);
  t.same(idle.unlocked(), [], 'an adopted key idles out like any other');

  const locked = new KeyRing(keychain);
  const unlocked: string[] = [];
  locked.onUnlock((account) => unlocked.push(account));
  locked.lock();
  locked.adopt('acme', 'dev', salt, derived);
  t.same(unlocked, ['acme/dev'], 'after a lock, the command that made the key unlocks its vault');
  t.same(await locked.automatic().aesKey('acme', 'dev', salt, check), derived, 'for automatic work too');
});
