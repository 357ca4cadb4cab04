// `npm run bench -- --growth`: how push and pull grow with the vault, on the directory store: whole-process
// wall time of `vsync push` and of `vsync pull` of another version (the CLI included, the agent warm), the
// agent's peak resident memory during each of the two, its RSS right after the pull and once it has collected
// (daemon/memory: a full collection after 2 s without an operation), at 16 KB, 1 MB,
// 24 MB and 256 MB (3 files) and at 3, 400 and 20,000 files (1.5 KB each), with the slope per MB and per
// 1,000 files. Each point gets a fresh agent, started
// with the bundle caps raised (they would refuse the larger points), so its peak is that point's own.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { call, dist, startBenchAgent, untilCollected } from './bench-agent.js';
import { ms, table } from './measure.js';

const clientMain = join(dist, 'client', 'vsync.cjs');
const MiB = 1024 * 1024;
const RAISED_CAPS = {
  VSYNC_MAX_BUNDLE_ENTRIES: '100000',
  VSYNC_MAX_FILE_BYTES: String(512 * MiB),
  VSYNC_MAX_BUNDLE_BYTES: String(1024 * MiB),
  VSYNC_MAX_VERSION_BYTES: String(2048 * MiB),
};

interface Point {
  readonly label: string;
  readonly files: number;
  readonly bytesPerFile: number;
}

const POINTS: Point[] = [
  { label: '16 KB, 3 files', files: 3, bytesPerFile: (16 * 1024) / 3 },
  { label: '1 MB, 3 files', files: 3, bytesPerFile: MiB / 3 },
  { label: '24 MB, 3 files', files: 3, bytesPerFile: (24 * MiB) / 3 },
  { label: '256 MB, 3 files', files: 3, bytesPerFile: (256 * MiB) / 3 },
  { label: '400 files, 1.5 KB each', files: 400, bytesPerFile: 1536 },
  { label: '20,000 files, 1.5 KB each', files: 20_000, bytesPerFile: 1536 },
].map((p) => ({ ...p, bytesPerFile: Math.round(p.bytesPerFile) }));

function timedCli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [clientMain, ...args], { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`vsync ${args.join(' ')}: ${err}`))));
  });
}

function fill(folder: string, point: Point, salt: string): void {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < point.files; i++) {
    const body = randomBytes(point.bytesPerFile);
    body.write(salt); // another version differs in every file's first bytes
    writeFileSync(join(folder, `f${String(i).padStart(5, '0')}.bin`), body);
  }
}

/** Sets the process's VmHWM back to its RSS now (proc(5), clear_refs): the next peak is the next operation's own. */
const resetPeak = (pid: number): void => writeFileSync(`/proc/${pid}/clear_refs`, '5');

const peakMiB = (pid: number): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

interface Measured {
  readonly point: Point;
  readonly pushMs: number;
  readonly pullMs: number;
  readonly idleMiB: number;
  /** The agent's peak RSS during the timed push, and during the timed pull (VmHWM, reset before each). */
  readonly pushPeakMiB: number;
  readonly pullPeakMiB: number;
  /** RSS right after the pull. */
  readonly afterMiB: number;
  /** RSS once the agent ran its idle collection after the pull (its trace says when). */
  readonly collectedMiB: number;
}

async function measure(point: Point): Promise<Measured> {
  const base = mkdtempSync(join(tmpdir(), 'vsync-bench-growth-'));
  const trace = join(base, 'trace');
  const agent = await startBenchAgent(join(base, 'home'), { ...RAISED_CAPS, VSYNC_TRACE_FILE: trace });
  try {
    const repoName = `growth_${randomBytes(3).toString('hex')}`;
    const checkout = (name: string) => {
      const repo = join(base, name);
      mkdirSync(repo, { recursive: true });
      execFileSync('git', ['init', '-q', repo]);
      writeFileSync(join(repo, '.vsync'), `repo=${repoName}\n`);
      return repo;
    };
    const repo = checkout('alice');
    const mate = checkout('bob');
    const idleMiB = agent.rssMiB();
    await call(agent.socket, 'POST', '/v1/init', { cwd: repo, env: 'dev' });
    fill(join(repo, 'infra', 'vault', 'dev'), point, 'one');
    const pid = agent.child.pid!;
    resetPeak(pid);
    const pushMs = await timedCli(['push', 'dev'], agent.env, repo);
    const pushPeakMiB = peakMiB(pid);
    await call(agent.socket, 'POST', '/v1/pull', { cwd: mate, env: 'dev' });
    fill(join(mate, 'infra', 'vault', 'dev'), point, 'two');
    await call(agent.socket, 'POST', '/v1/push', { cwd: mate, env: 'dev' });
    resetPeak(pid);
    const pullMs = await timedCli(['pull', 'dev'], agent.env, repo);
    const pullPeakMiB = peakMiB(pid);
    const afterMiB = agent.rssMiB();
    await untilCollected(trace);
    return { point, pushMs, pullMs, idleMiB, pushPeakMiB, pullPeakMiB, afterMiB, collectedMiB: agent.rssMiB() };
  } finally {
    await agent.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

const peakOf = (m: Measured): number => Math.max(m.pushPeakMiB, m.pullPeakMiB);

/** The slope between the first and the last of `series`, per `unit` of what `x` measures. */
function slope(series: Measured[], x: (m: Measured) => number, y: (m: Measured) => number): number {
  const first = series[0]!;
  const last = series.at(-1)!;
  return (y(last) - y(first)) / (x(last) - x(first));
}

export async function benchGrowth(): Promise<void> {
  const results: Measured[] = [];
  for (const point of POINTS) results.push(await measure(point));
  table(
    "Growth on the directory store: one push, one pull of another version (whole process, warm agent); the agent's RSS idle, its peak during each (VmHWM), right after the pull, and once it collected (2 s later)",
    ['vault', 'push ms', 'pull ms', 'idle MiB', 'push peak MiB', 'pull peak MiB', 'after MiB', 'collected MiB', 'vs idle'],
    results.map((m) => [
      m.point.label,
      ms(m.pushMs),
      ms(m.pullMs),
      m.idleMiB.toFixed(1),
      m.pushPeakMiB.toFixed(1),
      m.pullPeakMiB.toFixed(1),
      m.afterMiB.toFixed(1),
      m.collectedMiB.toFixed(1),
      `${m.collectedMiB >= m.idleMiB ? '+' : ''}${(((m.collectedMiB - m.idleMiB) / m.idleMiB) * 100).toFixed(0)} %`,
    ]),
  );
  const bySize = results.slice(0, 4);
  const byFiles = [results[0]!, ...results.slice(4)];
  const mb = (m: Measured) => (m.point.files * m.point.bytesPerFile) / MiB;
  const kfiles = (m: Measured) => m.point.files / 1000;
  console.log(
    `slope per MB (16 KB → 256 MB): push ${slope(bySize, mb, (m) => m.pushMs).toFixed(1)} ms, pull ${slope(bySize, mb, (m) => m.pullMs).toFixed(1)} ms, peak RSS ${slope(bySize, mb, peakOf).toFixed(2)} MiB`,
  );
  console.log(
    `slope per 1,000 files (3 → 20,000): push ${slope(byFiles, kfiles, (m) => m.pushMs).toFixed(0)} ms, pull ${slope(byFiles, kfiles, (m) => m.pullMs).toFixed(0)} ms, peak RSS ${slope(byFiles, kfiles, peakOf).toFixed(1)} MiB`,
  );
}
