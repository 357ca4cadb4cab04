import t from 'tap';
import { randomBytes } from 'node:crypto';
import { isVsyncError, type ErrorCode } from '../../shared/errors.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { generateKey, generateSalt } from '../../daemon/crypto/key.js';
import { ENVELOPE_OVERHEAD, decryptEnvelope, encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { assertKeyMatchesCheck, keyCheck } from '../../daemon/crypto/key-check.js';
import { DecryptingStream, encryptingStream } from '../../daemon/crypto/envelope-stream.js';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const salt = generateSalt();
const aesKey = await deriveKey(generateKey(), salt);
const otherKey = await deriveKey(generateKey(), salt);
const secret = Buffer.from('API_KEY=do-not-leak-this-value\n');
const envelope = encryptEnvelope(aesKey, secret);

function codeOf(fn: () => unknown): ErrorCode | string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    if (!isVsyncError(err)) throw err;
    t.notMatch(err.message, /do-not-leak/, 'no plaintext in the message');
    return err.code;
  }
}

t.test('roundtrip and fresh IVs', async (t) => {
  t.same(decryptEnvelope(aesKey, envelope), secret);
  const again = encryptEnvelope(aesKey, secret);
  t.not(again.subarray(4, 16).toString('hex'), envelope.subarray(4, 16).toString('hex'), 'a new IV each time');
  t.equal(envelope.length, secret.length + ENVELOPE_OVERHEAD);
  t.same(decryptEnvelope(aesKey, encryptEnvelope(aesKey, Buffer.alloc(0))), Buffer.alloc(0), 'empty plaintext');
  const big = randomBytes(1 << 20);
  t.same(decryptEnvelope(aesKey, encryptEnvelope(aesKey, big)), big, '1 MiB');
});

t.test('a wrong key fails authentication, and the key check names it', async (t) => {
  t.equal(
    codeOf(() => decryptEnvelope(otherKey, envelope)),
    'DECRYPT_FAILED',
  );
  const check = keyCheck(aesKey);
  t.equal(
    codeOf(() => assertKeyMatchesCheck(otherKey, check)),
    'KEY_MISMATCH',
  );
  t.equal(
    codeOf(() => assertKeyMatchesCheck(aesKey, check)),
    'no error',
  );
  t.equal(
    codeOf(() => assertKeyMatchesCheck(aesKey, undefined)),
    'no error',
    'configs without keyCheck pass',
  );
  t.not(check, keyCheck(otherKey));
});

t.test('every flipped bit is refused', async (t) => {
  const seen = new Map<string, number>();
  for (let i = 0; i < envelope.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(envelope);
      bad[i] = bad[i]! ^ (1 << bit);
      const code = codeOf(() => decryptEnvelope(aesKey, bad));
      seen.set(code, (seen.get(code) ?? 0) + 1);
      const expected = i < 4 ? 'ENVELOPE_UNKNOWN_FORMAT' : 'DECRYPT_FAILED';
      if (code !== expected) t.fail(`byte ${i} bit ${bit}: ${code}, expected ${expected}`);
    }
  }
  t.same(Object.fromEntries(seen), { ENVELOPE_UNKNOWN_FORMAT: 32, DECRYPT_FAILED: (envelope.length - 4) * 8 });
});

t.test('every truncation is refused', async (t) => {
  for (let n = 0; n < envelope.length; n++) {
    const code = codeOf(() => decryptEnvelope(aesKey, envelope.subarray(0, n)));
    const expected = n < ENVELOPE_OVERHEAD ? 'ENVELOPE_TRUNCATED' : 'DECRYPT_FAILED';
    if (code !== expected) t.fail(`length ${n}: ${code}, expected ${expected}`);
  }
  t.pass('all lengths below the full envelope refused');
});

t.test('unknown magic and a newer version are told apart', async (t) => {
  const newer = Buffer.from(envelope);
  newer.write('RQE2', 0, 'ascii');
  try {
    decryptEnvelope(aesKey, newer);
    t.fail('accepted RQE2');
  } catch (err) {
    t.ok(isVsyncError(err, 'ENVELOPE_UNKNOWN_FORMAT'));
    t.match((err as Error).message, /version "2" is not supported/);
  }
  const zip = Buffer.concat([Buffer.from('PK\x03\x04'), randomBytes(40)]);
  t.equal(
    codeOf(() => decryptEnvelope(aesKey, zip)),
    'ENVELOPE_UNKNOWN_FORMAT',
  );
});

t.test('programming errors are not format errors', async (t) => {
  t.throws(() => encryptEnvelope(Buffer.alloc(16), secret), RangeError);
  t.throws(() => encryptEnvelope(aesKey, secret, Buffer.alloc(8)), RangeError);
});

// The streamed envelope (envelope-stream.ts): the same bytes as the buffer functions, whatever the chunking.

/** `data` in chunks of the given sizes, cycling. */
function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function streamed(stream: Transform, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  return Buffer.concat(out);
}

async function streamCode(chunks: Buffer[], key = aesKey): Promise<string> {
  try {
    await streamed(new DecryptingStream(key), chunks);
    return 'no error';
  } catch (err) {
    if (!isVsyncError(err)) throw err;
    return /do-not-leak/.test(err.message) ? 'plaintext in the message' : err.code;
  }
}

t.test('streams: an encrypted stream is an envelope, and a streamed decryption reads any envelope', async (t) => {
  const big = randomBytes(300_001);
  for (const sizes of [[1], [7, 16, 3], [65_536], [17, 1, 40_000]]) {
    const out = await streamed(encryptingStream(aesKey), chunked(big, sizes));
    t.same(decryptEnvelope(aesKey, out), big, `encrypted in chunks of ${sizes.join(',')}`);
    t.same(
      await streamed(new DecryptingStream(aesKey), chunked(encryptEnvelope(aesKey, big), sizes)),
      big,
      `decrypted in chunks of ${sizes.join(',')}`,
    );
  }
  const empty = await streamed(encryptingStream(aesKey), []);
  t.equal(empty.length, ENVELOPE_OVERHEAD, 'an empty plaintext is still a whole envelope');
  t.same(decryptEnvelope(aesKey, empty), Buffer.alloc(0));
  t.same(await streamed(new DecryptingStream(aesKey), [empty]), Buffer.alloc(0));
});

t.test('streams: every flipped bit and every truncation is refused as the buffer form refuses it', async (t) => {
  let wrong = 0;
  for (let i = 0; i < envelope.length; i++) {
    const bad = Buffer.from(envelope);
    bad[i] = bad[i]! ^ 0x10;
    const code = await streamCode(chunked(bad, [5, 11]));
    if (code !== (i < 4 ? 'ENVELOPE_UNKNOWN_FORMAT' : 'DECRYPT_FAILED')) wrong++;
  }
  t.equal(wrong, 0, "a flipped bit anywhere, the tag's last byte included");
  for (let n = 0; n < envelope.length; n++) {
    const code = await streamCode(chunked(envelope.subarray(0, n), [3]));
    if (code !== (n < ENVELOPE_OVERHEAD ? 'ENVELOPE_TRUNCATED' : 'DECRYPT_FAILED')) wrong++;
  }
  t.equal(wrong, 0, 'every length below the full envelope');
  t.equal(await streamCode([envelope], otherKey), 'DECRYPT_FAILED', 'another key');
});

t.test('streams: a foreign format is refused at its first four bytes, before the rest arrives', async (t) => {
  const newer = Buffer.from(envelope);
  newer.write('RQE2', 0, 'ascii');
  const decrypting = new DecryptingStream(aesKey);
  const failed = new Promise<Error>((resolve) => decrypting.once('error', resolve));
  decrypting.write(newer.subarray(0, 4)); // and nothing more: the stream never ends
  const err = await failed;
  t.ok(isVsyncError(err, 'ENVELOPE_UNKNOWN_FORMAT'));
  t.match(err.message, /version "2" is not supported/);
});
