// vsync doctor and push with the real agent and the real CLI on S3 servers to tell apart: Ceph RGW enforces
// conditional writes (all ok, no warning); s3rver accepts If-None-Match and If-Match on PUT and ignores them
// (doctor fails naming it, push warns once per store and agent life); a missing bucket and refused
// credentials. Each bad case: its lines, its exit code, and nothing changed or left behind.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { generateKey } from '../../daemon/crypto/key.js';
import { EnvKeychain } from '../../daemon/keychain/env-keychain.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import { doctor } from '../../daemon/vault/doctor/doctor.js';
import { WriteSafety } from '../../daemon/vault/doctor/write-safety.js';
import { init } from '../../daemon/vault/init.js';
import { exitCodes } from '../../shared/errors.js';
import { configFile } from '../../shared/paths.js';
import { startAgent } from '../helpers/agent.js';
import { keyUser, lines, repoName } from '../helpers/doctor-users.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { LOOSE_S3_CREDENTIALS, startS3rver, type LooseS3 } from '../helpers/s3rver.js';
import { bucketStatus, createBucket, shareConfig, user } from '../helpers/teammates.js';
import { Clock, machine, tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';

const CONDITIONS_HINT =
  "                     hint: two machines pushing at once can then overwrite each other's push unnoticed; use a store that enforces them (AWS S3, Ceph RGW, the directory store), or push from one machine at a time";

/** The s3rver bucket as the test sees it, with s3rver's credentials whatever this process's are. */
function looseBucket(s3: Pick<LooseS3, 'endpoint' | 'bucket'>): S3Storage {
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: LOOSE_S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: LOOSE_S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY },
  });
  return new S3Storage({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true }, client);
}

t.test('s3rver, which ignores conditional writes: doctor fails naming it, push warns once per store and agent life', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-s3rver-');
  t.teardown(cleanup);
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const repo = repoName();
  const u = await keyUser(t, base, 'erin', repo, LOOSE_S3_CREDENTIALS);
  const initArgs = ['init', 'dev', '--bucket', s3.bucket, '--endpoint', s3.endpoint, '--region', 'us-east-1', '--path-style'];
  t.equal((await u.cli(initArgs)).code, 0);

  const res = await u.cli(['doctor', 'dev']);
  t.equal(res.code, exitCodes.storage, res.stderr);
  const out = lines(res.stdout);
  t.same(
    out.slice(1, 6).map((l) => l.slice(0, 19)),
    ['ok    config       ', 'ok    keychain     ', 'ok    git          ', 'ok    store        ', 'ok    clock        '],
  );
  const scratch = `s3://${s3.bucket}/${repo}/dev/_doctor/[0-9a-f]{16}`;
  t.match(
    out[6],
    new RegExp(
      `^fail  if-none-match  the store does not honour conditional writes \\(If-None-Match: \\*, If-Match\\): a second put-if-absent \\(If-None-Match: \\*\\) on ${scratch} replaced the object instead of being refused$`,
    ),
  );
  t.equal(out[7], CONDITIONS_HINT);
  t.match(
    out[8],
    new RegExp(
      `^fail  if-match       the store does not honour conditional writes \\(If-None-Match: \\*, If-Match\\): a put-if-match \\(If-Match\\) with a stale ETag on ${scratch} replaced the object instead of being refused$`,
    ),
  );
  t.equal(out[9], CONDITIONS_HINT);
  t.equal(out[10], '❌ 2 checks failed: if-none-match, if-match');
  const bucket = looseBucket(s3);
  t.teardown(() => bucket.destroy());
  t.same(await bucket.list(`${repo}/`), [], 'no scratch object left');

  const warning = `vsync: warning: s3://${s3.bucket}/ does not honour conditional writes (it ignored If-None-Match: * on a scratch object): lost updates cannot be ruled out when two machines push at once; run \`vsync doctor dev\` for more\n`;
  // A push answered as plain JSON has no stream to carry a warning: it does not spend it.
  writeFileSync(u.envFile(), 'A=0\n');
  const quiet = await u.cli(['push', 'dev', '--json']);
  t.equal(quiet.code, 0);
  t.equal(quiet.stderr, '');
  writeFileSync(u.envFile(), 'A=1\n');
  const first = await u.cli(['push', 'dev']);
  t.equal(first.code, 0, 'a warning, not a refusal');
  t.equal(first.stderr, warning);
  t.match(first.stdout, /^\[1\/5\][\s\S]*✅ pushed/);
  writeFileSync(u.envFile(), 'A=2\n');
  const second = await u.cli(['push', 'dev']);
  t.equal(second.code, 0);
  t.equal(second.stderr, '', 'said once: not on the second push');

  // Another vault on the same store, in the same agent: the store was already found out.
  t.equal((await u.cli([...initArgs.slice(0, 1), 'stage', ...initArgs.slice(2)])).code, 0);
  writeFileSync(join(u.repo, 'infra', 'vault', 'stage', '.env.stage'), 'S=1\n');
  const stage = await u.cli(['push', 'stage']);
  t.equal(stage.code, 0);
  t.equal(stage.stderr, '', 'once per store, not per vault');
});

t.test('push warns again in a new agent life (s3rver)', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-life-');
  t.teardown(cleanup);
  const s3 = await startS3rver();
  t.teardown(() => s3.close());
  const key = generateKey();
  const u = await user(base, 'frank', repoName(), { VSYNC_KEY: key, ...LOOSE_S3_CREDENTIALS });
  t.teardown(() => u.agent.stop());
  t.equal(
    (await u.cli(['init', 'dev', '--bucket', s3.bucket, '--endpoint', s3.endpoint, '--region', 'us-east-1', '--path-style'])).code,
    0,
  );
  writeFileSync(u.envFile(), 'A=1\n');
  t.match((await u.cli(['push', 'dev'])).stderr, /^vsync: warning: .* does not honour conditional writes/);
  await u.agent.stop();
  u.agent = await startAgent({ home: u.home, socket: u.agent.socket, env: { VSYNC_KEY: key, ...LOOSE_S3_CREDENTIALS } });
  writeFileSync(u.envFile(), 'A=2\n');
  const again = await u.cli(['push', 'dev']);
  t.equal(again.code, 0);
  t.match(again.stderr, /^vsync: warning: .* does not honour conditional writes .*\n$/, 'the new agent says it on its first push');
});

t.test('a probe the store could not answer is not kept: the next push probes again (s3rver)', async (t) => {
  // A free port with nothing on it yet; s3rver takes it later.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as { port: number };
      probe.close(() => resolve(p));
    });
  });
  const storage = new RetryingStorage(looseBucket({ endpoint: `http://127.0.0.1:${port}`, bucket: 'loose' }), {
    attempts: 1,
    baseDelayMs: 1,
    maxDelayMs: 1,
  });
  const safety = new WriteSafety();
  const ref = { repo: 'dr', env: 'dev', root: '/' };
  t.equal(await safety.warning(storage, ref), undefined, 'unreachable: nothing to say');
  const s3 = await startS3rver({ port });
  t.teardown(() => s3.close());
  t.match(await safety.warning(storage, ref), /does not honour conditional writes/, 'asked again once it answers');
  t.equal(await safety.warning(storage, ref), undefined, 'and then not again');
});

/** What doctor prints after a store check that failed: the checks that need the store are skipped. */
const STORE_FAILED = [
  'skip  clock          the store cannot be read',
  'skip  if-none-match  the store cannot be read',
  'skip  if-match       the store cannot be read',
  '❌ 1 check failed: store',
];

function rgw(t: TestContext): void {
  const endpoint = process.env.VSYNC_TEST_S3_ENDPOINT!;
  const initArgs = (bucket: string) => ['init', 'dev', '--bucket', bucket, '--endpoint', endpoint, '--region', 'us-east-1', '--path-style'];

  t.test('Ceph RGW enforces conditional writes: every check ok, and push does not warn', async (t) => {
    const { base, cleanup } = tempBase('vsync-doctor-rgw-');
    t.teardown(cleanup);
    const bucket = await createBucket('vsync-doctor');
    const repo = repoName();
    const u = await keyUser(t, base, 'grace', repo);
    t.equal((await u.cli(initArgs(bucket))).code, 0);
    const res = await u.cli(['doctor', 'dev']);
    t.equal(res.code, 0, res.stdout);
    t.same(lines(res.stdout).slice(1), [
      `ok    config         ${configFile(repo, 'dev', { HOME: u.home })} (store s3://${bucket}/${repo}/dev/)`,
      `ok    keychain       the key for ${repo}/dev is in env:VSYNC_KEY and matches the config's keyCheck`,
      'ok    git            git ignores infra/vault/dev/ and .env, and tracks neither',
      `ok    store          s3://${bucket}/${repo}/dev/ answers; nothing pushed yet`,
      "ok    clock          within a second of the store's",
      'ok    if-none-match  a second put-if-absent on a scratch object was refused',
      'ok    if-match       a put-if-match with a stale ETag was refused',
      '✅ all 8 checks passed',
    ]);
    const s3 = new S3Storage({ bucket, endpoint, region: 'us-east-1', forcePathStyle: true });
    t.teardown(() => s3.destroy());
    t.same(await s3.list(`${repo}/`), [], 'no scratch object left');

    writeFileSync(u.envFile(), 'A=1\n');
    const pushed = await u.cli(['push', 'dev']);
    t.equal(pushed.code, 0);
    t.equal(pushed.stderr, '', 'no warning');
    const version = /version: (\d{8}-\d{6})/.exec(pushed.stdout)![1]!;
    t.equal(lines((await u.cli(['doctor', 'dev'])).stdout)[4], `ok    store          s3://${bucket}/${repo}/dev/latest → ${version}`);
    t.same(
      (await s3.list(`${repo}/`)).map((o) => o.key),
      [`${repo}/dev/latest`, `${repo}/dev/log/${version}.enc`, `${repo}/dev/versions/${version}.enc`],
      "push's probe left nothing either: the version, its log entry and latest",
    );
  });

  t.test('a bucket that does not exist: the store fails (exit 5) with the hint, and no bucket is made', async (t) => {
    const { base, cleanup } = tempBase('vsync-doctor-nobucket-');
    t.teardown(cleanup);
    const bucket = `vsync-missing-${randomBytes(4).toString('hex')}`;
    const repo = repoName();
    const u = await keyUser(t, base, 'heidi', repo);
    t.equal((await u.cli(initArgs(bucket))).code, 0);
    const res = await u.cli(['doctor', 'dev']);
    t.equal(res.code, exitCodes.storage);
    t.same(lines(res.stdout).slice(4), [
      `fail  store          the bucket does not exist: bucket ${bucket} at ${new URL(endpoint).host} (${repo}/dev/latest: NoSuchBucket, HTTP 404)`,
      `                     hint: vsync never creates a bucket: create it with \`aws --endpoint-url ${endpoint} s3api create-bucket --bucket ${bucket}\`, or correct the bucket, region or endpoint in the config`,
      ...STORE_FAILED,
    ]);
    t.equal(await bucketStatus(endpoint, bucket), 404, 'still no bucket');
  });

  t.test('credentials the server refuses: the store fails (exit 5) naming them, nothing written', async (t) => {
    const { base, cleanup } = tempBase('vsync-doctor-denied-');
    t.teardown(cleanup);
    const bucket = await createBucket('vsync-doctor');
    const repo = repoName();
    const teamKey = generateKey();
    const a = await keyUser(t, base, 'ivan', repo, { VSYNC_KEY: teamKey });
    t.equal((await a.cli(initArgs(bucket))).code, 0);
    const denied = await keyUser(t, base, 'judy', repo, { VSYNC_KEY: teamKey, AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    shareConfig(a, denied, repo);
    const res = await denied.cli(['doctor', 'dev']);
    t.equal(res.code, exitCodes.storage);
    t.same(lines(res.stdout).slice(4), [
      `fail  store          the S3 store refused these credentials: ${repo}/dev/latest: SignatureDoesNotMatch (HTTP 403)`,
      '                     hint: the secret does not match the access key id: check AWS_SECRET_ACCESS_KEY (or the AWS_PROFILE in use) is the secret of that key, for this endpoint',
      ...STORE_FAILED,
    ]);
    const s3 = new S3Storage({ bucket, endpoint, region: 'us-east-1', forcePathStyle: true });
    t.teardown(() => s3.destroy());
    t.same(await s3.list(''), [], 'the bucket is as it was: empty');
  });

  t.test("the clock from RGW's own stamp: a machine 10 minutes ahead is warned", async (t) => {
    const { base, cleanup } = tempBase('vsync-doctor-rgwclock-');
    t.teardown(cleanup);
    const bucket = await createBucket('vsync-doctor');
    const s3 = new S3Storage({ bucket, endpoint, region: 'us-east-1', forcePathStyle: true });
    t.teardown(() => s3.destroy());
    const m = machine(base, 'kim', new RetryingStorage(s3), new EnvKeychain({ VSYNC_KEY: generateKey() }), new Clock());
    await init(m.deps, m.ref, { bucket, endpoint, region: 'us-east-1', forcePathStyle: true });
    const real = await doctor({ ...m.deps, now: () => new Date() }, 'dev', async () => m.ref);
    t.match(
      real.checks.find((c) => c.name === 'clock'),
      { status: 'ok', detail: "within a second of the store's" },
    );
    const ahead = await doctor({ ...m.deps, now: () => new Date(Date.now() + 10 * 60_000) }, 'dev', async () => m.ref);
    t.match(
      ahead.checks.find((c) => c.name === 'clock'),
      { status: 'warn', code: 'STORAGE_CLOCK_SKEWED', detail: /the store's clock is (9 min 5\d s|10 min) behind this machine's$/ },
    );
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) rgw(t);
