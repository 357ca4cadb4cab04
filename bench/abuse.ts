// The agent under abuse, measured: the wall time of the real `vsync status` with the agent quiet, with 500
// idle connections held open, and with 500 idle connections plus 200 requests always in flight
// (GET /v1/status and GET /v1/versions of a directory-store vault). Also the agent's RSS and the rate of the
// load's requests. Numbers to read, never pass/fail. Run by bench/run.sh after the others.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { call, dist, startBenchAgent } from './bench-agent.js';
import { ms, sample, table } from './measure.js';

const clientMain = join(dist, 'client', 'vsync.cjs');
const IDLE = 500;
const IN_FLIGHT = 200;
const ROUNDS = 20;

function vsyncStatus(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [clientMain, 'status'], { env, stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vsync status exited ${code}`))));
  });
}

function openIdle(socket: string, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(socket);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
}

/** Keeps `n` GET requests in flight until stopped; counts those answered and those that failed. */
function load(socket: string, paths: string[], n: number): { stop: () => Promise<void>; answered: () => number; failed: () => number } {
  let running = true;
  let answered = 0;
  let failed = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const req = request({ socketPath: socket, path: paths[i % paths.length], agent: false }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) answered++;
          else failed++;
          resolve();
        });
      });
      req.on('error', () => {
        failed++;
        resolve();
      });
      req.end();
    });
  const lanes = Array.from({ length: n }, async (_, lane) => {
    for (let i = lane; running; i += n) await one(i);
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(lanes);
    },
    answered: () => answered,
    failed: () => failed,
  };
}

export async function benchAbuse(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'vsync-bench-abuse-'));
  const agent = await startBenchAgent(join(base, 'home'));
  const { socket, env } = agent;
  const idle: Socket[] = [];
  try {
    const repo = join(base, 'bench_abuse');
    mkdirSync(repo, { recursive: true });
    execFileSync('git', ['init', '-q', repo]);
    writeFileSync(join(repo, '.vsync'), 'repo=bench_abuse\n');
    await call(socket, 'POST', '/v1/init', { cwd: repo, env: 'dev' });
    writeFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), 'A=1\n');
    await call(socket, 'POST', '/v1/push', { cwd: repo, env: 'dev' });
    const paths = ['/v1/status', `/v1/versions?cwd=${encodeURIComponent(repo)}&env=dev`];

    const rows: string[][] = [];
    const quiet = await sample(ROUNDS, () => vsyncStatus(env), 3);
    rows.push(['agent quiet', ms(quiet.medianMs), ms(quiet.p95Ms), agent.rssMiB().toFixed(1), '', '']);

    idle.push(...(await openIdle(socket, IDLE)));
    const withIdle = await sample(ROUNDS, () => vsyncStatus(env), 3);
    rows.push([`${IDLE} idle connections`, ms(withIdle.medianMs), ms(withIdle.p95Ms), agent.rssMiB().toFixed(1), '', '']);

    const traffic = load(socket, paths, IN_FLIGHT);
    const started = performance.now();
    const busy = await sample(ROUNDS, () => vsyncStatus(env), 3);
    const seconds = (performance.now() - started) / 1000;
    const rss = agent.rssMiB();
    await traffic.stop();
    rows.push([
      `${IDLE} idle + ${IN_FLIGHT} in flight`,
      ms(busy.medianMs),
      ms(busy.p95Ms),
      rss.toFixed(1),
      (traffic.answered() / seconds).toFixed(0),
      String(traffic.failed()),
    ]);
    const open = idle.filter((s) => !s.destroyed && s.readyState === 'open').length;
    table(
      `\`vsync status\` wall time under abuse (${ROUNDS} rounds after 3 warm-ups; directory store)`,
      ['agent', 'median ms', 'p95 ms', 'RSS MiB', 'load req/s', 'load failed'],
      rows,
    );
    console.log(`idle connections still open at the end: ${open} of ${IDLE} (closed after VSYNC_CONNECTION_IDLE_SECONDS, default 60)`);
  } finally {
    for (const s of idle) s.destroy();
    await agent.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

// Run on its own by bench/run.sh (`node dist/bench/abuse.js`).
if (import.meta.url === `file://${process.argv[1]}`) await benchAbuse();
