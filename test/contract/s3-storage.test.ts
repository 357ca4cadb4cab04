// The storage contract against a real S3 server: the single-node Ceph RGW that scripts/test.sh starts
// (scripts/rgw.sh), the only packaged S3 server here that enforces conditional writes.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import type { Consumer } from '../../daemon/storage/storage.js';
import { faultyProxy, type Fault } from '../helpers/faulty-proxy.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { runStorageContract } from './storage-contract.js';

if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) {
  const endpoint = process.env.VSYNC_TEST_S3_ENDPOINT!;
  const bucket = `vsync-contract-${randomBytes(4).toString('hex')}`;
  const settings = { bucket, endpoint, region: 'us-east-1', forcePathStyle: true };
  const admin = new S3Client({ ...settings, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  const adapter = new S3Storage(settings);
  // The contract holds for the stack the agent uses: the adapter inside RetryingStorage. RGW answers the
  // losers of a conditional-write race with HTTP 500 about as often as with 412 (measured: 10 to 15 of 16),
  // and a 500 is transient; the retry then sees 412 and checks whether the stored bytes are its own.
  const storage = new RetryingStorage(adapter);
  t.teardown(() => {
    adapter.destroy();
    admin.destroy();
  });

  console.error(`# storage contract: S3 (Ceph RGW) at ${endpoint}, bucket ${bucket}`);
  t.test('contract: S3 on Ceph RGW', async (t) => {
    runStorageContract(t, storage, { describes: new RegExp(`^s3://${bucket}/`) });
  });

  t.test('a key prefix is prepended on the wire and stripped from listings', async (t) => {
    const prefixed = new S3Storage({ ...settings, prefix: 'team_a/' });
    t.teardown(() => prefixed.destroy());
    await prefixed.put('acme/dev/latest', Buffer.from('20260516-113304'));
    const raw = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: 'team_a/acme/dev/latest' }));
    t.equal(await raw.Body!.transformToString(), '20260516-113304', 'stored under the prefix');
    t.same(
      (await prefixed.list('acme/')).map((o) => o.key),
      ['acme/dev/latest'],
    );
    t.equal(prefixed.describe('acme/dev/latest'), `s3://${bucket}/team_a/acme/dev/latest`);
  });

  t.test('a bucket that does not exist: its own code, with the command that creates it', async (t) => {
    const missing = new S3Storage({ ...settings, bucket: `vsync-missing-${randomBytes(4).toString('hex')}` });
    t.teardown(() => missing.destroy());
    const ops: Array<() => Promise<unknown>> = [
      () => missing.get('a/b'),
      () => missing.put('a/b', Buffer.from('x')),
      () => missing.list('a/'),
    ];
    for (const op of ops) {
      await t.rejects(op(), { code: 'STORAGE_BUCKET_NOT_FOUND', hint: /create-bucket --bucket vsync-missing-/ });
    }
  });

  t.test('wrong credentials: refused, with a hint about the secret', async (t) => {
    const client = new S3Client({
      ...settings,
      credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'x', secretAccessKey: 'wrong-secret' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const denied = new S3Storage(settings, client);
    t.teardown(() => client.destroy());
    await t.rejects(denied.put('a/b', Buffer.from('x')), { code: 'STORAGE_CREDENTIALS_REFUSED', hint: /AWS_SECRET_ACCESS_KEY/ });
    await t.rejects(denied.get('a/b'), { code: 'STORAGE_CREDENTIALS_REFUSED' });
  });

  t.test('an endpoint that refuses connections: transient, retried, then reported', async (t) => {
    const down = new S3Storage({ ...settings, endpoint: 'http://127.0.0.1:9' });
    t.teardown(() => down.destroy());
    await t.rejects(down.get('a/b'), { code: 'STORAGE_TRANSIENT' });
    const retries: number[] = [];
    const retrying = new RetryingStorage(down, { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, onRetry: (_w, n) => retries.push(n) });
    await t.rejects(retrying.putIfAbsent('a/b', Buffer.from('x')), { code: 'STORAGE_TRANSIENT' });
    t.same(retries, [1, 2], 'two retries after the first attempt');
  });

  t.test('retrying does not retry answers', async (t) => {
    let retried = false;
    const retrying = new RetryingStorage(adapter, { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, onRetry: () => (retried = true) });
    await t.rejects(retrying.get(`missing_${randomBytes(3).toString('hex')}/x`), { code: 'STORAGE_NOT_FOUND' });
    const key = `retry_${randomBytes(3).toString('hex')}/latest`;
    await retrying.putIfAbsent(key, Buffer.from('a'));
    await t.rejects(retrying.putIfAbsent(key, Buffer.from('b')), { code: 'STORAGE_PRECONDITION_FAILED' });
    t.notOk(retried);
  });

  t.test('a download cut short by the network: STORAGE_TRANSIENT from the adapter, retried to success above it', async (t) => {
    const proxy = await faultyProxy(new URL(endpoint));
    const through = new S3Storage({ ...settings, endpoint: proxy.endpoint });
    t.teardown(async () => {
      through.destroy();
      await proxy.close();
    });
    const key = `cut_${randomBytes(3).toString('hex')}/dev/versions/20260516-113304.enc`;
    const body = randomBytes(3 * 1024 * 1024);
    await adapter.put(key, body);
    /** The next `n` GETs of the key meet `fault`; everything else passes. */
    const faultNext = (fault: Fault, n: number) => {
      let left = n;
      proxy.rule = (method, path) => (method === 'GET' && path.split('?')[0]!.endsWith(key) && left-- > 0 ? fault : undefined);
    };
    const calls: number[] = [];
    const consume: Consumer<Buffer> = async (chunks, info) => {
      calls.push(info.size);
      const got: Buffer[] = [];
      for await (const chunk of chunks) got.push(chunk);
      return Buffer.concat(got);
    };

    for (const fault of ['truncate', 'reset-download'] as const) {
      faultNext(fault, 1);
      await t.rejects(through.download(key, consume), { code: 'STORAGE_TRANSIENT' }, `${fault}: the bare adapter says transient`);

      faultNext(fault, 2);
      calls.length = 0;
      const retries: number[] = [];
      const retrying = new RetryingStorage(through, { attempts: 4, baseDelayMs: 10, maxDelayMs: 20, onRetry: (_w, n) => retries.push(n) });
      t.ok((await retrying.download(key, consume)).equals(body), `${fault}: retried, the whole object`);
      // A truncated body arrives up to its cut; a reset can overtake the response head (the peer's RST drops what
      // was not yet read), and then that attempt fails before there is anything to consume.
      if (fault === 'truncate') t.equal(calls.length, 3, `${fault}: the consumer started afresh for each of 3 attempts`);
      t.ok(calls.length >= 1 && calls.every((size) => size === body.length), `${fault}: each time told the whole size`);
      t.same(retries, [1, 2], `${fault}: two retries`);
    }
    t.same(
      proxy.met.map((m) => m.split(' ')[0]),
      ['truncate', 'truncate', 'truncate', 'reset-download', 'reset-download', 'reset-download'],
      'each fault met where meant',
    );
  });
}
