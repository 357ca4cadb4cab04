import t from 'tap';
import { assertKeyText, assertSaltText, generateKey, generateSalt } from '../../daemon/crypto/key.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';

t.test('generated keys and salts', async (t) => {
  const keys = new Set(Array.from({ length: 50 }, generateKey));
  t.equal(keys.size, 50, 'random');
  for (const k of keys) {
    t.equal(k.length, 44);
    t.equal(Buffer.from(k, 'base64').length, 32);
    assertKeyText(k);
  }
  const salt = generateSalt();
  t.equal(Buffer.from(salt, 'base64').length, 16);
  assertSaltText(salt);
});

t.test('bad keys and salts are refused without echoing them', async (t) => {
  const good = generateKey();
  for (const bad of [
    '',
    good.slice(0, 43),
    good + 'A',
    good.replace(/.$/, '!'),
    Buffer.alloc(32, 0xff).toString('base64url') + '=',
    Buffer.alloc(33).toString('base64'),
    ` ${good.slice(1)}`,
    good.slice(0, 40) + '\n' + good.slice(41),
  ]) {
    const err = t.throws(() => assertKeyText(bad), { code: 'KEY_INVALID' }, JSON.stringify(bad));
    if (bad.length > 4) t.notOk(String((err as Error)?.message).includes(bad), 'the key text is not echoed');
  }
  for (const bad of ['', Buffer.alloc(15).toString('base64'), Buffer.alloc(19).toString('base64'), 'not base64!!']) {
    t.throws(() => assertSaltText(bad), { code: 'SALT_INVALID' }, JSON.stringify(bad));
  }
  for (const n of [16, 17, 18]) assertSaltText(Buffer.alloc(n, 7).toString('base64'));
});

t.test('derivation uses the texts, and both inputs matter', async (t) => {
  const key = generateKey();
  const salt = generateSalt();
  const a = await deriveKey(key, salt);
  t.equal(a.length, 32);
  t.same(await deriveKey(key, salt), a, 'deterministic');
  t.notSame(await deriveKey(key, generateSalt()), a, 'salt matters');
  t.notSame(await deriveKey(generateKey(), salt), a, 'key matters');
  await t.rejects(deriveKey('short', salt), { code: 'KEY_INVALID' });
  await t.rejects(deriveKey(key, 'x'), { code: 'SALT_INVALID' });
});
