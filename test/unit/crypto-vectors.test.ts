// The frozen vectors in test/vectors/ were written by reference.py, an implementation of docs/FORMAT.md
// that shares no code with vsync. Both directions are checked: encrypting with the vector's IV must give
// the exact envelope, and opening the envelope must give the exact plaintext and timestamp.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { decryptEnvelope, encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { seal, unseal } from '../../daemon/crypto/seal.js';
import { referenceChecks, referenceSkip, VECTORS, vectorFiles } from '../helpers/reference-py.js';

const dir = VECTORS;
const hex = z.string().regex(/^([0-9a-f]{2})*$/);
const Vector = z.strictObject({
  name: z.string(),
  key: z.string(),
  salt: z.string(),
  iv: hex,
  ts: z.string().nullable(),
  plaintext: hex,
  envelope: hex,
});

const files = vectorFiles(dir);

t.ok(files.length >= 5, 'the vector set is present');

for (const file of files) {
  const v = Vector.parse(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  t.test(`vector ${v.name}`, async (t) => {
    const aesKey = await deriveKey(v.key, v.salt);
    const payload = Buffer.from(v.plaintext, 'hex');
    const plaintext = v.ts === null ? payload : seal(v.ts, payload);

    const written = encryptEnvelope(aesKey, plaintext, Buffer.from(v.iv, 'hex'));
    t.equal(written.toString('hex'), v.envelope, 'encrypt with the fixed IV gives exactly the envelope');

    const opened = decryptEnvelope(aesKey, Buffer.from(v.envelope, 'hex'));
    if (v.ts === null) {
      t.equal(opened.toString('hex'), v.plaintext, 'decrypt gives exactly the plaintext');
    } else {
      const sealed = unseal(opened);
      t.equal(sealed.ts, v.ts, 'the sealed timestamp');
      t.equal(sealed.payload.toString('hex'), v.plaintext, 'decrypt and unseal give exactly the zip');
    }
  });
}

// The reference implementation must agree with the same files; otherwise FORMAT.md is not enough.
t.test('reference.py (from FORMAT.md alone) checks the same vectors', { skip: referenceSkip() }, async (t) => {
  const { out, ok } = referenceChecks('check', dir, files);
  t.equal(ok, files.length, out);
});
