#!/usr/bin/env node
// The fast lane's runner: runs each test file (built JavaScript that prints TAP, as tap's tests do when run
// directly) as its own Node process, as many at once as there are CPUs, and prints one line per file, the
// output of any file that failed, and the totals. It exists for one measured reason: tap's runner starts
// every test process with @tapjs/processinfo's module loader (for coverage, which this project does not
// collect), a hooks thread that costs ~0.7 s of CPU per process before a test line runs: ~40 s of a
// ~150 s lane on 2 cores. `npm run test:unit` runs the unit files with it, and so does `npm test` (CI), after
// tap's runner has run the contract and integration suites.
//
//   node scripts/run-tests.mjs [--jobs N] [--verbose] file...
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

// The same limits as package.json's tap config: a file's own tap times out after TIMEOUT_S; a process that
// hangs past that is killed here.
const TIMEOUT_S = 600;

const { values, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { jobs: { type: 'string' }, verbose: { type: 'boolean', default: false } },
});
const jobs = Math.max(1, Number(values.jobs ?? availableParallelism()));
if (files.length === 0) {
  console.error('run-tests: no test files given');
  process.exit(2);
}

/** Runs one file; resolves with its TAP output, exit status and totals (undefined when it printed none). */
function run(file) {
  const started = performance.now();
  return new Promise((resolve) => {
    // Each file runs as when started by hand: none of a surrounding runner's TAP_* settings or NODE_OPTIONS.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'TAP' && !k.startsWith('TAP_')));
    env.TAP_TIMEOUT = String(TIMEOUT_S);
    const child = spawn(process.execPath, ['--enable-source-maps', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), (TIMEOUT_S + 30) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      const last = [...output.matchAll(/^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/gm)].at(-1);
      const totals = last ? { total: Number(last[1]), pass: Number(last[2]), fail: Number(last[3] ?? 0) } : undefined;
      resolve({ file, output, code, signal, totals, seconds: (performance.now() - started) / 1000 });
    });
  });
}

const queue = [...files];
let pass = 0;
let fail = 0;
const shown = [];
async function worker() {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const r = await run(file);
    const ok = r.code === 0 && r.totals !== undefined && r.totals.fail === 0;
    pass += r.totals?.pass ?? 0;
    // A file that ended without its totals (a crash, a kill) counts as one failure more than it reported.
    fail += (r.totals?.fail ?? 0) + (ok || (r.totals?.fail ?? 0) > 0 ? 0 : 1);
    const how = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
    console.log(`${ok ? 'ok    ' : 'not ok'} ${r.seconds.toFixed(1).padStart(6)} s  ${r.file}${ok ? '' : ` (${how})`}`);
    if (values.verbose || !ok) shown.push(r);
  }
}
const started = performance.now();
await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
for (const r of shown) console.log(`\n===== ${r.file}\n${r.output}`);
console.log(`\n# { total: ${pass + fail}, pass: ${pass}, fail: ${fail} }`);
console.log(`# ${files.length} files in ${((performance.now() - started) / 1000).toFixed(1)} s, ${jobs} at a time`);
process.exit(fail === 0 ? 0 : 1);
