// The frozen share-file vectors in test/vectors/share/ were written by reference.py (make-share), which
// implements docs/FORMAT.md §12 with Python's own PBKDF2 and the `cryptography` package and shares no code
// with vsync. Both directions are checked here, and reference.py checks the same files.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { decodeShare, encodeShare, openShareFile, sealShareFile } from '../../daemon/vault/share-file.js';
import { caught } from '../helpers/caught.js';
import { PYTHON, referenceChecks, referenceSkip, VECTORS, vectorFiles } from '../helpers/reference-py.js';

const dir = join(VECTORS, 'share');
const hex = z.string().regex(/^([0-9a-f]{2})*$/);
const Vector = z.strictObject({
  name: z.string(),
  passphrase: z.string(),
  typed: z.string(),
  salt: hex,
  iv: hex,
  plaintext: z.string(),
  file: hex,
});

const files = vectorFiles(dir);
t.equal(files.length, 2, 'the share vector set is present');

for (const file of files) {
  const v = Vector.parse(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  t.test(`vector ${v.name}`, async (t) => {
    const plaintext = Buffer.from(v.plaintext, 'utf8');
    const sealed = await sealShareFile(plaintext, v.passphrase, { salt: Buffer.from(v.salt, 'hex'), iv: Buffer.from(v.iv, 'hex') });
    t.equal(sealed.toString('hex'), v.file, 'sealing with the fixed salt and IV gives exactly the file');

    const bytes = Buffer.from(v.file, 'hex');
    t.equal((await openShareFile(bytes, v.passphrase)).toString('utf8'), v.plaintext, 'opening gives exactly the plaintext');
    t.not(v.typed, v.passphrase, 'the typed variant differs from the passphrase as written');
    t.equal((await openShareFile(bytes, v.typed)).toString('utf8'), v.plaintext, 'the passphrase as typed differently opens it too');

    const share = decodeShare(plaintext);
    t.equal(encodeShare(share).toString('utf8'), v.plaintext, "vsync's own writer gives exactly this plaintext");

    t.match(await caught(openShareFile(bytes, `${v.passphrase}x`)), { code: 'SHARE_PASSPHRASE_WRONG' }, 'another passphrase is told apart');
  });
}

const skip = referenceSkip();
t.test('reference.py (from FORMAT.md alone) checks the same share files', { skip }, async (t) => {
  const { out, ok } = referenceChecks('check-share', dir, files);
  t.equal(ok, files.length, out);
});

t.test('a share vsync seals opens in reference.py', { skip }, async (t) => {
  // The other direction, with fresh random salt and IV: what vsync writes today, not only what it once wrote.
  const v = Vector.parse(JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')));
  const fresh = await sealShareFile(Buffer.from(v.plaintext, 'utf8'), v.typed);
  const script = [
    'import sys, json',
    `sys.path.insert(0, ${JSON.stringify(VECTORS)})`,
    'import reference',
    'data = bytes.fromhex(sys.stdin.read())',
    `plain = reference.open_share(data, ${JSON.stringify(v.passphrase)})`,
    'reference.check_share_content(plain)',
    'print(plain.decode("utf-8"))',
  ].join('\n');
  const out = execFileSync(PYTHON, ['-c', script], { input: fresh.toString('hex'), encoding: 'utf8' });
  t.equal(out.trim(), v.plaintext);
});
