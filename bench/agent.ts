// The agent's worth, measured: the CLI's wall time for `vsync status` beside `node -e 0`; warm push and
// pull of a small vault through the agent beside the floor (the same storage calls from one warm process);
// and a cold one-shot process doing the same push or pull (SDK load, key derivation) for comparison.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { storageFactory } from '../daemon/adapters.js';
import { readConfig } from '../daemon/vault/config.js';
import { pointerKey, versionKey } from '../daemon/vault/remote-layout.js';
import { configFile } from '../shared/paths.js';
import { benchStores, benchVault, call, dist, startBenchAgent } from './bench-agent.js';
import { medianSteps, traceMark, tracedOperations } from './breakdown.js';
import { ms, sample, table, type Stats } from './measure.js';

const clientMain = join(dist, 'client', 'vsync.cjs'); // the bundled CLI users run
const oneShot = join(dist, 'bench', 'one-shot.js');

/** Wall time of one `node <args>` process, spawn to exit; it must exit 0. */
export async function spawnWall(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
  return performance.now() - started;
}

export async function benchAgent(s3Endpoint: string | undefined, makeBucket: () => Promise<string>): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'vsync-bench-agent-'));
  const traceFile = join(base, 'trace');
  const agent = await startBenchAgent(join(base, 'home'), { VSYNC_TRACE_FILE: traceFile });
  const { socket, env } = agent;
  try {
    // Interleaved, so that a machine slowing down or speeding up part-way affects all three alike.
    const [nodeAlone, status, version] = (await collectInterleaved(30, [
      () => spawnWall(['-e', '0'], env),
      () => spawnWall([clientMain, 'status'], env),
      () => spawnWall([clientMain, '--version'], env),
    ])) as [Stats, Stats, Stats];
    table(
      'CLI wall time (spawn to exit), 30 rounds of the three after 3 warm-ups',
      ['command', 'median ms', 'p95 ms', 'over node -e 0'],
      [
        ['node -e 0', ms(nodeAlone.medianMs), ms(nodeAlone.p95Ms), ''],
        ['vsync --version', ms(version.medianMs), ms(version.p95Ms), `${ms(version.medianMs - nodeAlone.medianMs)} ms`],
        ['vsync status (agent up)', ms(status.medianMs), ms(status.p95Ms), `${ms(status.medianMs - nodeAlone.medianMs)} ms`],
      ],
    );
    cliInstructions(env, nodeAlone.medianMs);

    const rows: string[][] = [];
    const breakdowns: Array<{ label: string; push: Map<string, number>; pull: Map<string, number>; floor: [number, number] }> = [];
    for (const [label, initOptions] of await benchStores(s3Endpoint, makeBucket)) {
      const { repoName, repo, folder } = await benchVault(base, socket, initOptions);
      writeFileSync(join(folder, '.env.dev'), `DATABASE_URL=postgres://dev\nAPI_KEY=${randomBytes(24).toString('hex')}\n`);
      writeFileSync(join(folder, 'service-account.json'), JSON.stringify({ key: randomBytes(600).toString('base64') }));
      writeFileSync(join(folder, 'tls.key'), randomBytes(900).toString('base64'));

      const pushMark = traceMark(traceFile);
      const push = await sample(20, () => call(socket, 'POST', '/v1/push', { cwd: repo, env: 'dev' }));
      const pushSteps = medianSteps(tracedOperations(traceFile, pushMark, 20));
      const pull = await sample(20, () => call(socket, 'POST', '/v1/pull', { cwd: repo, env: 'dev' }));
      // A pull that brings something: before each, a second checkout of the repo (a teammate) pushes a change.
      const teammate = join(base, `${repoName}-teammate`);
      mkdirSync(teammate, { recursive: true });
      execFileSync('git', ['init', '-q', teammate]);
      writeFileSync(join(teammate, '.vsync'), `repo=${repoName}\n`);
      await call(socket, 'POST', '/v1/pull', { cwd: teammate, env: 'dev' });
      // The teammate's pushes are traced too: only the pulls' operations are kept.
      const pulls: Array<Map<string, number>> = [];
      const pullNew = await sample(
        20,
        async () => {
          const mark = traceMark(traceFile);
          await call(socket, 'POST', '/v1/pull', { cwd: repo, env: 'dev' });
          pulls.push(...tracedOperations(traceFile, mark, 1));
        },
        5,
        async () => {
          writeFileSync(join(teammate, 'infra', 'vault', 'dev', '.env.dev'), `API_KEY=${randomBytes(24).toString('hex')}\n`);
          await call(socket, 'POST', '/v1/push', { cwd: teammate, env: 'dev' });
        },
      );

      // The floor: the storage calls a push and a pull make, from this warm process, without the agent.
      const storage = storageFactory()(await readConfig(configFile(repoName, 'dev', { HOME: join(base, 'home') })));
      const latest = pointerKey(repoName, 'dev');
      const current = (await storage.get(latest)).body.toString();
      const body = (await storage.get(versionKey(repoName, 'dev', current))).body;
      let n = 0;
      const floorPush = await sample(20, async () => {
        const ts = `2030${String(n++).padStart(4, '0')}-000000`;
        const pointer = await storage.get(latest);
        await storage.head(versionKey(repoName, 'dev', ts)).catch(() => undefined);
        await storage.putIfAbsent(versionKey(repoName, 'dev', ts), body);
        await storage.putIfMatch(latest, Buffer.from(ts), pointer.etag);
      });
      await storage.put(latest, Buffer.from(current));
      const floorPull = await sample(20, async () => {
        const ts = (await storage.get(latest)).body.toString();
        await storage.get(versionKey(repoName, 'dev', ts));
      });

      breakdowns.push({
        label,
        push: new Map([...pushSteps, ['(round trip on the socket)', push.medianMs]]),
        pull: new Map([...medianSteps(pulls.slice(-20)), ['(round trip on the socket)', pullNew.medianMs]]),
        floor: [floorPush.medianMs, floorPull.medianMs],
      });
      const coldEnv = { ...env };
      const coldPush = await collect(5, () => spawnWall([oneShot, 'push', repo, 'dev'], coldEnv, repo));
      const coldPull = await collect(5, () => spawnWall([oneShot, 'pull', repo, 'dev'], coldEnv, repo));
      rows.push(
        [
          `push, ${label}`,
          ms(push.medianMs),
          ms(floorPush.medianMs),
          `${(push.medianMs / floorPush.medianMs).toFixed(2)}x`,
          ms(coldPush.medianMs),
        ],
        [
          `pull (unchanged), ${label}`,
          ms(pull.medianMs),
          ms(floorPull.medianMs),
          `${(pull.medianMs / floorPull.medianMs).toFixed(2)}x`,
          ms(coldPull.medianMs),
        ],
        [
          `pull (new version), ${label}`,
          ms(pullNew.medianMs),
          ms(floorPull.medianMs),
          `${(pullNew.medianMs / floorPull.medianMs).toFixed(2)}x`,
          '',
        ],
      );
    }
    table(
      'Small vault (3 files, ~2.5 KB): through the warm agent vs the floor vs a cold one-shot process (medians; 20 runs, one-shot 5)',
      ['operation', 'agent ms', 'floor ms', 'agent/floor', 'one-shot ms'],
      rows,
    );
    printBreakdown(breakdowns);
  } finally {
    await agent.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Each step of the warm push and pull above as the agent traced it (daemon/trace, VSYNC_TRACE_FILE),
 * medians per step; steps can overlap (the pointer is read while the folder is), so they need not add up
 * to the operation. Then the operation inside the agent, the round trip on the socket, and the floor.
 */
function printBreakdown(
  stores: Array<{ label: string; push: Map<string, number>; pull: Map<string, number>; floor: [number, number] }>,
): void {
  const names = [...new Set(stores.flatMap((s) => [...s.push.keys(), ...s.pull.keys()]))];
  const order = (name: string) => (name.startsWith('operation.') ? 2 : name.startsWith('(') ? 3 : name.startsWith('store.') ? 1 : 0);
  names.sort((a, b) => order(a) - order(b));
  const cell = (steps: Map<string, number>, name: string) => (steps.has(name) ? ms(steps.get(name)!) : '');
  const rows = names.map((name) => [name, ...stores.flatMap((s) => [cell(s.push, name), cell(s.pull, name)])]);
  rows.push(['(floor: the same store requests, one warm process)', ...stores.flatMap((s) => s.floor.map(ms))]);
  table(
    'Agent-side breakdown of the small vault above (ms, medians of 20 traced runs; steps may overlap)',
    ['step', ...stores.flatMap((s) => [`push, ${s.label}`, `pull (new), ${s.label}`])],
    rows,
  );
}

/**
 * The same three commands counted in instructions (valgrind's callgrind), which do not move with the
 * machine's load the way wall time does on a shared host: the client's own cost as a share of Node's
 * start-up, and what that share is of node -e 0's median wall time. Skipped without valgrind.
 */
function cliInstructions(env: NodeJS.ProcessEnv, nodeMedianMs: number): void {
  const out = join(mkdtempSync(join(tmpdir(), 'vsync-callgrind-')), 'out');
  const count = (args: string[]): number | undefined => {
    const run = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, ...args], {
      env,
      encoding: 'utf8',
    });
    const collected = /Collected : (\d+)/.exec(run.stderr ?? '');
    return run.status === 0 && collected ? Number(collected[1]) : undefined;
  };
  const node = count(['-e', '0']);
  if (node === undefined) {
    console.log('\nCLI instruction counts skipped: valgrind is not installed');
    return;
  }
  const row = (label: string, n: number): string[] => {
    const share = (n - node) / node;
    return [
      label,
      `${(n / 1e6).toFixed(0)} M`,
      share === 0 ? '' : `+${(share * 100).toFixed(1)} %`,
      share === 0 ? '' : `${ms(share * nodeMedianMs)} ms`,
    ];
  };
  const rows = [row('node -e 0', node)];
  for (const [label, args] of [
    ['vsync --version', [clientMain, '--version']],
    ['vsync status (agent up)', [clientMain, 'status']],
  ] as const) {
    const n = count([...args]);
    if (n !== undefined) rows.push(row(label, n));
  }
  table(
    'CLI instructions (valgrind callgrind, one run each)',
    ['command', 'instructions', 'over node -e 0', 'that share of its median'],
    rows,
  );
}

/** Wall times of `n` runs after 3 warm-ups: median and p95. */
async function collect(n: number, run: () => Promise<number>): Promise<Stats> {
  return (await collectInterleaved(n, [run]))[0]!;
}

/** `n` rounds, each running every one of `runs` once in turn, after 3 warm-up rounds; stats per run. */
async function collectInterleaved(n: number, runs: Array<() => Promise<number>>): Promise<Stats[]> {
  for (let i = 0; i < 3; i++) for (const run of runs) await run();
  const times = runs.map(() => [] as number[]);
  for (let i = 0; i < n; i++) for (const [k, run] of runs.entries()) times[k]!.push(await run());
  return times.map((list) => {
    list.sort((a, b) => a - b);
    const at = (q: number) => list[Math.min(list.length - 1, Math.floor(q * list.length))]!;
    return { n, medianMs: at(0.5), p95Ms: at(0.95), minMs: list[0]! };
  });
}
