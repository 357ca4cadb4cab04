// `npm run bench -- --peers`: vsync beside restic (backup/restore) and rclone (sync to a crypt remote) on the
// same Ceph RGW and the same folders, whole-process wall time (the vsync CLI included, its agent warm),
// paired: each round runs the three tools in turn on the same operation, so a machine that slows down
// part-way slows all three alike. Prints medians and vsync's ratio to each. Installs nothing: restic and
// rclone come from Debian (`apt-get install restic rclone`); a missing one leaves its column out.
//
// Beside them, the floor of any tool that moves the whole version as one object, as vsync's format does
// (docs/FORMAT.md): `node -e 0`, plus one PUT (push) or GET (pull) of an object the version's size from a warm
// process, plus for a pull the vault's files written each with an fsync, as a crash-safe extraction must.
// No zip, hash, cipher or backup: a lower bound. Where the floor's ratio to a peer is already past a target,
// no pipeline of that format reaches it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { open, readdir, readFile } from 'node:fs/promises';
import { mapAtMost } from '../daemon/bundle/at-most.js';
import { S3Storage } from '../daemon/storage/s3-storage.js';
import { ENVELOPE_OVERHEAD } from '../daemon/crypto/envelope.js';
import { baseEnv, call, dist, startBenchAgent, untilCollected, type BenchAgent } from './bench-agent.js';
import { ms, table } from './measure.js';

const ROUNDS = 11;
const clientMain = join(dist, 'client', 'vsync.cjs');

interface Vault {
  readonly label: string;
  /** Writes the vault's files into `folder` (the same bytes for every tool). */
  fill(folder: string): void;
  /** Changes one file in `folder`, differently each round. */
  change(folder: string, round: number): void;
}

const SMALL: Vault = {
  label: 'small vault (3 files, 13 KB)',
  fill: (folder) => {
    writeFileSync(join(folder, '.env.dev'), `DATABASE_URL=postgres://dev\nAPI_KEY=${randomBytes(24).toString('hex')}\n`);
    writeFileSync(join(folder, 'service-account.json'), JSON.stringify({ key: randomBytes(6000).toString('base64') }));
    writeFileSync(join(folder, 'tls.key'), randomBytes(3600).toString('base64'));
  },
  change: (folder, round) => writeFileSync(join(folder, '.env.dev'), `API_KEY=${round}-${randomBytes(24).toString('hex')}\n`),
};

const MEDIUM: Vault = {
  label: '24 MB vault (400 files of random bytes)',
  fill: (folder) => {
    for (let i = 0; i < 400; i++) writeFileSync(join(folder, `blob-${String(i).padStart(3, '0')}.bin`), randomBytes(60_000));
  },
  change: (folder, round) => writeFileSync(join(folder, 'blob-000.bin'), Buffer.concat([Buffer.from(`${round}`), randomBytes(60_000)])),
};

/** One tool's side of the comparison: set up once, then push (the folder up) and pull (the remote down). */
interface Tool {
  readonly name: string;
  /** The folder this tool pushes from and pulls into; a teammate's folder changes the remote between pulls. */
  readonly folder: string;
  readonly teammate: string;
  push(): Promise<number>;
  pull(): Promise<number>;
  /** The teammate's push (untimed), so that the next pull brings another version. */
  teammatePush(): Promise<void>;
}

/** Wall time of a whole process, spawn to exit; a failure is an error (a benchmark of a failing tool means nothing). */
function timed(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

const installed = (command: string): boolean => spawnSync(command, ['version'], { stdio: 'ignore' }).status === 0;

function checkout(base: string, name: string, repoName: string): string {
  const repo = join(base, name);
  mkdirSync(repo, { recursive: true });
  execFileSync('git', ['init', '-q', repo]);
  writeFileSync(join(repo, '.vsync'), `repo=${repoName}\n`);
  return repo;
}

async function vsyncTool(base: string, agent: BenchAgent, endpoint: string, bucket: string, vault: Vault): Promise<Tool> {
  const repoName = `peers_${randomBytes(3).toString('hex')}`;
  const repo = checkout(base, 'vsync-alice', repoName);
  const mate = checkout(base, 'vsync-bob', repoName);
  await call(agent.socket, 'POST', '/v1/init', { cwd: repo, env: 'dev', bucket, endpoint, region: 'us-east-1', forcePathStyle: true });
  const folder = join(repo, 'infra', 'vault', 'dev');
  const teammate = join(mate, 'infra', 'vault', 'dev');
  vault.fill(folder);
  await call(agent.socket, 'POST', '/v1/push', { cwd: repo, env: 'dev' });
  let mateSynced = false;
  const cli = (args: string[], cwd: string) => timed(process.execPath, [clientMain, ...args], agent.env, cwd);
  return {
    name: 'vsync',
    folder,
    teammate,
    push: () => cli(['push', 'dev'], repo),
    pull: () => cli(['pull', 'dev'], repo),
    teammatePush: async () => {
      if (!mateSynced) await call(agent.socket, 'POST', '/v1/pull', { cwd: mate, env: 'dev' });
      mateSynced = true;
      vault.change(teammate, Date.now());
      await call(agent.socket, 'POST', '/v1/push', { cwd: mate, env: 'dev' });
    },
  };
}

/** Credentials for the peers: RGW's, from the environment bench/run.sh set; no CA bundle on plain http (rclone refuses one). */
function peerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = baseEnv(extra);
  if (env.VSYNC_TEST_S3_ENDPOINT?.startsWith('http:')) delete env.AWS_CA_BUNDLE;
  return env;
}

async function resticTool(base: string, endpoint: string, bucket: string, vault: Vault): Promise<Tool> {
  const env = peerEnv({
    RESTIC_REPOSITORY: `s3:${endpoint}/${bucket}/restic`,
    RESTIC_PASSWORD: randomBytes(16).toString('hex'),
    RESTIC_CACHE_DIR: join(base, 'restic-cache'),
  });
  const folder = join(base, 'restic-alice', 'vault');
  const teammate = join(base, 'restic-bob', 'vault');
  const restored = join(base, 'restic-alice', 'restored');
  mkdirSync(folder, { recursive: true });
  vault.fill(folder);
  cpSync(folder, teammate, { recursive: true });
  execFileSync('restic', ['init', '--quiet'], { env, stdio: 'ignore' });
  execFileSync('restic', ['backup', '--quiet', '.'], { env, cwd: folder, stdio: 'ignore' });
  return {
    name: 'restic',
    folder,
    teammate,
    push: () => timed('restic', ['backup', '--quiet', '.'], env, folder),
    // A restore writes the whole snapshot; into a fresh folder each time, as restore into a live one would.
    pull: async () => {
      rmSync(restored, { recursive: true, force: true });
      return timed('restic', ['restore', 'latest', '--quiet', '--target', restored], env);
    },
    teammatePush: async () => {
      vault.change(teammate, Date.now());
      execFileSync('restic', ['backup', '--quiet', '.'], { env, cwd: teammate, stdio: 'ignore' });
    },
  };
}

async function rcloneTool(base: string, endpoint: string, bucket: string, vault: Vault): Promise<Tool> {
  const obscured = execFileSync('rclone', ['obscure', randomBytes(16).toString('hex')], { encoding: 'utf8' }).trim();
  const env = peerEnv({
    RCLONE_CONFIG_RGW_TYPE: 's3',
    RCLONE_CONFIG_RGW_PROVIDER: 'Ceph',
    RCLONE_CONFIG_RGW_ENDPOINT: endpoint,
    RCLONE_CONFIG_RGW_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? '',
    RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? '',
    RCLONE_CONFIG_RGW_REGION: 'us-east-1',
    RCLONE_CONFIG_SECRET_TYPE: 'crypt',
    RCLONE_CONFIG_SECRET_REMOTE: `rgw:${bucket}/rclone`,
    RCLONE_CONFIG_SECRET_PASSWORD: obscured,
    RCLONE_CONFIG: join(base, 'rclone.conf'), // none: every setting is in the environment
  });
  const folder = join(base, 'rclone-alice', 'vault');
  const teammate = join(base, 'rclone-bob', 'vault');
  mkdirSync(folder, { recursive: true });
  vault.fill(folder);
  cpSync(folder, teammate, { recursive: true });
  execFileSync('rclone', ['sync', folder, 'secret:vault'], { env, stdio: 'ignore' });
  return {
    name: 'rclone',
    folder,
    teammate,
    push: () => timed('rclone', ['sync', folder, 'secret:vault'], env),
    pull: () => timed('rclone', ['sync', 'secret:vault', folder], env),
    teammatePush: async () => {
      vault.change(teammate, Date.now());
      execFileSync('rclone', ['sync', teammate, 'secret:vault'], { env, stdio: 'ignore' });
    },
  };
}

/** The floor of a whole-version tool (see the top of this file), measured with the same folders and RGW. */
async function floorTool(base: string, endpoint: string, bucket: string, vault: Vault): Promise<Tool & { close(): void }> {
  const folder = join(base, 'floor', 'vault');
  mkdirSync(folder, { recursive: true });
  vault.fill(folder);
  const names = await readdir(folder);
  const files = await Promise.all(names.map((name) => readFile(join(folder, name))));
  const store = new S3Storage({ bucket, endpoint, region: 'us-east-1', forcePathStyle: true });
  const version = randomBytes(files.reduce((sum, f) => sum + f.length, 0) + ENVELOPE_OVERHEAD);
  await store.put('floor/version', version); // warms the client's connection
  const nodeStart = () => timed(process.execPath, ['-e', '0'], baseEnv({}));
  let round = 0;
  return {
    name: 'floor',
    folder,
    teammate: folder,
    push: async () => {
      const started = await nodeStart();
      const t0 = performance.now();
      await store.put('floor/version', version);
      return started + performance.now() - t0;
    },
    pull: async () => {
      const started = await nodeStart();
      const into = join(base, 'floor', `pulled-${round++}`);
      mkdirSync(into);
      const t0 = performance.now();
      await store.download('floor/version', async (body) => {
        for await (const _ of body); // the bytes arrive; nothing is done with them
      });
      await mapAtMost(8, names, async (name, k) => {
        const file = await open(join(into, name), 'wx', 0o600);
        try {
          await file.writeFile(files[k]!);
          await file.datasync();
        } finally {
          await file.close();
        }
      });
      const took = started + performance.now() - t0;
      rmSync(into, { recursive: true, force: true });
      return took;
    },
    teammatePush: async () => undefined,
    close: () => store.destroy(),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchPeers(endpoint: string | undefined, makeBucket: () => Promise<string>): Promise<void> {
  if (!endpoint) {
    console.log('\npeer comparison skipped: no RGW (VSYNC_TEST_S3_ENDPOINT unset; bench/run.sh starts one as root)');
    return;
  }
  const peers = ['restic', 'rclone'].filter(installed);
  for (const missing of ['restic', 'rclone'].filter((p) => !peers.includes(p))) {
    console.log(`\n${missing} is not installed (apt-get install ${missing}): its column is left out`);
  }
  const base = mkdtempSync(join(tmpdir(), 'vsync-bench-peers-'));
  const trace = join(base, 'trace');
  const agent = await startBenchAgent(join(base, 'home'), { VSYNC_TRACE_FILE: trace });
  const rows: string[][] = [];
  try {
    for (const vault of [SMALL, MEDIUM]) {
      const bucket = await makeBucket();
      const dir = join(base, vault === SMALL ? 'small' : 'medium');
      const tools = [await vsyncTool(dir, agent, endpoint, bucket, vault)];
      if (peers.includes('restic')) tools.push(await resticTool(dir, endpoint, bucket, vault));
      if (peers.includes('rclone')) tools.push(await rcloneTool(dir, endpoint, bucket, vault));
      const floor = await floorTool(dir, endpoint, bucket, vault);
      tools.push(floor);

      const push = tools.map(() => [] as number[]);
      const pull = tools.map(() => [] as number[]);
      for (let round = -2; round < ROUNDS; round++) {
        for (const [k, tool] of tools.entries()) {
          vault.change(tool.folder, round);
          const took = await tool.push();
          if (round >= 0) push[k]!.push(took);
        }
      }
      for (let round = -2; round < ROUNDS; round++) {
        for (const [k, tool] of tools.entries()) {
          await tool.teammatePush();
          const took = await tool.pull();
          if (round >= 0) pull[k]!.push(took);
        }
      }
      for (const [op, times] of [
        ['push of one changed file', push],
        ['pull of another version', pull],
      ] as const) {
        const own = median(times[0]!);
        const lowest = median(times[tools.indexOf(floor)]!);
        const cells = [`${vault.label}: ${op}`, ms(own)];
        for (const peer of ['restic', 'rclone']) {
          const k = tools.findIndex((tool) => tool.name === peer);
          const theirs = k < 0 ? undefined : median(times[k]!);
          cells.push(theirs === undefined ? '' : ms(theirs), theirs === undefined ? '' : `${(own / theirs).toFixed(2)}x`);
        }
        const rclone = tools.findIndex((tool) => tool.name === 'rclone');
        cells.push(ms(lowest), rclone < 0 ? '' : `${(lowest / median(times[rclone]!)).toFixed(2)}x`);
        rows.push(cells);
      }
      floor.close();
    }
    table(
      `vsync beside restic and rclone on Ceph RGW: whole-process wall time, medians of ${ROUNDS} paired rounds after 2 warm-ups`,
      ['work', 'vsync ms', 'restic ms', 'vsync/restic', 'rclone crypt ms', 'vsync/rclone', 'floor ms', 'floor/rclone'],
      rows,
    );
    const after = agent.rssMiB();
    await untilCollected(trace);
    console.log(
      `agent resident memory after the runs: ${after.toFixed(1)} MiB; once it collected (2 s idle): ${agent.rssMiB().toFixed(1)} MiB`,
    );
  } finally {
    await agent.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
