// A real vsyncd for the benchmarks: started from dist/ with its own HOME and socket, called over HTTP on
// the socket, its events followed, its CPU time and memory read from /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AGENT_ENVIRONMENT } from '../shared/agent-environment.js';
import { SseReader } from '../client/sse-reader.js';
import type { AgentEvent } from '../shared/events.js';

export const dist = fileURLToPath(new URL('..', import.meta.url)); // dist/
const daemonMain = join(dist, 'daemon', 'main.js');
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The benchmark's environment for child processes, without tap's or anyone's NODE_OPTIONS. */
export function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS; // the inherited one; one the caller passes in `extra` is meant
  return { ...env, ...extra };
}

export function call(socket: string, method: string, path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath: socket, method, path, headers: payload ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface BenchAgent {
  readonly socket: string;
  readonly env: NodeJS.ProcessEnv;
  readonly child: ChildProcess;
  /** Calls `onEvent` for every event from now on; returns the function that stops following. */
  follow(onEvent: (event: AgentEvent) => void): Promise<() => void>;
  /** User + system CPU time so far, in ms (/proc/<pid>/stat). */
  cpuMs(): number;
  /** Resident set size now, in MiB (/proc/<pid>/status). */
  rssMiB(): number;
  /** Stops the agent; resolves once it has exited and its socket's folder is gone. */
  stop(): Promise<void>;
}

export async function startBenchAgent(home: string, extra: Record<string, string> = {}): Promise<BenchAgent> {
  const socket = join(mkdtempSync(join(tmpdir(), 'vba-')), 's.sock');
  const env = baseEnv({
    HOME: home,
    VSYNC_SOCKET: socket,
    VSYNC_KEY: randomBytes(32).toString('base64'),
    VSYNC_NO_AUTOSTART: '1',
    ...AGENT_ENVIRONMENT, // as the client's autostart and the unit start it
    ...extra,
  });
  const child = spawn(process.execPath, [daemonMain], { env, stdio: 'ignore' });
  for (let i = 0; ; i++) {
    if (
      await call(socket, 'GET', '/v1/status').then(
        () => true,
        () => false,
      )
    )
      break;
    if (i > 200) throw new Error('vsyncd did not start');
    await sleep(25);
  }
  const proc = (file: string) => readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  return {
    socket,
    env,
    child,
    follow: (onEvent) =>
      new Promise((resolve, reject) => {
        const req = request({ socketPath: socket, path: '/v1/events' }, (res) => {
          const reader = new SseReader();
          res.on('data', (chunk: Buffer) => {
            for (const message of reader.push(chunk)) onEvent(JSON.parse(message.data) as AgentEvent);
          });
          res.once('data', () => resolve(() => req.destroy()));
        });
        req.on('error', reject);
        req.end();
      }),
    cpuMs: () => {
      // Fields 14 and 15 (utime, stime) in clock ticks, counted after the command name's closing paren.
      const stat = proc('stat');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
    },
    rssMiB: () => Number(/VmRSS:\s+(\d+) kB/.exec(proc('status'))?.[1] ?? NaN) / 1024,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      // The agent removes its socket, not the folder made for it here.
      rmSync(dirname(socket), { recursive: true, force: true });
    },
  };
}

/** Resolves once the last span in the agent's trace (VSYNC_TRACE_FILE) is its idle collection, after the last operation. */
export async function untilCollected(trace: string): Promise<void> {
  for (let waited = 0; ; waited += 100) {
    const spans = readFileSync(trace, 'utf8').trimEnd().split('\n');
    if (spans.at(-1)?.includes('"memory.collect"')) return;
    if (waited > 60_000) throw new Error('the agent did not collect within 60 s of its last operation');
    await sleep(100);
  }
}

/** The stores a benchmark runs on: the directory store, and RGW when one runs (a new bucket). */
export async function benchStores(
  s3Endpoint: string | undefined,
  makeBucket: () => Promise<string>,
): Promise<Array<[string, Record<string, unknown>]>> {
  const stores: Array<[string, Record<string, unknown>]> = [['directory store', {}]];
  if (s3Endpoint)
    stores.push(['S3 (Ceph RGW)', { bucket: await makeBucket(), endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true }]);
  return stores;
}

/** A new repo under `base` (git, a .vsync naming it) whose vault `dev` the agent on `socket` has initialised with `initOptions`. */
export async function benchVault(
  base: string,
  socket: string,
  initOptions: Record<string, unknown>,
): Promise<{ repoName: string; repo: string; folder: string }> {
  const repoName = `bench_${randomBytes(3).toString('hex')}`;
  const repo = join(base, repoName);
  mkdirSync(repo, { recursive: true });
  execFileSync('git', ['init', '-q', repo]);
  writeFileSync(join(repo, '.vsync'), `repo=${repoName}\n`);
  await call(socket, 'POST', '/v1/init', { cwd: repo, env: 'dev', ...initOptions });
  return { repoName, repo, folder: join(repo, 'infra', 'vault', 'dev') };
}
