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
import { VsyncError, isVsyncError } from '../../shared/errors.js';
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

/** The directory store, but a version's file is damaged (one byte, at `offset(size)`) just before it is stored. */
class DamagingStore extends DirStorage {
  damaged = 0;
  /** Whether the version's file was still being written when the store was handed it. */
  growing: boolean | undefined;
  constructor(
    root: string,
    private readonly offset: (size: number) => number,
  ) {
    super(root);
  }
  override async putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult> {
    if (!Buffer.isBuffer(body) && key.includes('/versions/')) {
      this.growing = body.growing !== undefined;
      await body.growing?.beyond(Number.POSITIVE_INFINITY); // damaged once whole, or its writer would write over it
      const fd = openSync(body.path, 'r+');
      const byte = Buffer.alloc(1);
      const at = this.offset(body.size);
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
  // Past IN_MEMORY_BYTES, so sealed into a work file. Noise is stored, so the zip's length is known ahead and
  // the file is uploaded while it is written; text is deflated, its length known only once the file is whole.
  const shapes = [
    ['noise', () => randomBytes(IN_MEMORY_BYTES + 4096), true],
    ['text', () => Buffer.from('SECRET_LINE=some-value-that-repeats\n'.repeat(Math.ceil((IN_MEMORY_BYTES + 4096) / 36))), false],
  ] as const;
  for (const [shape, bytes, growing] of shapes) {
    for (const [where, offset] of [
      ['in its tag', (size: number) => size - 1],
      ['mid-zip', (size: number) => Math.floor(size / 2)],
    ] as const) {
      const what = `${shape}, damaged ${where}`;
      const store = new DamagingStore(join(t.testdir(), 'store'), offset);
      const { cleanup, a } = await twoMachines('vsync-push-check-', store);
      t.teardown(cleanup);
      writeFileSync(join(envFileOf(a), '..', 'blob.bin'), bytes());
      writeFileSync(envFileOf(a), 'v=1\n');
      const err = await caught(push(a.deps, a.ref, {}, () => undefined));
      t.equal(store.damaged, 1, `${what}: the version's file was damaged before the store read it`);
      t.equal(store.growing, growing, `${what}: ${growing ? 'uploaded while written' : 'uploaded once whole'}`);
      t.match(err, { code: 'INTERNAL', message: /did not decrypt to what was sealed \(DECRYPT_FAILED\)/ }, `${what}: the check's refusal`);
      t.same(await store.list(''), [], `${what}: no version, no latest in the store`);
      t.same(readdirSync(workFolder(a.deps.environment)), [], `${what}: the work folder is empty again`);
    }
  }
});

/** The directory store, but a version's upload fails with `code` once it has read `after` bytes of the body. */
class FailingStore extends DirStorage {
  constructor(
    root: string,
    private readonly after: number,
  ) {
    super(root);
  }
  override async putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult> {
    if (Buffer.isBuffer(body) || !key.includes('/versions/')) return super.putIfAbsent(key, body, options);
    let read = 0;
    const failing = {
      ...body,
      inspect: () => ({
        update: (chunk: Buffer) => {
          read += chunk.length;
          if (read >= this.after) throw new VsyncError('STORAGE_PERMANENT', 'the store went away');
        },
        end: () => undefined,
      }),
    };
    return super.putIfAbsent(key, failing, options);
  }
}

t.test('an upload that fails while its version is still being written stops the writer and leaves nothing behind', async (t) => {
  for (const after of [1, 4 * 1024 * 1024]) {
    const store = new FailingStore(join(t.testdir(), 'store'), after);
    const { cleanup, a } = await twoMachines('vsync-push-check-', store);
    t.teardown(cleanup);
    writeFileSync(join(envFileOf(a), '..', 'blob.bin'), randomBytes(IN_MEMORY_BYTES + 4 * 1024 * 1024));
    writeFileSync(envFileOf(a), 'v=1\n');
    const err = await caught(push(a.deps, a.ref, {}, () => undefined));
    t.match(err, { code: 'STORAGE_PERMANENT', message: /the store went away/ }, `failed after ${after} bytes: the store's error`);
    t.same(await store.list(''), [], `failed after ${after} bytes: nothing stored`);
    t.same(readdirSync(workFolder(a.deps.environment)), [], `failed after ${after} bytes: the work folder is empty again`);
  }
});
