import t from 'tap';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SEAL_HEADER_BYTES, seal, unseal } from '../../daemon/crypto/seal.js';
import { UnsealingStream } from '../../daemon/crypto/seal-stream.js';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { DecryptingStream } from '../../daemon/crypto/envelope-stream.js';

const zip = Buffer.from('PK\x05\x06' + '\0'.repeat(18), 'latin1');

t.test('seal then unseal', async (t) => {
  const sealed = seal('20260516-113304', zip);
  t.equal(sealed.subarray(0, 23).toString('latin1'), 'RQEM000120260516-113304');
  const opened = unseal(sealed);
  t.equal(opened.ts, '20260516-113304');
  t.same(opened.payload, zip);
  t.same(unseal(seal('20260516-113304', Buffer.alloc(0))).payload, Buffer.alloc(0), 'empty payload');
});

t.test('bad seals', async (t) => {
  const good = seal('20260516-113304', zip);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['too short', good.subarray(0, SEAL_HEADER_BYTES - 1), /at least 23/],
    ['no magic', Buffer.concat([Buffer.from('XXXX0001'), good.subarray(8)]), /no RQEM magic/],
    ['newer seal version', Buffer.concat([Buffer.from('RQEM0002'), good.subarray(8)]), /seal version "0002"/],
    ['bad timestamp', Buffer.concat([Buffer.from('RQEM000120261399-000000'), zip]), /sealed timestamp/],
    ['timestamp with junk', Buffer.concat([Buffer.from('RQEM0001 0260516-113304'), zip]), /sealed timestamp/],
  ];
  for (const [name, buf, message] of cases) {
    t.throws(() => unseal(buf), { code: 'SEAL_INVALID', message }, name);
  }
});

t.test('a newer seal version says to upgrade', async (t) => {
  const newer = Buffer.concat([Buffer.from('RQEM0002'), seal('20260516-113304', zip).subarray(8)]);
  t.throws(() => unseal(newer), { code: 'SEAL_INVALID', hint: /newer vsync; upgrade/ });
});

t.test('sealing refuses a bad timestamp', async (t) => {
  t.throws(() => seal('2026-05-16', zip), { code: 'TIMESTAMP_INVALID' });
});

t.test('a streamed unseal takes the header off whatever the chunking, and refuses what unseal refuses', async (t) => {
  const payload = randomBytes(5_000);
  const sealed = seal('20260516-113304', payload);
  for (const size of [1, 5, 23, 24, 4096]) {
    const unsealing = new UnsealingStream();
    const chunks: Buffer[] = [];
    for (let at = 0; at < sealed.length; at += size) chunks.push(sealed.subarray(at, at + size));
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), unsealing, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    });
    t.equal(unsealing.ts, '20260516-113304', `chunks of ${size}: the sealed timestamp`);
    t.same(Buffer.concat(out), payload, `chunks of ${size}: the payload`);
  }
  const codeOf = async (bytes: Buffer) =>
    pipeline(Readable.from([bytes]), new UnsealingStream(), async (source: AsyncIterable<Buffer>) => {
      for await (const _ of source);
    }).then(
      () => 'no error',
      (err) => (err as { code?: string }).code,
    );
  t.equal(await codeOf(sealed.subarray(0, SEAL_HEADER_BYTES - 1)), 'SEAL_INVALID', 'shorter than a header');
  t.equal(await codeOf(Buffer.concat([Buffer.from('RQEM0002'), sealed.subarray(8)])), 'SEAL_INVALID', 'a newer seal');
  t.equal(await codeOf(Buffer.from('RQEM000120261399-000000rest')), 'SEAL_INVALID', 'a bad timestamp');
  t.equal(await codeOf(sealed.subarray(0, SEAL_HEADER_BYTES)), 'no error', 'an empty payload');
});

t.test('a streamed unseal judges the header only at the end, after the GCM tag: a forged header is DECRYPT_FAILED', async (t) => {
  const aesKey = randomBytes(32);
  const sealed = seal('20260516-113304', randomBytes(20_000));
  const envelope = encryptEnvelope(aesKey, sealed);
  // Without the key: the seal's version digit is known plaintext, so XOR turns RQEM0001 into RQEM0002.
  const forged = Buffer.from(envelope);
  forged[16 + 7] = forged[16 + 7]! ^ ('1'.charCodeAt(0) ^ '2'.charCodeAt(0));
  const chunks: Buffer[] = [];
  for (let at = 0; at < forged.length; at += 1024) chunks.push(forged.subarray(at, at + 1024));
  const code = await pipeline(
    Readable.from(chunks),
    new DecryptingStream(aesKey),
    new UnsealingStream(),
    async (source: AsyncIterable<Buffer>) => {
      for await (const _ of source);
    },
  ).then(
    () => 'no error',
    (err) => (err as { code?: string }).code,
  );
  t.equal(code, 'DECRYPT_FAILED', 'the tag fails before the forged header is read as a newer seal');
});
