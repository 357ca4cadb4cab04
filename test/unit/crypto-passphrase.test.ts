// The share file's passphrase: what vsync makes, how any passphrase is normalised, what export and import
// accept, and the key derived from it.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import {
  PASSPHRASE_MAX_CHARS,
  PASSPHRASE_MIN_CHARS,
  assertPassphrase,
  derivePassphraseKey,
  generatePassphrase,
  normalisePassphrase,
  passphraseCheck,
  passphraseMatches,
} from '../../daemon/crypto/passphrase.js';
import { caught } from '../helpers/caught.js';

const GENERATED = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){6}$/;

t.test('a generated passphrase: 28 base32 symbols in seven groups, already in normal form', async (t) => {
  const made = Array.from({ length: 1000 }, generatePassphrase);
  for (const p of made.slice(0, 50)) {
    t.match(p, GENERATED);
    t.equal(normalisePassphrase(p), p);
  }
  t.equal(new Set(made).size, made.length, 'no two alike');
  // 28,000 symbols: each of the 32 turns up (the chance that one never does is below 1e-380).
  t.equal(new Set(made.join('').replace(/-/g, '')).size, 32, 'every symbol of the alphabet is used');
});

t.test('normalisation: a generated passphrase however it is typed; anything else as typed, in NFC', async (t) => {
  const canonical = '7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5E';
  for (const typed of [
    canonical,
    '7k3q-m9tx-4b2d-r8wz-0cfh-j6np-sv5e',
    '7K3QM9TX4B2DR8WZ0CFHJ6NPSV5E',
    ' 7k3q m9tx 4b2d r8wz ocfh j6np sv5e ',
    '7K3Q-M9TX-4B2D-R8WZ-OCFH-J6NP-SV5E',
  ]) {
    t.equal(normalisePassphrase(typed), canonical, JSON.stringify(typed));
  }
  t.equal(normalisePassphrase('1111-1111-1111-1111-1111-1111-111L'), '1111-1111-1111-1111-1111-1111-1111', 'L and I are 1');
  t.equal(normalisePassphrase('iiii-iiii-iiii-iiii-iiii-iiii-iiii'), '1111-1111-1111-1111-1111-1111-1111');
  // Not 28 symbols, or a letter outside the alphabet (U): used as typed.
  t.equal(normalisePassphrase('7k3q-m9tx-4b2d-r8wz-0cfh-j6np-sv5'), '7k3q-m9tx-4b2d-r8wz-0cfh-j6np-sv5');
  t.equal(normalisePassphrase('7k3q-m9tx-4b2d-r8wz-0cfh-j6np-sv5u'), '7k3q-m9tx-4b2d-r8wz-0cfh-j6np-sv5u');
  // Only ASCII letters are upper-cased: a dotless ı is not an I.
  t.equal(normalisePassphrase('ıııı-ıııı-ıııı-ıııı-ıııı-ıııı-ıııı'), 'ıııı-ıııı-ıııı-ıııı-ıııı-ıııı-ıııı');
  t.equal(normalisePassphrase('correct horse battery staple'), 'correct horse battery staple', 'spaces kept in a passphrase of words');
  t.equal(normalisePassphrase('Cre\u0300me bru\u0302le\u0301e'), 'Crème brûlée', 'NFD becomes NFC');
});

t.test('what export and import accept', async (t) => {
  t.match(await caught(Promise.resolve().then(() => assertPassphrase('', false))), { code: 'SHARE_PASSPHRASE_INVALID', message: /empty/ });
  t.doesNotThrow(() => assertPassphrase('short', false), 'import takes whatever the exporter chose');
  t.match(await caught(Promise.resolve().then(() => assertPassphrase('x'.repeat(PASSPHRASE_MIN_CHARS - 1), true))), {
    code: 'SHARE_PASSPHRASE_INVALID',
    message: /15 characters, at least 16 needed/,
  });
  t.doesNotThrow(() => assertPassphrase('x'.repeat(PASSPHRASE_MIN_CHARS), true));
  t.doesNotThrow(() => assertPassphrase('é'.repeat(PASSPHRASE_MIN_CHARS), true), 'counted in characters, not bytes');
  t.match(await caught(Promise.resolve().then(() => assertPassphrase('x'.repeat(PASSPHRASE_MAX_CHARS + 1), false))), {
    code: 'SHARE_PASSPHRASE_INVALID',
    message: /1025 characters, at most 1024/,
  });
});

t.test('the derived key and its check', async (t) => {
  const salt = randomBytes(16);
  const a = await derivePassphraseKey('7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5E', salt);
  t.equal(a.length, 32);
  t.same(await derivePassphraseKey('7k3q m9tx 4b2d r8wz ocfh j6np sv5e', salt), a, 'typed another way, the same key');
  t.notSame(await derivePassphraseKey('7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5F', salt), a, 'one symbol off, another key');
  t.notSame(await derivePassphraseKey('7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5E', randomBytes(16)), a, 'another salt, another key');
  t.ok((await caught(derivePassphraseKey('x', randomBytes(15)))) instanceof RangeError, 'a salt of another length is a bug');
  t.ok(passphraseMatches(a, passphraseCheck(a)));
  t.notOk(passphraseMatches(randomBytes(32), passphraseCheck(a)));
  t.notOk(passphraseMatches(a, passphraseCheck(a).subarray(0, 15)), 'a short check is no match (and does not throw)');
});
