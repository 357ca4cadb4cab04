// Capped reads (Storage ReadOptions) on each adapter: the declared size is judged before the body is read, and
// a store that sends more than it declared is cut off at the cap. The S3 cases use a stand-in client, so a
// server that lies about Content-Length can be played; Ceph RGW is in test/integration/hostile-store.test.ts.
import t from 'tap';
import { closeSync, openSync, ftruncateSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import { md5Etag, type Storage } from '../../daemon/storage/storage.js';
import type { TestContext } from '../helpers/tap-types.js';
import { tempBase } from '../helpers/vault-fixture.js';

const KEY = 'r/dev/versions/20260516-113304.enc';

async function capsOf(t: TestContext, name: string, storage: Storage): Promise<void> {
  const body = Buffer.alloc(2048, 7);
  await storage.put(KEY, body);
  t.same((await storage.get(KEY, { maxBytes: 2048 })).body, body, `${name}: exactly the cap is read`);
  t.same((await storage.get(KEY)).body, body, `${name}: no cap, as before`);
  await t.rejects(
    storage.get(KEY, { maxBytes: 2047 }),
    { code: 'STORAGE_OBJECT_TOO_LARGE', message: /holds 2048 bytes, over the cap of 2047/ },
    `${name}: one byte over`,
  );
  const etag = (await storage.head(KEY)).etag;
  t.equal(etag, md5Etag(body), `${name}: head's ETag`);
  t.equal(await storage.getIfChanged(KEY, etag, { maxBytes: 1 }), undefined, `${name}: unchanged costs nothing, whatever the cap`);
  await t.rejects(
    storage.getIfChanged(KEY, 'other', { maxBytes: 2047 }),
    { code: 'STORAGE_OBJECT_TOO_LARGE' },
    `${name}: changed and over the cap`,
  );
}

t.test('memory, directory and retrying stores refuse an object over the cap', async (t) => {
  const { base, cleanup } = tempBase('vsync-hostile-storage-');
  t.teardown(cleanup);
  await capsOf(t, 'memory', new MemoryStorage());
  await capsOf(t, 'directory', new DirStorage(join(base, 'store')));
  await capsOf(t, 'retrying directory', new RetryingStorage(new DirStorage(join(base, 'store2'))));
});

t.test('directory store: a 300 MiB sparse object is refused by its size, not read', async (t) => {
  const { base, cleanup } = tempBase('vsync-hostile-storage-');
  t.teardown(cleanup);
  const storage = new DirStorage(join(base, 'store'));
  mkdirSync(join(base, 'store', 'r', 'dev', 'versions'), { recursive: true });
  const fd = openSync(join(base, 'store', ...KEY.split('/')), 'w');
  ftruncateSync(fd, 300 * 1024 * 1024);
  closeSync(fd);
  const before = process.memoryUsage().rss;
  await t.rejects(storage.get(KEY, { maxBytes: 1024 * 1024 }), {
    code: 'STORAGE_OBJECT_TOO_LARGE',
    message: /holds 314572800 bytes, over the cap of 1048576/,
  });
  const head = await storage.head(KEY);
  t.equal(head.size, 300 * 1024 * 1024, 'head gives the size');
  const grown = process.memoryUsage().rss - before;
  t.comment(`rss grew by ${Math.round(grown / 1024 / 1024)} MiB`);
  t.ok(grown < 200 * 1024 * 1024, 'neither the capped get nor head held the object in memory');
  writeFileSync(join(base, 'store', 'r', 'dev', 'latest'), '20260516-113304');
  t.equal((await storage.get('r/dev/latest', { maxBytes: 1024 })).body.toString(), '20260516-113304');
});

/** A stand-in S3 client whose GET declares `declared` bytes and streams `sent`; records how much was read. */
function lyingClient(declared: number | undefined, sent: number) {
  const seen = { chunks: 0, destroyed: false };
  const client = {
    send: async () => {
      const body = {
        destroy: () => void (seen.destroyed = true),
        transformToByteArray: async () => new Uint8Array(sent),
        async *[Symbol.asyncIterator]() {
          for (let at = 0; at < sent; at += 1024) {
            seen.chunks++;
            yield new Uint8Array(Math.min(1024, sent - at));
          }
        },
      };
      return { Body: body, ETag: '"e"', ContentLength: declared };
    },
  };
  return { client: client as unknown as S3Client, seen };
}

t.test('S3: Content-Length over the cap is refused before the body; a body longer than declared is cut off', async (t) => {
  const cases: Array<[string, number | undefined, number, number, string | undefined, number]> = [
    ['declares and sends 4096, cap 4096', 4096, 4096, 4096, undefined, 4],
    ['declares 8 MiB, cap 4096: not a chunk read', 8 << 20, 8 << 20, 4096, 'holds 8388608 bytes, over the cap of 4096', 0],
    [
      'declares 10, sends 1 GiB, cap 4096: cut off after the chunk that crosses it',
      10,
      1 << 30,
      4096,
      'sent more than the cap of 4096 bytes',
      5,
    ],
    ['declares nothing, sends 1 GiB, cap 4096', undefined, 1 << 30, 4096, 'sent more than the cap of 4096 bytes', 5],
  ];
  for (const [what, declared, sent, cap, refusal, chunks] of cases) {
    for (const method of ['get', 'getIfChanged'] as const) {
      const { client, seen } = lyingClient(declared, sent);
      const storage = new S3Storage({ bucket: 'b' }, client);
      const read = method === 'get' ? storage.get(KEY, { maxBytes: cap }) : storage.getIfChanged(KEY, 'old', { maxBytes: cap });
      if (refusal === undefined) {
        t.equal((await read)!.body.length, sent, `${method}, ${what}: read`);
      } else {
        await t.rejects(read, { code: 'STORAGE_OBJECT_TOO_LARGE', message: new RegExp(refusal) }, `${method}, ${what}: refused`);
      }
      t.equal(seen.chunks, chunks, `${method}, ${what}: ${chunks} chunks of 1 KiB read`);
    }
  }
});

t.test('S3 download: refused by Content-Length before the consumer, cut off at the cap, short bodies transient', async (t) => {
  const cases: Array<[string, number | undefined, number, number | undefined, RegExp | undefined, number]> = [
    ['declares and sends 4096, cap 4096', 4096, 4096, 4096, undefined, 4],
    ['declares 8 MiB, cap 4096: not a chunk read', 8 << 20, 8 << 20, 4096, /STORAGE_OBJECT_TOO_LARGE.*holds 8388608 bytes/, 0],
    ['declares 10, sends 1 GiB, cap 4096: cut off after the chunk that crosses it', 10, 1 << 30, 4096, /TOO_LARGE.*sent more than/, 5],
    ['declares 4096, sends 2048: truncated', 4096, 2048, undefined, /STORAGE_TRANSIENT.*after 2048 of its 4096 bytes/, 2],
    ['declares nothing: refused, no short body could be told', undefined, 4096, undefined, /STORAGE_PERMANENT.*without its size/, 0],
  ];
  for (const [what, declared, sent, cap, refusal, chunks] of cases) {
    const { client, seen } = lyingClient(declared, sent);
    const storage = new S3Storage({ bucket: 'b' }, client);
    let consumed = 0;
    const read = storage.download(
      KEY,
      async (body, info) => {
        t.equal(info.size, declared, `${what}: told the declared size`);
        let length = 0;
        for await (const chunk of body) {
          t.ok(Buffer.isBuffer(chunk), `${what}: a Buffer`);
          length += chunk.length;
        }
        consumed++;
        return length;
      },
      cap === undefined ? {} : { maxBytes: cap },
    );
    if (refusal === undefined) {
      t.equal(await read, sent, `${what}: read`);
    } else {
      const err = (await read.then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: string; message?: string } | undefined;
      t.match(`${err?.code} ${err?.message}`, refusal, `${what}: refused`);
      t.equal(consumed, 0, `${what}: the consumer did not finish`);
    }
    t.equal(seen.chunks, chunks, `${what}: ${chunks} chunks of 1 KiB read`);
    t.ok(seen.destroyed || refusal === undefined, `${what}: the body was let go`);
  }
});
