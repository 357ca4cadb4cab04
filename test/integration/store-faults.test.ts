// A store that hangs or half-answers, with the real programs: Ceph RGW behind a proxy (test/helpers/
// faulty-proxy.ts) that stalls, resets uploads and downloads, truncates bodies and fails the pointer write
// alone. Each fault: a coded error within the agent's storage deadline, `latest` never naming a version that
// is missing or does not decrypt, the local folder unchanged by a failed pull, and the next try after the
// fault clears succeeding.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import { exitCodes } from '../../shared/errors.js';
import { workFolder } from '../../shared/paths.js';
import { IN_MEMORY_BYTES } from '../../daemon/vault/version-file.js';
import { startAgent } from '../helpers/agent.js';
import { followEvents } from '../helpers/event-follower.js';
import { faultyProxy, type FaultRule } from '../helpers/faulty-proxy.js';
import { waitUntil } from '../helpers/patience.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import type { TestContext } from '../helpers/tap-types.js';
import { createBucket, shareConfig, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';

// Short, so a stalled call ends soon; the assertions are about how it ends, never how fast.
const DEADLINE_SECONDS = 3;

interface Rig {
  readonly a: User;
  readonly b: User;
  readonly rule: (r: FaultRule | undefined) => void;
  readonly met: string[];
  /** Requests the proxy holds now (a 'stall'). */
  held(): number;
  /** Starts `u`'s agent again (after a kill), as it was started. */
  restart(u: User): Promise<void>;
  latest(): Promise<string>;
  versions(): Promise<string[]>;
}

async function rig(t: TestContext): Promise<Rig> {
  const proxy = await faultyProxy(new URL(process.env.VSYNC_TEST_S3_ENDPOINT!));
  const { base, cleanup } = tempBase('vsync-store-faults-');
  const repoName = `sf_${randomBytes(4).toString('hex')}`;
  const agentEnv = { VSYNC_KEY: randomBytes(32).toString('base64'), VSYNC_STORAGE_TIMEOUT_SECONDS: String(DEADLINE_SECONDS) };
  const a = await user(base, 'alice', repoName, agentEnv);
  const b = await user(base, 'bob', repoName, agentEnv);
  const bucket = await createBucket('vsync-faults');
  const direct = new S3Storage({ bucket, endpoint: process.env.VSYNC_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
  t.teardown(async () => {
    direct.destroy();
    await a.agent.stop();
    await b.agent.stop();
    await proxy.close();
    cleanup();
  });
  const init = await a.cli(['init', 'dev', '--bucket', bucket, '--endpoint', proxy.endpoint, '--region', 'us-east-1', '--path-style']);
  t.equal(init.code, 0, init.stderr);
  shareConfig(a, b, repoName);
  return {
    a,
    b,
    rule: (r) => (proxy.rule = r),
    met: proxy.met,
    held: () => proxy.held(),
    restart: async (u) => {
      u.agent = await startAgent({ home: u.home, socket: u.agent.socket, env: agentEnv });
    },
    latest: async () => (await direct.get(`${repoName}/dev/latest`)).body.toString().trim(),
    versions: async () => (await direct.list(`${repoName}/dev/versions/`)).map((o) => o.key.replace(/^.*\/(\d{8}-\d{6})\.enc$/, '$1')),
  };
}

const onVersions = (method: string) => (m: string, path: string) => m === method && /\/versions\/\d{8}-\d{6}\.enc/.test(path);
const onPointer = (method: string) => (m: string, path: string) => m === method && path.split('?')[0]!.endsWith('/latest');

/** The refusal every fault must give: the storage class's exit code, the code and its hint on stderr. */
function refusedTransient(t: TestContext, r: { code: number; stderr: string }, what: string): void {
  t.equal(r.code, exitCodes.storage, `${what}: exit ${exitCodes.storage}`);
  t.match(r.stderr, /^vsync: error: the store did not answer in time or answered with a temporary failure/m, `${what}: STORAGE_TRANSIENT`);
  t.match(r.stderr, /^vsync: hint: /m, `${what}: with a hint`);
}

/** `latest` names a version that exists and that the teammate can pull and read: nothing half-moved. */
async function latestIsWhole(t: TestContext, r: Rig, content: string): Promise<void> {
  const latest = await r.latest();
  t.ok((await r.versions()).includes(latest), `latest (${latest}) names a version that exists`);
  const pulled = await r.b.cli(['pull', 'dev', '--force']);
  t.equal(pulled.code, 0, pulled.stderr);
  t.equal(readFileSync(r.b.envFile(), 'utf8'), content, 'and it decrypts to what was pushed');
}

function suite(): void {
  t.test(
    'push: the upload stalls, is reset halfway, or the pointer write alone fails; each is STORAGE_TRANSIENT and latest stays whole',
    async (t) => {
      const r = await rig(t);
      writeFileSync(r.a.envFile(), 'V=1\n');
      t.equal((await r.a.cli(['push', 'dev'])).code, 0);
      const first = await r.latest();
      const events = await followEvents(r.a.agent.socket);
      t.teardown(() => events.close());

      const faults: [string, FaultRule][] = [
        ['the version upload stalls', (m, p) => (onVersions('PUT')(m, p) ? 'stall' : undefined)],
        ['the version upload is reset halfway', (m, p) => (onVersions('PUT')(m, p) ? 'reset-upload' : undefined)],
        ['the pointer write alone answers 500', (m, p) => (onPointer('PUT')(m, p) ? '500' : undefined)],
        ['the pointer write stalls', (m, p) => (onPointer('PUT')(m, p) ? 'stall' : undefined)],
      ];
      let n = 1;
      for (const [what, rule] of faults) {
        writeFileSync(r.a.envFile(), `V=${++n} (${what})\n`);
        r.rule(rule);
        refusedTransient(t, await r.a.cli(['push', 'dev']), what);
        r.rule(undefined);
        t.equal(await r.latest(), first, `${what}: latest did not move`);
      }
      t.ok(r.met.length >= faults.length, `the faults were met (${r.met.length} requests)`);
      const retried = events.events.filter((e) => e.type === 'storage-retry' && /^put \S+\/dev\/latest$/.test(e.what));
      t.ok(retried.length > 0, "the pointer write's retries were on the event stream");
      t.match(retried[0], { code: 'STORAGE_TRANSIENT', attempt: 1 });
      await latestIsWhole(t, r, 'V=1\n');

      // The fault cleared, the same edits go up at the next try.
      const pushed = await r.a.cli(['push', 'dev']);
      t.equal(pushed.code, 0, pushed.stderr);
      t.not(await r.latest(), first);
      await latestIsWhole(t, r, `V=${n} (the pointer write stalls)\n`);
    },
  );

  t.test('pull: the pointer read stalls, the download is reset or truncated; the folder is left exactly as it was', async (t) => {
    const r = await rig(t);
    writeFileSync(r.a.envFile(), 'V=1 from alice\n');
    t.equal((await r.a.cli(['push', 'dev'])).code, 0);
    t.equal((await r.b.cli(['pull', 'dev'])).code, 0);
    writeFileSync(r.a.envFile(), 'V=2 from alice\n');
    t.equal((await r.a.cli(['push', 'dev'])).code, 0);
    const before = readFileSync(r.b.envFile(), 'utf8');

    const faults: [string, FaultRule, RegExp][] = [
      ['the pointer read stalls', (m, p) => (onPointer('GET')(m, p) ? 'stall' : undefined), /did not answer in time/],
      ['the download stalls', (m, p) => (onVersions('GET')(m, p) ? 'stall' : undefined), /did not answer in time/],
      ['the download is reset halfway', (m, p) => (onVersions('GET')(m, p) ? 'reset-download' : undefined), /did not answer in time/],
      // A short body is either seen as a broken transfer or, if it got through, fails the GCM tag: both coded.
      [
        'the download is truncated',
        (m, p) => (onVersions('GET')(m, p) ? 'truncate' : undefined),
        /did not answer in time|truncated|could not be decrypted/,
      ],
    ];
    for (const [what, rule, message] of faults) {
      r.rule(rule);
      const pulled = await r.b.cli(['pull', 'dev']);
      r.rule(undefined);
      t.not(pulled.code, 0, `${what}: refused`);
      t.not(pulled.code, exitCodes.internal, `${what}: with a code, not INTERNAL`);
      t.match(pulled.stderr, message, `${what}: ${pulled.stderr.split('\n')[0]}`);
      t.equal(readFileSync(r.b.envFile(), 'utf8'), before, `${what}: the folder is as it was`);
    }

    const pulled = await r.b.cli(['pull', 'dev']);
    t.equal(pulled.code, 0, pulled.stderr);
    t.equal(readFileSync(r.b.envFile(), 'utf8'), 'V=2 from alice\n', 'the next pull, the fault cleared, brings the version');
  });

  t.test('an agent killed while a version is in its temp file leaves nothing that blocks the next push or pull', async (t) => {
    const r = await rig(t);
    // What a push or pull writes while a version is on its way: its work folder (never beside the vault folder).
    const work = (u: User): string[] => readdirSync(workFolder({ HOME: u.home }));
    const workFiles = (u: User): string[] => work(u).flatMap((dir) => readdirSync(join(workFolder({ HOME: u.home }), dir)));
    const beside = (u: User): string[] => readdirSync(dirname(dirname(u.envFile()))).filter((name) => name.startsWith('.vsync-'));
    writeFileSync(r.a.envFile(), `V=1\n${'x'.repeat(256 * 1024)}\n`);
    // Past IN_MEMORY_BYTES (version-file.ts) and incompressible: this vault's versions go through work files.
    writeFileSync(join(dirname(r.a.envFile()), 'blob.bin'), randomBytes(IN_MEMORY_BYTES + 1024 * 1024));
    t.equal((await r.a.cli(['push', 'dev'])).code, 0);
    t.equal((await r.b.cli(['pull', 'dev'])).code, 0);
    writeFileSync(r.a.envFile(), `V=2\n${'y'.repeat(256 * 1024)}\n`);
    t.equal((await r.a.cli(['push', 'dev'])).code, 0);
    const before = readFileSync(r.b.envFile(), 'utf8');

    // Pull: half the version arrives and is decrypted into the temp file, then the store goes silent.
    r.rule((m, p) => (onVersions('GET')(m, p) ? 'stall-midway' : undefined));
    const pulling = r.b.cli(['pull', 'dev']);
    await waitUntil(() => workFiles(r.b).includes('version-1.zip'), 'the pull writing its temp file');
    t.same(beside(r.b), [], 'nothing of it is in the checkout');
    await r.b.agent.stop('SIGKILL');
    t.not((await pulling).code, 0, 'the pull did not finish');
    t.equal(work(r.b).length, 1, 'the kill left its work folder behind');
    t.equal(readFileSync(r.b.envFile(), 'utf8'), before, 'and the vault folder as it was');
    r.rule(undefined);
    await r.restart(r.b);
    t.same(work(r.b), [], 'the agent cleared it as it started');
    const pulled = await r.b.cli(['pull', 'dev']);
    t.equal(pulled.code, 0, pulled.stderr);
    t.match(readFileSync(r.b.envFile(), 'utf8'), /^V=2\n/, 'the next pull brings the version');

    // Push: the sealed version is in its temp file and its upload held by the store, when the agent is killed.
    writeFileSync(r.a.envFile(), `V=3\n${'z'.repeat(256 * 1024)}\n`);
    const latest = await r.latest();
    r.rule((m, p) => (onVersions('PUT')(m, p) ? 'stall' : undefined));
    const pushing = r.a.cli(['push', 'dev']);
    await waitUntil(() => r.held() > 0, 'the upload reaching the store');
    t.ok(
      workFiles(r.a).some((f) => /^\d{8}-\d{6}\.enc$/.test(f)),
      'the sealed version is in its work folder',
    );
    t.same(beside(r.a), [], 'and nothing is written beside the vault folder');
    await r.a.agent.stop('SIGKILL');
    t.not((await pushing).code, 0, 'the push did not finish');
    t.equal(await r.latest(), latest, 'latest did not move');
    t.equal(work(r.a).length, 1, 'the kill left its work folder behind');
    r.rule(undefined);
    await r.restart(r.a);
    t.same(work(r.a), [], 'the agent removed it as it started');
    const pushed = await r.a.cli(['push', 'dev']);
    t.equal(pushed.code, 0, pushed.stderr);
    await latestIsWhole(t, r, `V=3\n${'z'.repeat(256 * 1024)}\n`);
    t.same(work(r.a), [], 'and the push left nothing in it');
  });

  t.test('a hung store does not hold the vault: a second command on it ends too, and the agent answers meanwhile', async (t) => {
    const r = await rig(t);
    writeFileSync(r.a.envFile(), 'V=1\n');
    t.equal((await r.a.cli(['push', 'dev'])).code, 0);
    r.rule(() => 'stall');
    writeFileSync(r.a.envFile(), 'V=2\n');
    const [push, pull] = await Promise.all([r.a.cli(['push', 'dev']), r.a.cli(['pull', 'dev', '--force'])]);
    refusedTransient(t, push, 'the push');
    refusedTransient(t, pull, 'the pull queued behind it');
    const status = await r.a.cli(['status']);
    t.equal(status.code, 0, 'the agent answers status while the store hangs');
    r.rule(undefined);
    t.equal(readFileSync(r.a.envFile(), 'utf8'), 'V=2\n', 'the edit is still in the folder');
    t.equal((await r.a.cli(['push', 'dev'])).code, 0, 'the fault cleared, the push goes through');
    await latestIsWhole(t, r, 'V=2\n');
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW')) suite();
