// The share file's bytes (docs/FORMAT.md §12): a round trip, and each way a file can be wrong, with the
// error that names it. Derivations are real (600,000 iterations), so the cases share one sealed file.
import t from 'tap';
import { gzipSync } from 'node:zlib';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { generateKey, generateSalt } from '../../daemon/crypto/key.js';
import { generatePassphrase } from '../../daemon/crypto/passphrase.js';
import { SHARE_HEADER_BYTES, decodeShare, encodeShare, openShareFile, sealShareFile, type Share } from '../../daemon/vault/share-file.js';
import { registry } from '../../shared/errors.js';
import { caught } from '../helpers/caught.js';

const share: Share = {
  repo: 'acme_web',
  env: 'dev',
  key: generateKey(),
  config: { version: 1, store: { kind: 'dir', root: '/srv/vsync/store' }, encryption: { salt: generateSalt() } },
};
const passphrase = generatePassphrase();
const plaintext = encodeShare(share);
const file = await sealShareFile(plaintext, passphrase);

const edited = (edit: (b: Buffer) => void): Buffer => {
  const copy = Buffer.from(file);
  edit(copy);
  return copy;
};

t.test('a round trip, with a fresh salt and IV each time', async (t) => {
  t.equal(file.subarray(0, 8).toString('latin1'), 'RQES0001');
  t.equal(file.readUInt32BE(40), file.length - SHARE_HEADER_BYTES, 'the length field counts the envelope');
  t.equal(file.subarray(SHARE_HEADER_BYTES, SHARE_HEADER_BYTES + 4).toString('latin1'), 'RQE1', 'an RQE1 envelope follows the header');
  t.same(decodeShare(await openShareFile(file, passphrase)), share);
  t.same(decodeShare(await openShareFile(file, passphrase.toLowerCase().replace(/-/g, ' '))), share, 'typed in lower case with spaces');
  const again = await sealShareFile(plaintext, passphrase);
  t.not(again.subarray(8, 24).toString('hex'), file.subarray(8, 24).toString('hex'), 'another salt');
  t.not(again.toString('hex'), file.toString('hex'));
  t.notOk(file.includes(Buffer.from(share.key)), 'the key text is not in the file');
});

t.test('not a share file, or a newer one', async (t) => {
  const invalid = async (bytes: Buffer, message: RegExp, what: string, hint: string | RegExp = registry.SHARE_FILE_INVALID.hint) =>
    t.match(await caught(openShareFile(bytes, passphrase)), { code: 'SHARE_FILE_INVALID', message, hint }, what);
  await invalid(Buffer.alloc(0), /0 bytes is too short for a share file \(76 at least\)/, 'an empty file');
  await invalid(Buffer.from('RQES'), /4 bytes is too short/, 'four bytes');
  await invalid(gzipSync(Buffer.from('{"version":1}')), /starts with 0x1f8b/, 'a config file');
  await invalid(
    encryptEnvelope(Buffer.alloc(32), Buffer.from('zip')),
    /starts with 0x52514531/,
    'an RQE1 envelope (a version or a backup)',
  );
  await invalid(Buffer.from('API_KEY=abc123\nDATABASE_URL=postgres://x\n'), /starts with 0x/, 'an env file');
  await invalid(
    edited((b) => b.write('2', 7, 'latin1')),
    /share file version "0002" is not supported by this vsync/,
    'RQES0002',
    /newer vsync: upgrade/,
  );
});

t.test('cut short, or with bytes after its end', async (t) => {
  const cut = async (bytes: Buffer, message: RegExp, what: string) =>
    t.match(await caught(openShareFile(bytes, passphrase)), { code: 'SHARE_FILE_INVALID', message }, what);
  await cut(file.subarray(0, 50), /cut short: 50 bytes, 76 at least/, 'in the header');
  await cut(file.subarray(0, file.length - 1), new RegExp(`cut short: ${file.length - 1} bytes of ${file.length}`), 'by one byte');
  await cut(file.subarray(0, 100), new RegExp(`cut short: 100 bytes of ${file.length}`), 'mid-envelope');
  await cut(Buffer.concat([file, Buffer.from('\n')]), /1 bytes too many after the end of the share/, 'a newline added');
});

t.test('a wrong passphrase is told apart from an altered file', async (t) => {
  t.match(await caught(openShareFile(file, generatePassphrase())), {
    code: 'SHARE_PASSPHRASE_WRONG',
    message: registry.SHARE_PASSPHRASE_WRONG.message,
  });
  t.same(await openShareFile(file, ` ${passphrase} `), plaintext, 'spaces around a generated passphrase do not matter');
  const own = await sealShareFile(plaintext, 'correct horse battery staple');
  t.match(
    await caught(openShareFile(own, 'correct horse battery staple ')),
    { code: 'SHARE_PASSPHRASE_WRONG' },
    "a passphrase of one's own is used as typed",
  );
  t.match(await caught(openShareFile(own, 'Correct horse battery staple')), { code: 'SHARE_PASSPHRASE_WRONG' }, 'case matters in it');
  t.match(
    await caught(
      openShareFile(
        edited((b) => (b[10] = b[10]! ^ 1)),
        passphrase,
      ),
    ),
    { code: 'SHARE_PASSPHRASE_WRONG' },
    'the salt altered: the check no longer matches',
  );
  t.match(
    await caught(
      openShareFile(
        edited((b) => (b[30] = b[30]! ^ 1)),
        passphrase,
      ),
    ),
    { code: 'SHARE_PASSPHRASE_WRONG' },
    'the check altered',
  );
  for (const at of [SHARE_HEADER_BYTES + 5, SHARE_HEADER_BYTES + 20, file.length - 1]) {
    t.match(
      await caught(
        openShareFile(
          edited((b) => (b[at] = b[at]! ^ 1)),
          passphrase,
        ),
      ),
      { code: 'SHARE_FILE_INVALID', message: /the passphrase is right, but the encrypted part was altered or damaged/ },
      `byte ${at} flipped (IV, ciphertext, tag)`,
    );
  }
  t.match(
    await caught(
      openShareFile(
        edited((b) => b.write('2', SHARE_HEADER_BYTES + 3, 'latin1')),
        passphrase,
      ),
    ),
    { code: 'SHARE_FILE_INVALID', message: /envelope version "2" is not supported/ },
    'the envelope inside of another version',
  );
});

t.test('it decrypts, but not to a share', async (t) => {
  const sealed = async (text: string) => openShareFile(await sealShareFile(Buffer.from(text), passphrase), passphrase);
  const bad = async (text: string, message: RegExp, what: string) =>
    t.match(await caught(sealed(text).then(decodeShare)), { code: 'SHARE_FILE_INVALID', message }, what);
  await bad('not json', /it decrypts, but not to JSON/, 'not JSON');
  await bad(JSON.stringify({ ...share, key: undefined }), /it decrypts, but key: /, 'no key');
  await bad(JSON.stringify({ ...share, key: `${share.key}\n` }), /key: must be a key/, 'a key with a newline');
  await bad(JSON.stringify({ ...share, repo: '../etc' }), /repo: must be a repo name/, 'a repo name that is a path');
  await bad(JSON.stringify({ ...share, env: 'Prod' }), /env: must be an env name/, 'an env name in capitals');
  await bad(
    JSON.stringify({ ...share, config: { ...share.config, encryption: { salt: 'short' } } }),
    /config\.encryption\.salt: /,
    'a bad salt',
  );
  await bad(
    JSON.stringify({ ...share, config: { ...share.config, version: 2 } }),
    /config\.version: version 2 is not supported/,
    'a newer config',
  );
  t.same(
    decodeShare(await sealed(JSON.stringify({ ...share, note: 'from a newer vsync' }))),
    { ...share, note: 'from a newer vsync' },
    'unknown fields are kept',
  );
});
