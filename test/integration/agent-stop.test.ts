// Stopping and cancelling with the real programs: Ceph RGW behind a proxy that holds the version download
// (test/helpers/faulty-proxy.ts, 'stall', released at will), the real agent and the real CLI.
// - An agent told to stop while a pull hangs abandons it within VSYNC_SHUTDOWN_SECONDS, answers its caller
//   AGENT_SHUTTING_DOWN and exits, socket and lock gone; a new agent pulls a newer version; the held download
//   is then released and nothing installs the older one.
// - Ctrl-C on `vsync pull` cancels the pull in the agent at once (pull-failed, AGENT_OPERATION_CANCELLED):
//   the folder is unchanged and the next pull is not stuck behind the cancelled one.
// Store calls get a deadline far beyond the test's patience, so only the stop or the cancel can end them.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import { stateFile } from '../../daemon/vault/local-state.js';
import { exitCodes } from '../../shared/errors.js';
import { agentLockFile, agentStateFile } from '../../shared/socket-path.js';
import { startAgent } from '../helpers/agent.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { followEvents } from '../helpers/event-follower.js';
import { faultyProxy, type FaultyProxy } from '../helpers/faulty-proxy.js';
import { waitUntil, within } from '../helpers/patience.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { tiedToTest } from '../helpers/reaper.js';
import type { TestContext } from '../helpers/tap-types.js';
import { createBucket, shareConfig, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';

const SHUTDOWN_SECONDS = 3;

interface Rig {
  readonly alice: User;
  readonly bob: User;
  readonly proxy: FaultyProxy;
  readonly repoName: string;
  readonly agentEnv: Record<string, string>;
  latest(): Promise<string>;
}

async function rig(t: TestContext): Promise<Rig> {
  const proxy = await faultyProxy(new URL(process.env.VSYNC_TEST_S3_ENDPOINT!));
  const { base, cleanup } = tempBase('vsync-agent-stop-');
  const repoName = `st_${randomBytes(4).toString('hex')}`;
  const agentEnv = {
    VSYNC_KEY: randomBytes(32).toString('base64'),
    VSYNC_STORAGE_TIMEOUT_SECONDS: '3600',
    VSYNC_SHUTDOWN_SECONDS: String(SHUTDOWN_SECONDS),
  };
  const alice = await user(base, 'alice', repoName, agentEnv);
  const bob = await user(base, 'bob', repoName, agentEnv);
  const bucket = await createBucket('vsync-stop');
  const direct = new S3Storage({ bucket, endpoint: process.env.VSYNC_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
  t.teardown(async () => {
    direct.destroy();
    await alice.agent.stop();
    await bob.agent.stop();
    await proxy.close();
    cleanup();
  });
  const init = await alice.cli(['init', 'dev', '--bucket', bucket, '--endpoint', proxy.endpoint, '--region', 'us-east-1', '--path-style']);
  t.equal(init.code, 0, init.stderr);
  shareConfig(alice, bob, repoName);
  return { alice, bob, proxy, repoName, agentEnv, latest: async () => (await direct.get(`${repoName}/dev/latest`)).body.toString().trim() };
}

/** alice pushes `content`; returns the version now latest. */
async function pushed(t: TestContext, r: Rig, content: string): Promise<string> {
  writeFileSync(r.alice.envFile(), content);
  const push = await r.alice.cli(['push', 'dev']);
  t.equal(push.code, 0, push.stderr);
  return r.latest();
}

const downloads = (method: string, path: string) => (method === 'GET' && /\/versions\/\d{8}-\d{6}\.enc/.test(path) ? 'stall' : undefined);

/** The newest version bob's machine has seen (the anti-rollback floor), as the state file holds it. */
function floorOf(r: Rig): string | undefined {
  const file = stateFile(r.repoName, 'dev', { HOME: r.bob.home });
  return (JSON.parse(readFileSync(file, 'utf8')) as { newestSeen?: string }).newestSeen;
}

/** `vsync pull dev` in bob's checkout as a child the test can interrupt; its exit code and stderr. */
function pullChild(r: Rig) {
  const [command, args] = tiedToTest(process.execPath, [fileURLToPath(built(CLI)), 'pull', 'dev']);
  const child = spawn(command, args, { cwd: r.bob.repo, env: childEnv(r.bob.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}

function suite(): void {
  t.test(
    'SIGTERM while a pull hangs on its download: the agent abandons it, exits, and a new agent pulls a newer version that stays',
    async (t) => {
      const r = await rig(t);
      const v1 = await pushed(t, r, 'V=1\n');
      t.equal((await r.bob.cli(['pull', 'dev'])).code, 0);
      const v2 = await pushed(t, r, 'V=2\n');

      r.proxy.rule = downloads;
      const hung = r.bob.cli(['pull', 'dev']);
      await waitUntil(() => r.proxy.held() > 0, 'the download of v2 is held by the proxy');
      const a = r.bob.agent;
      a.child.kill('SIGTERM');
      const code = await within(a.exited, 'agent A exits after SIGTERM');
      t.not(code, null, `agent A exited (code ${code})`);
      t.match(a.output(), /abandoned them/, 'its log says it abandoned the operation still running');
      t.notOk(existsSync(a.socket), 'its socket is gone');
      t.notOk(existsSync(agentLockFile(a.socket)), 'its agent lock is gone');
      t.notOk(existsSync(agentStateFile(a.socket)), 'its state file is gone');
      const answered = await hung;
      t.equal(answered.code, exitCodes.agent, `the hung pull was answered: ${answered.stderr.split('\n')[0]}`);
      t.match(answered.stderr, /^vsync: error: the agent is shutting down/m, 'with AGENT_SHUTTING_DOWN');
      t.equal(readFileSync(r.bob.envFile(), 'utf8'), 'V=1\n', 'the folder still holds v1');

      r.proxy.rule = undefined;
      const v3 = await pushed(t, r, 'V=3\n');
      t.ok(v1 < v2 && v2 < v3, `three versions in order (${v1}, ${v2}, ${v3})`);
      r.bob.agent = await startAgent({ home: r.bob.home, socket: a.socket, env: r.agentEnv });
      const pulled = await r.bob.cli(['pull', 'dev']);
      t.equal(pulled.code, 0, pulled.stderr);

      t.equal(await r.proxy.release(), 1, 'the held download of v2 is released to the store');
      t.equal(readFileSync(r.bob.envFile(), 'utf8'), 'V=3\n', 'the folder holds v3, the newer version');
      t.equal(floorOf(r), v3, 'the floor in the state file is v3');
      const status = await r.bob.cli(['status']);
      t.equal(status.code, 0, 'agent B still answers');
    },
  );

  t.test(
    'Ctrl-C on `vsync pull` while its download hangs: the agent cancels the pull at once, and the next pull goes through',
    async (t) => {
      const r = await rig(t);
      await pushed(t, r, 'V=1\n');
      t.equal((await r.bob.cli(['pull', 'dev'])).code, 0);
      await pushed(t, r, 'V=2\n');
      const floor = floorOf(r);
      const events = await followEvents(r.bob.agent.socket);
      t.teardown(() => events.close());

      r.proxy.rule = downloads;
      const from = events.events.length;
      const pull = pullChild(r);
      await waitUntil(() => r.proxy.held() > 0, 'the download of v2 is held by the proxy');
      pull.child.kill('SIGINT');
      const ended = await within(pull.done, 'the interrupted CLI ends');
      t.ok(ended.code !== 0, `the interrupted CLI did not succeed (${ended.signal ?? ended.code})`);

      const failed = await events.waitFor((e) => e.type === 'pull-failed', { from });
      t.match(
        failed,
        { type: 'pull-failed', env: 'dev', trigger: 'manual', code: 'AGENT_OPERATION_CANCELLED' },
        'the agent announced the pull cancelled',
      );
      t.equal(readFileSync(r.bob.envFile(), 'utf8'), 'V=1\n', 'the folder is unchanged');
      t.equal(floorOf(r), floor, 'the floor is unchanged');
      // The log line is written after the event goes out (the route logs the failure it is handed), and reaches
      // us through a pipe: waited for, not read at once.
      await waitUntil(() => /AGENT_OPERATION_CANCELLED/.test(r.bob.agent.output()), 'the agent logs the cancellation');
      t.pass('the agent logged the cancellation');

      r.proxy.rule = undefined;
      const next = await r.bob.cli(['pull', 'dev']);
      t.equal(next.code, 0, `the next pull is not stuck behind the cancelled one: ${next.stderr}`);
      t.equal(readFileSync(r.bob.envFile(), 'utf8'), 'V=2\n', 'and brings v2');
      t.equal(await r.proxy.release(), 1, 'the cancelled download, released late, changes nothing');
      t.equal(readFileSync(r.bob.envFile(), 'utf8'), 'V=2\n', 'the folder still holds v2');
    },
  );
}

if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW')) suite();
