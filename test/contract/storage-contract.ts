// The one contract every Storage adapter passes (daemon/storage/storage.ts states it). Each adapter's test
// file calls runStorageContract with a factory; every case works under its own random key namespace so
// runs never see each other's objects.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { VsyncError } from '../../shared/errors.js';
import { FileProgress } from '../../daemon/vault/file-progress.js';
import type { DownloadInfo, FileBody, Storage } from '../../daemon/storage/storage.js';
import type { TestContext } from '../helpers/tap-types.js';

export interface ContractOptions {
  /** How a described key must look, e.g. /^s3:\/\/bucket\// */
  readonly describes: RegExp;
}

const CONCURRENT_WRITERS = 16;
const MANY_KEYS = 1_005; // past S3's 1,000-key page

function namespace(): string {
  return `contract_${randomBytes(5).toString('hex')}`;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** A file holding `bytes` in a folder removed when the test ends, as a FileBody of `size` (its length unless told). */
function fileBody(t: TestContext, bytes: Buffer, size = bytes.length): FileBody {
  const folder = mkdtempSync(join(tmpdir(), 'vsync-contract-file-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const path = join(folder, 'version.enc');
  writeFileSync(path, bytes);
  return { path, size };
}

/** A download's chunks and what the consumer was told, through a consumer that keeps them. */
async function downloaded(storage: Storage, key: string, maxBytes?: number): Promise<{ chunks: Buffer[]; info: DownloadInfo }> {
  return storage.download(
    key,
    async (body, info) => {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      return { chunks, info };
    },
    maxBytes === undefined ? {} : { maxBytes },
  );
}

function tally(codes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  return out;
}

export function runStorageContract(t: TestContext, storage: Storage, options: ContractOptions): void {
  t.test('get and head of a missing object: STORAGE_NOT_FOUND', async (t) => {
    const ns = namespace();
    t.equal(await codeOf(storage.get(`${ns}/missing`)), 'STORAGE_NOT_FOUND');
    t.equal(await codeOf(storage.head(`${ns}/missing`)), 'STORAGE_NOT_FOUND');
    t.equal(await codeOf(storage.get(`${ns}/deep/er/missing.enc`)), 'STORAGE_NOT_FOUND');
  });

  t.test('put, get, head: bytes and a stable ETag', async (t) => {
    const key = `${namespace()}/dev/versions/20260516-113304.enc`;
    const body = randomBytes(4096);
    const written = await storage.put(key, body);
    t.type(written.etag, 'string');
    t.notMatch(written.etag, /^"|"$/, 'ETags are bare, without quotes');
    const got = await storage.get(key);
    t.same(got.body, body, 'the same bytes');
    t.equal(got.etag, written.etag, 'get returns the ETag put returned');
    t.equal((await storage.get(key)).etag, written.etag, 'stable across reads');
    const head = await storage.head(key);
    t.equal(head.size, body.length);
    t.equal(head.etag, written.etag);
    t.ok(Math.abs(head.lastModified.getTime() - Date.now()) < 10 * 60_000, 'lastModified is about now');
    t.match(storage.describe(key), options.describes);
    t.ok(storage.describe(key).endsWith(key), 'describe names the key');
  });

  t.test('a capped read: the bytes within the cap, STORAGE_OBJECT_TOO_LARGE past it, and any cap above the object', async (t) => {
    const key = `${namespace()}/dev/versions/20260516-113305.enc`;
    const body = randomBytes(300_000);
    await storage.put(key, body);
    t.same((await storage.get(key, { maxBytes: body.length })).body, body, 'exactly at the cap');
    t.equal(await codeOf(storage.get(key, { maxBytes: body.length - 1 })), 'STORAGE_OBJECT_TOO_LARGE', 'one byte over');
    // A cap raised past 2 GiB (VSYNC_MAX_VERSION_BYTES allows it) once made the directory store ask Node for
    // one read that large, which aborts the process.
    t.same((await storage.get(key, { maxBytes: 3 * 1024 ** 3 })).body, body, 'a cap of 3 GiB on a small object');
  });

  t.test('empty and binary bodies survive', async (t) => {
    const ns = namespace();
    await storage.put(`${ns}/empty`, Buffer.alloc(0));
    t.equal((await storage.get(`${ns}/empty`)).body.length, 0);
    t.equal((await storage.head(`${ns}/empty`)).size, 0);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await storage.put(`${ns}/bytes`, all);
    t.same((await storage.get(`${ns}/bytes`)).body, all);
    const mib = randomBytes(1 << 20);
    await storage.put(`${ns}/mib`, mib);
    t.ok((await storage.get(`${ns}/mib`)).body.equals(mib), '1 MiB');
  });

  t.test('put replaces, and the ETag changes', async (t) => {
    const key = `${namespace()}/latest`;
    const a = await storage.put(key, Buffer.from('20260516-113304'));
    const b = await storage.put(key, Buffer.from('20260516-113305'));
    t.not(a.etag, b.etag);
    t.equal((await storage.get(key)).body.toString(), '20260516-113305');
  });

  t.test('getIfChanged: undefined while unchanged, the new bytes and ETag once changed', async (t) => {
    const key = `${namespace()}/dev/latest`;
    const v1 = await storage.put(key, Buffer.from('20260516-113304'));
    t.equal(await storage.getIfChanged(key, v1.etag), undefined, 'unchanged: undefined');
    t.equal(await storage.getIfChanged(key, v1.etag), undefined, 'still unchanged on a second poll');
    const v2 = await storage.put(key, Buffer.from('20260516-113305'));
    const changed = await storage.getIfChanged(key, v1.etag);
    t.ok(changed, 'changed: the object');
    t.equal(changed?.body.toString(), '20260516-113305', 'the new bytes');
    t.equal(changed?.etag, v2.etag, 'the new ETag, as put returned it');
    t.notMatch(changed?.etag ?? '', /^"|"$/, 'a bare ETag');
    t.equal(await storage.getIfChanged(key, v2.etag), undefined, 'unchanged again at the new ETag');
  });

  t.test('getIfChanged: an ETag the object never had gives the object', async (t) => {
    const key = `${namespace()}/dev/latest`;
    const body = randomBytes(64);
    const written = await storage.put(key, body);
    for (const etag of ['not-an-etag', 'ffffffffffffffffffffffffffffffff']) {
      const got = await storage.getIfChanged(key, etag);
      t.same(got?.body, body, `${etag}: the bytes`);
      t.equal(got?.etag, written.etag, `${etag}: the current ETag`);
    }
  });

  t.test('getIfChanged of a missing object: STORAGE_NOT_FOUND', async (t) => {
    const ns = namespace();
    const other = await storage.put(`${ns}/present`, Buffer.from('x'));
    t.equal(await codeOf(storage.getIfChanged(`${ns}/missing`, other.etag)), 'STORAGE_NOT_FOUND', 'with a real ETag');
    t.equal(await codeOf(storage.getIfChanged(`${ns}/deep/er/missing`, 'not-an-etag')), 'STORAGE_NOT_FOUND', 'with a junk ETag');
    await storage.delete(`${ns}/present`);
    t.equal(await codeOf(storage.getIfChanged(`${ns}/present`, other.etag)), 'STORAGE_NOT_FOUND', 'deleted at the ETag held');
  });

  t.test('download: the bytes get gives, in several Buffers, with the same size and ETag', async (t) => {
    const key = `${namespace()}/dev/versions/20260516-113306.enc`;
    const body = randomBytes(5 * 1024 * 1024 + 17);
    const written = await storage.put(key, body);
    const { chunks, info } = await downloaded(storage, key);
    t.ok(
      chunks.every((c) => Buffer.isBuffer(c)),
      'every chunk is a Buffer',
    );
    t.ok(chunks.length > 1, `in chunks (${chunks.length})`);
    t.ok(Buffer.concat(chunks).equals(body), 'the same bytes, in order');
    t.same(info, { size: body.length, etag: written.etag }, 'the size and the ETag put returned');
    t.equal(info.etag, (await storage.get(key)).etag, 'the ETag get returns');
    const capped = await downloaded(storage, key, body.length);
    t.ok(Buffer.concat(capped.chunks).equals(body), 'exactly at the cap');
    const empty = `${namespace()}/empty`;
    const none = await storage.put(empty, Buffer.alloc(0));
    t.same(await downloaded(storage, empty), { chunks: [], info: { size: 0, etag: none.etag } }, 'an empty object: no bytes, size 0');
  });

  t.test('download of a missing object: STORAGE_NOT_FOUND, and the consumer is never called', async (t) => {
    const ns = namespace();
    let called = 0;
    const consume = async () => void called++;
    t.equal(await codeOf(storage.download(`${ns}/missing`, consume)), 'STORAGE_NOT_FOUND');
    t.equal(await codeOf(storage.download(`${ns}/deep/er/missing.enc`, consume)), 'STORAGE_NOT_FOUND');
    t.equal(called, 0);
  });

  t.test('download over the cap: STORAGE_OBJECT_TOO_LARGE by the declared size, and the consumer is never called', async (t) => {
    const key = `${namespace()}/dev/versions/20260516-113307.enc`;
    const body = randomBytes(300_000);
    await storage.put(key, body);
    let called = 0;
    const consume = async () => void called++;
    t.equal(await codeOf(storage.download(key, consume, { maxBytes: body.length - 1 })), 'STORAGE_OBJECT_TOO_LARGE', 'one byte over');
    t.equal(await codeOf(storage.download(key, consume, { maxBytes: 0 })), 'STORAGE_OBJECT_TOO_LARGE', 'a cap of 0');
    t.equal(called, 0);
  });

  t.test("download: the consumer's error passes through as it is, and the store still answers", async (t) => {
    const key = `${namespace()}/dev/versions/20260516-113308.enc`;
    const body = randomBytes(3 * 1024 * 1024);
    await storage.put(key, body);
    for (const after of [0, 1, 2]) {
      const mine = new Error(`the consumer gives up after ${after} chunks`);
      let calls = 0;
      let error: unknown;
      try {
        await storage.download(key, async (chunks) => {
          calls++;
          // Left mid-body, without ending the iteration: the store must let go of the transfer all the same.
          const reading = chunks[Symbol.asyncIterator]();
          for (let n = 0; n < after; n++) await reading.next();
          throw mine;
        });
      } catch (err) {
        error = err;
      }
      t.equal(error, mine, `after ${after} chunks: the same error object`);
      t.equal(calls, 1, 'the consumer was called once: its failure is not retried');
    }
    t.ok((await storage.get(key)).body.equals(body), 'the store still answers after abandoned transfers');
  });

  t.test('putIfAbsent of a FileBody: streamed, the same ETag as get, then refused and the first bytes stay', async (t) => {
    const key = `${namespace()}/dev/versions/20260516-113309.enc`;
    const first = randomBytes(6 * 1024 * 1024 + 3);
    const written = await storage.putIfAbsent(key, fileBody(t, first));
    t.notMatch(written.etag, /^"|"$/, 'a bare ETag');
    const got = await storage.get(key);
    t.ok(got.body.equals(first), 'the bytes round-trip');
    t.equal(got.etag, written.etag, 'get returns the ETag putIfAbsent returned');
    t.equal((await storage.head(key)).size, first.length);
    t.equal(
      await codeOf(storage.putIfAbsent(key, fileBody(t, randomBytes(first.length)))),
      'STORAGE_PRECONDITION_FAILED',
      'a second FileBody on the key',
    );
    t.equal(await codeOf(storage.putIfAbsent(key, Buffer.from('bytes'))), 'STORAGE_PRECONDITION_FAILED', 'and bytes');
    const after = await storage.get(key);
    t.ok(after.body.equals(first), 'the first bytes stay');
    t.equal(after.etag, written.etag);
    const empty = `${namespace()}/empty`;
    await storage.putIfAbsent(empty, fileBody(t, Buffer.alloc(0)));
    t.equal((await storage.get(empty)).body.length, 0, 'an empty file');
  });

  t.test('putIfAbsent of a FileBody whose file is not `size` bytes: refused, and no object is created', async (t) => {
    const ns = namespace();
    const bytes = randomBytes(256 * 1024);
    for (const [what, size] of [
      ['shorter than its size', bytes.length + 1000],
      ['longer than its size', bytes.length - 1000],
    ] as const) {
      const key = `${ns}/dev/versions/${size}.enc`;
      t.equal(await codeOf(storage.putIfAbsent(key, fileBody(t, bytes, size))), 'STORAGE_PERMANENT', `${what}: refused`);
      t.equal(await codeOf(storage.get(key)), 'STORAGE_NOT_FOUND', `${what}: nothing stored`);
    }
    t.same(await storage.list(`${ns}/`), [], 'nothing listed either');
    const missing = { path: join(tmpdir(), `vsync-no-such-file-${randomBytes(4).toString('hex')}`), size: 10 };
    t.equal(await codeOf(storage.putIfAbsent(`${ns}/x`, missing)), 'STORAGE_PERMANENT', 'a file that does not exist');
    t.equal(await codeOf(storage.get(`${ns}/x`)), 'STORAGE_NOT_FOUND');
  });

  t.test('putIfAbsent of a FileBody with an inspector: it sees every byte in order, and a refusal stores nothing', async (t) => {
    const ns = namespace();
    for (const bytes of [randomBytes(6 * 1024 * 1024 + 3), randomBytes(700)]) {
      const size = `${bytes.length} bytes`;
      const seen: Buffer[] = [];
      let ends = 0;
      const inspected = {
        ...fileBody(t, bytes),
        inspect: () => ({ update: (c: Buffer) => void seen.push(Buffer.from(c)), end: () => void ends++ }),
      };
      const key = `${ns}/dev/versions/${bytes.length}.enc`;
      const written = await storage.putIfAbsent(key, inspected);
      t.ok(Buffer.concat(seen).equals(bytes), `${size}: the inspector saw exactly the file's bytes, in order`);
      t.equal(ends, 1, `${size}: and judged them once`);
      t.equal((await storage.get(key)).etag, written.etag, `${size}: then the object was stored`);

      // Refused at the very end (with every byte but the held-back chunk already handed on), or part-way.
      for (const [when, failAt] of [
        ['at the end', Number.POSITIVE_INFINITY],
        ['at the first chunk', 1],
      ] as const) {
        let chunks = 0;
        const refusing = {
          ...fileBody(t, bytes),
          inspect: () => ({
            update: () => {
              if (++chunks >= failAt) throw new VsyncError('INTERNAL', 'refused while read');
            },
            end: () => {
              throw new VsyncError('INTERNAL', 'refused at the end');
            },
          }),
        };
        const refusedKey = `${ns}/dev/versions/${bytes.length}-${failAt}.enc`;
        t.equal(await codeOf(storage.putIfAbsent(refusedKey, refusing)), 'INTERNAL', `${size}, refused ${when}: the inspector's error`);
        t.equal(await codeOf(storage.get(refusedKey)), 'STORAGE_NOT_FOUND', `${size}, refused ${when}: nothing stored`);
      }
    }
    t.same(
      (await storage.list(`${ns}/`)).map((o) => o.key).sort(),
      [`${ns}/dev/versions/6291459.enc`, `${ns}/dev/versions/700.enc`],
      'only the two accepted objects are listed',
    );
  });

  t.test(
    'putIfAbsent of a FileBody still being written: read as it grows and stored whole; its writer failing stores nothing',
    async (t) => {
      const ns = namespace();
      const bytes = randomBytes(3 * 1024 * 1024 + 5);
      const half = 1024 * 1024 + 1;
      for (const fails of [false, true]) {
        const what = fails ? 'the writer fails part-way' : 'the writer finishes';
        const { path } = fileBody(t, Buffer.alloc(0));
        const handle = await open(path, 'r+');
        const progress = new FileProgress();
        let seen = 0;
        let ended = 0;
        let firstRead: () => void = () => undefined;
        const readSome = new Promise<void>((resolve) => (firstRead = resolve));
        const body = {
          path,
          size: bytes.length,
          growing: progress,
          inspect: () => ({
            update: (chunk: Buffer) => {
              seen += chunk.length;
              firstRead();
            },
            end: () => void ended++,
          }),
        };
        // The writer waits for the store to have read from the first part before it writes the rest.
        const writer = (async () => {
          await handle.write(bytes, 0, half, 0);
          progress.advance(half);
          await readSome;
          t.ok(seen > 0 && seen <= half, `${what}: the store read while the file held only its first part`);
          if (fails) {
            progress.fail(new VsyncError('VAULT_CHANGED_DURING_PUSH', 'a file changed while it was zipped'));
          } else {
            await handle.write(bytes, half, bytes.length - half, half);
            progress.advance(bytes.length - half);
            progress.finish();
          }
          await handle.close();
        })();
        const key = `${ns}/dev/versions/${fails ? 'failed' : 'whole'}.enc`;
        const outcome = await codeOf(storage.putIfAbsent(key, body));
        await writer;
        if (fails) {
          t.equal(outcome, 'VAULT_CHANGED_DURING_PUSH', `${what}: the writer's error`);
          t.equal(ended, 0, `${what}: never judged whole`);
          t.equal(await codeOf(storage.get(key)), 'STORAGE_NOT_FOUND', `${what}: nothing stored`);
        } else {
          t.equal(outcome, 'ok', what);
          t.equal(ended, 1, `${what}: judged whole once`);
          t.ok((await storage.get(key)).body.equals(bytes), `${what}: every byte stored`);
        }
      }
    },
  );

  t.test('putIfAbsent: creates once, then refuses and keeps the first bytes', async (t) => {
    const key = `${namespace()}/dev/versions/20260516-113304.enc`;
    const first = await storage.putIfAbsent(key, Buffer.from('first'));
    t.equal(await codeOf(storage.putIfAbsent(key, Buffer.from('second'))), 'STORAGE_PRECONDITION_FAILED');
    const got = await storage.get(key);
    t.equal(got.body.toString(), 'first');
    t.equal(got.etag, first.etag);
  });

  t.test('putIfMatch: only at the current ETag', async (t) => {
    const key = `${namespace()}/dev/latest`;
    const v1 = await storage.putIfAbsent(key, Buffer.from('20260516-113304'));
    const v2 = await storage.putIfMatch(key, Buffer.from('20260516-113305'), v1.etag);
    t.equal((await storage.get(key)).etag, v2.etag, 'the returned ETag is the stored one');
    t.equal(await codeOf(storage.putIfMatch(key, Buffer.from('stale writer'), v1.etag)), 'STORAGE_PRECONDITION_FAILED');
    t.equal(
      await codeOf(storage.putIfMatch(key, Buffer.from('junk etag'), 'ffffffffffffffffffffffffffffffff')),
      'STORAGE_PRECONDITION_FAILED',
    );
    t.equal((await storage.get(key)).body.toString(), '20260516-113305', 'refused writes changed nothing');
    const missing = `${namespace()}/dev/latest`;
    t.equal(await codeOf(storage.putIfMatch(missing, Buffer.from('x'), v1.etag)), 'STORAGE_PRECONDITION_FAILED', 'absent object');
    t.equal(await codeOf(storage.get(missing)), 'STORAGE_NOT_FOUND', 'and it stays absent');
  });

  t.test(`${CONCURRENT_WRITERS} concurrent putIfAbsent on one key: exactly one winner`, async (t) => {
    for (let round = 0; round < 3; round++) {
      const key = `${namespace()}/race/versions/20260516-113304.enc`;
      const bodies = Array.from({ length: CONCURRENT_WRITERS }, (_, i) => Buffer.from(`writer ${i} ${randomBytes(8).toString('hex')}`));
      const codes = await Promise.all(bodies.map((b) => codeOf(storage.putIfAbsent(key, b))));
      t.same(tally(codes), { ok: 1, STORAGE_PRECONDITION_FAILED: CONCURRENT_WRITERS - 1 }, `round ${round}`);
      const winner = bodies[codes.indexOf('ok')]!;
      t.same((await storage.get(key)).body, winner, "the stored bytes are the winner's");
    }
  });

  t.test(`${CONCURRENT_WRITERS} concurrent putIfAbsent of FileBodies on one key: exactly one winner`, async (t) => {
    for (let round = 0; round < 3; round++) {
      const key = `${namespace()}/race/versions/20260516-113304.enc`;
      const bodies = Array.from({ length: CONCURRENT_WRITERS }, () => randomBytes(512 * 1024));
      const files = bodies.map((b) => fileBody(t, b));
      const codes = await Promise.all(files.map((f) => codeOf(storage.putIfAbsent(key, f))));
      t.same(tally(codes), { ok: 1, STORAGE_PRECONDITION_FAILED: CONCURRENT_WRITERS - 1 }, `round ${round}`);
      const winner = bodies[codes.indexOf('ok')]!;
      t.ok((await storage.get(key)).body.equals(winner), "the stored bytes are the winner's");
    }
  });

  t.test(`${CONCURRENT_WRITERS} concurrent putIfMatch on one key: exactly one winner`, async (t) => {
    for (let round = 0; round < 3; round++) {
      const key = `${namespace()}/race/latest`;
      const base = await storage.put(key, Buffer.from('20260516-113304'));
      const bodies = Array.from({ length: CONCURRENT_WRITERS }, (_, i) => Buffer.from(`20260516-1134${String(i).padStart(2, '0')}`));
      const codes = await Promise.all(bodies.map((b) => codeOf(storage.putIfMatch(key, b, base.etag))));
      t.same(tally(codes), { ok: 1, STORAGE_PRECONDITION_FAILED: CONCURRENT_WRITERS - 1 }, `round ${round}`);
      const winner = bodies[codes.indexOf('ok')]!;
      t.same((await storage.get(key)).body, winner, "the stored bytes are the winner's");
    }
  });

  t.test('list: string prefixes, sorted, sizes', async (t) => {
    const ns = namespace();
    const keys = [`${ns}/b/x`, `${ns}/a/versions/2.enc`, `${ns}/a/versions/1.enc`, `${ns}/a/latest`, `${ns}/ab/y`, `${ns}/a_/z`];
    for (const [i, key] of keys.entries()) await storage.put(key, Buffer.alloc(i + 1));
    const all = await storage.list(`${ns}/`);
    t.same(
      all.map((o) => o.key),
      [...keys].sort(),
      'every key, sorted',
    );
    t.same(all.find((o) => o.key === `${ns}/ab/y`)?.size, 5, 'sizes');
    t.same(
      (await storage.list(`${ns}/a/`)).map((o) => o.key),
      [`${ns}/a/latest`, `${ns}/a/versions/1.enc`, `${ns}/a/versions/2.enc`],
    );
    t.same((await storage.list(`${ns}/a`)).map((o) => o.key).length, 5, 'a prefix is a string prefix, not a folder');
    t.same(
      (await storage.list(`${ns}/a/versions/`)).map((o) => o.key),
      [`${ns}/a/versions/1.enc`, `${ns}/a/versions/2.enc`],
    );
    t.same(await storage.list(`${ns}/nothing/`), [], 'no match: empty');
    t.same(await storage.list(`${namespace()}/`), [], 'unknown namespace: empty');
  });

  t.test(`list pages past 1,000 keys (${MANY_KEYS})`, async (t) => {
    const ns = namespace();
    const keys = Array.from({ length: MANY_KEYS }, (_, i) => `${ns}/env/versions/${String(i).padStart(5, '0')}.enc`);
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map((k) => storage.put(k, Buffer.from('x'))));
    }
    const listed = await storage.list(`${ns}/env/versions/`);
    t.equal(listed.length, MANY_KEYS);
    t.same(
      listed.map((o) => o.key),
      keys,
      'all of them, in order, no duplicates',
    );
  });

  t.test('delete: removes; deleting a missing object succeeds', async (t) => {
    const key = `${namespace()}/gone`;
    await storage.put(key, Buffer.from('x'));
    await storage.delete(key);
    t.equal(await codeOf(storage.get(key)), 'STORAGE_NOT_FOUND');
    t.equal(await codeOf(storage.delete(key)), 'ok', 'again');
    t.equal(await codeOf(storage.delete(`${namespace()}/never/was`)), 'ok', 'never existed');
    t.equal(await codeOf(storage.putIfAbsent(key, Buffer.from('y'))), 'ok', 'the key is free again');
  });

  t.test('invalid keys are refused before the store is touched', async (t) => {
    const ns = namespace();
    for (const bad of [
      '',
      '/abs',
      `${ns}/../x`,
      `${ns}//x`,
      `${ns}/.hidden`,
      `${ns}/./x`,
      `${ns}/a b`,
      `${ns}/x/`,
      '..',
      `${ns}/\u00e9`,
      `${ns}\\x`,
    ]) {
      t.equal(await codeOf(storage.put(bad, Buffer.from('x'))), 'STORAGE_PERMANENT', `put ${JSON.stringify(bad)}`);
      t.equal(await codeOf(storage.get(bad)), 'STORAGE_PERMANENT', `get ${JSON.stringify(bad)}`);
      t.equal(await codeOf(storage.getIfChanged(bad, 'not-an-etag')), 'STORAGE_PERMANENT', `getIfChanged ${JSON.stringify(bad)}`);
      t.equal(await codeOf(storage.putIfAbsent(bad, Buffer.from('x'))), 'STORAGE_PERMANENT');
      t.equal(await codeOf(storage.download(bad, async () => undefined)), 'STORAGE_PERMANENT', `download ${JSON.stringify(bad)}`);
      t.equal(await codeOf(storage.delete(bad)), 'STORAGE_PERMANENT');
    }
    t.equal(await codeOf(storage.list('../')), 'STORAGE_PERMANENT');
    t.same(await storage.list(`${ns}/`), [], 'nothing was written');
  });
}
