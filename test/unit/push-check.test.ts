// The check a push runs over its sealed version before the store may hold it (version-file.ts sealedCheck):
// over the bytes in memory for a small vault, and for a large one over the very bytes the store reads to
// send (FileBody.inspect), its last chunk held back until the check passed (storage/file-body.ts).
import { randomBytes } from 'node:crypto';
import { openSync, readdirSync, readSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import type { Body, CallOptions, WriteResult } from '../../daemon/storage/storage.js';
import { push } from '../../daemon/vault/push.js';
import { IN_MEMORY_BYTES, encryptToMemory, sealedCheck, type ZipDigest } from '../../daemon/vault/version-file.js';
import { workFolder } from '../../shared/paths.js';
import { isVsyncError } from '../../shared/errors.js';
import { caught } from '../helpers/caught.js';
import { envFileOf, twoMachines } from '../helpers/vault-fixture.js';

const TS = '20260516-113304';
/** The refusal of bytes that decrypt, but not to the version and zip that were sealed. */
const NOT_SEALED = /^INTERNAL: .*the sealed version did not decrypt to what was sealed$/;

async function sealed(zip: Buffer): Promise<{ aesKey: Buffer; body: Buffer; zip: ZipDigest }> {
  const aesKey = randomBytes(32);
  const out = await encryptToMemory(aesKey, Readable.from([zip]), TS);
  return { aesKey, ...out };
}

/** sealedCheck over `body` in chunks of `size`; the error code it ends with, or 'ok'. */
function checked(aesKey: Buffer, body: Buffer, zip: ZipDigest, size: number, ts = TS): string {
  const check = sealedCheck(aesKey, ts, zip);
  try {
    for (let at = 0; at < body.length; at += size) check.update(body.subarray(at, at + size));
    check.end();
    return 'ok';
  } catch (err) {
    return isVsyncError(err) ? `${err.code}: ${err.message}` : String(err);
  }
}

t.test('sealedCheck passes the version it was made for, whatever the chunks, and refuses any other', async (t) => {
  const { aesKey, body, zip } = await sealed(randomBytes(200_000));
  for (const size of [1, 7, 16, 65_536, body.length]) t.equal(checked(aesKey, body, zip, size), 'ok', `in chunks of ${size}`);

  const flipped = (at: number) => {
    const copy = Buffer.from(body);
    copy[at]! ^= 1;
    return copy;
  };
  for (const [what, bytes] of [
    ['a flipped byte in the seal header', flipped(4 + 12 + 3)],
    ['a flipped byte mid-zip', flipped(100_000)],
    ['a flipped byte in the tag', flipped(body.length - 1)],
  ] as const) {
    t.match(
      checked(aesKey, bytes, zip, 65_536),
      /^INTERNAL: .*the sealed version did not decrypt to what was sealed \(DECRYPT_FAILED\)$/,
      what,
    );
  }
  t.match(checked(aesKey, body.subarray(0, body.length - 1), zip, 65_536), /^INTERNAL: .*\(DECRYPT_FAILED\)/, 'one byte short');
  t.match(checked(aesKey, body.subarray(0, 20), zip, 65_536), /^INTERNAL: .*\(ENVELOPE_TRUNCATED\)/, 'cut after the head');
  t.match(checked(aesKey, flipped(0), zip, 65_536), /^INTERNAL: .*\(ENVELOPE_UNKNOWN_FORMAT\)/, 'not an envelope');
  t.match(checked(randomBytes(32), body, zip, 65_536), /^INTERNAL: .*\(DECRYPT_FAILED\)/, 'another key');
  t.match(checked(aesKey, body, zip, 65_536, '20260516-113305'), NOT_SEALED, 'sealed as another version');
  t.match(
    checked(aesKey, body, { ...zip, sha256: zip.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0')) }, 65_536),
    NOT_SEALED,
    'another zip',
  );
  t.match(checked(aesKey, body, { ...zip, bytes: zip.bytes + 1 }, 65_536), NOT_SEALED, 'another length');
});

/** The directory store, but a version's file is damaged (one byte at `at` from its end) just before it is stored. */
class DamagingStore extends DirStorage {
  damaged = 0;
  constructor(
    root: string,
    private readonly fromEnd: number,
  ) {
    super(root);
  }
  override async putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult> {
    if (!Buffer.isBuffer(body) && key.includes('/versions/')) {
      const fd = openSync(body.path, 'r+');
      const byte = Buffer.alloc(1);
      const at = body.size - this.fromEnd;
      readSync(fd, byte, 0, 1, at);
      byte[0]! ^= 0x40;
      writeSync(fd, byte, 0, 1, at);
      closeSync(fd);
      this.damaged++;
    }
    return super.putIfAbsent(key, body, options);
  }
}

t.test('a large version damaged between its sealing and its upload is refused by the check, and the store gets nothing', async (t) => {
  for (const [where, fromEnd] of [
    ['in its tag', 1],
    ['mid-zip', 4 * 1024 * 1024],
  ] as const) {
    const storeRoot = t.testdir();
    const store = new DamagingStore(join(storeRoot, where.replace(/\W/g, '-')), fromEnd);
    const { cleanup, a } = await twoMachines('vsync-push-check-', store);
    t.teardown(cleanup);
    // Incompressible and past IN_MEMORY_BYTES: sealed into a work file, which the store reads to send.
    writeFileSync(join(envFileOf(a), '..', 'blob.bin'), randomBytes(IN_MEMORY_BYTES + 4096));
    writeFileSync(envFileOf(a), 'v=1\n');
    const err = await caught(push(a.deps, a.ref, {}, () => undefined));
    t.equal(store.damaged, 1, `${where}: the version's file was damaged before the store read it`);
    t.match(err, { code: 'INTERNAL', message: /did not decrypt to what was sealed \(DECRYPT_FAILED\)/ }, `${where}: the check's refusal`);
    t.same(await store.list(''), [], `${where}: no version, no latest in the store`);
    t.same(readdirSync(workFolder(a.deps.environment)), [], `${where}: the work folder is empty again`);
  }
});
