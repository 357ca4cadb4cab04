// Push on save, measured. Save-to-version-visible latency: a file in a watched vault folder is written, and
// the clock stops when the agent reports the push finished (the pointer has moved), which is then checked
// against the store itself; 50 saves one after another, debounce 100 ms, on each store. And what watching
// costs when nothing happens: the agent's CPU time and resident memory over 60 s with 20 vaults watched,
// all following the remote (the default 30 s period).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { storageFactory } from '../daemon/adapters.js';
import { readConfig } from '../daemon/vault/config.js';
import { pointerKey } from '../daemon/vault/remote-layout.js';
import { configFile } from '../shared/paths.js';
import type { AgentEvent } from '../shared/events.js';
import { call, startBenchAgent, type BenchAgent } from './bench-agent.js';
import { ms, table } from './measure.js';

const SAVES = 50;
const WARM_UP = 5;
const DEBOUNCE_MS = 100;
const WATCHED = 20;
const IDLE_SECONDS = 60;

async function vault(agent: BenchAgent, base: string, name: string, initOptions: Record<string, unknown>): Promise<string> {
  const repo = join(base, name);
  mkdirSync(repo, { recursive: true });
  execFileSync('git', ['init', '-q', repo]);
  writeFileSync(join(repo, '.vsync'), `repo=${name}\n`);
  await call(agent.socket, 'POST', '/v1/init', { cwd: repo, env: 'dev', ...initOptions });
  writeFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), 'SAVE=0\n');
  await call(agent.socket, 'POST', '/v1/push', { cwd: repo, env: 'dev' });
  return repo;
}

async function saveLatency(label: string, initOptions: Record<string, unknown>): Promise<string[]> {
  const base = mkdtempSync(join(tmpdir(), 'vsync-bench-watch-'));
  const home = join(base, 'home');
  const agent = await startBenchAgent(home, { VSYNC_WATCH_DEBOUNCE_MS: String(DEBOUNCE_MS) });
  try {
    const name = `watch_${label.startsWith('S3') ? 's3' : 'dir'}`;
    const repo = await vault(agent, base, name, initOptions);
    await call(agent.socket, 'POST', '/v1/watch', { cwd: repo, env: 'dev' });
    const store = storageFactory()(await readConfig(configFile(name, 'dev', { HOME: home })));
    let waiting: ((version: string) => void) | undefined;
    const unfollow = await agent.follow((event: AgentEvent) => {
      if (event.type === 'push-finished' && event.trigger === 'watch') waiting?.(event.version);
    });
    await sleep(DEBOUNCE_MS * 3); // the start-up check after `watch` has run
    const times: number[] = [];
    for (let i = 1; i <= SAVES + WARM_UP; i++) {
      const pushed = new Promise<string>((resolve) => (waiting = resolve));
      const start = performance.now();
      writeFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), `SAVE=${i}\n`);
      const version = await pushed;
      const elapsed = performance.now() - start;
      const latest = (await store.get(pointerKey(name, 'dev'))).body.toString().trim();
      if (latest !== version) throw new Error(`the agent said ${version} was pushed, the store's latest is ${latest}`);
      if (i > WARM_UP) times.push(elapsed);
    }
    unfollow();
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    return [label, String(DEBOUNCE_MS), ms(at(0.5)), ms(at(0.95)), ms(at(0.5) - DEBOUNCE_MS)];
  } finally {
    await agent.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

async function idleCost(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'vsync-bench-idle-'));
  const agent = await startBenchAgent(join(base, 'home'));
  try {
    const rssStarted = agent.rssMiB();
    const repos: string[] = [];
    for (let i = 0; i < WATCHED; i++) repos.push(await vault(agent, base, `idle_${i}`, {}));
    const rssUnwatched = agent.rssMiB();
    for (const repo of repos) await call(agent.socket, 'POST', '/v1/watch', { cwd: repo, env: 'dev', follow: true });
    await sleep(2_000); // past the start-up checks
    const cpuBefore = agent.cpuMs();
    const rssBefore = agent.rssMiB();
    await sleep(IDLE_SECONDS * 1000);
    const cpu = agent.cpuMs() - cpuBefore;
    const rssAfter = agent.rssMiB();
    table(
      `Idle cost: the agent over ${IDLE_SECONDS} s with ${WATCHED} vaults watched and followed (pointer read every 30 s each), directory store`,
      ['measure', 'value'],
      [
        [
          `CPU time (user + system) in ${IDLE_SECONDS} s`,
          `${cpu.toFixed(0)} ms (${((cpu / (IDLE_SECONDS * 1000)) * 100).toFixed(2)} % of one core)`,
        ],
        ['resident memory: agent started', `${rssStarted.toFixed(1)} MiB`],
        [`resident memory: ${WATCHED} vaults used, none watched`, `${rssUnwatched.toFixed(1)} MiB`],
        [`resident memory: ${WATCHED} watched, start of the ${IDLE_SECONDS} s`, `${rssBefore.toFixed(1)} MiB`],
        [`resident memory: ${WATCHED} watched, end of the ${IDLE_SECONDS} s`, `${rssAfter.toFixed(1)} MiB`],
      ],
    );
  } finally {
    await agent.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

export async function benchWatch(s3Endpoint: string | undefined, makeBucket: () => Promise<string>): Promise<void> {
  const rows = [await saveLatency('directory store', {})];
  if (s3Endpoint)
    rows.push(
      await saveLatency('S3 (Ceph RGW)', { bucket: await makeBucket(), endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true }),
    );
  table(
    `Push on save: save to version visible, ${SAVES} saves after ${WARM_UP} warm-ups`,
    ['store', 'debounce ms', 'median ms', 'p95 ms', 'median over debounce'],
    rows,
  );
  await idleCost();
}
