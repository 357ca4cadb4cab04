// The README's quick start, both ways it offers:
//   - `npm start` (scripts/quick-start.mjs), the first of the README's two commands, in a fresh HOME: what it
//     prints, and that it leaves nothing behind (no vsync config, store or state in that HOME, no temp
//     folder, no agent), also when Ctrl-C or a failing step ends it. The second command, `npm test`, cannot
//     run inside the suite it runs: CI's run (.ci/run) is that test.
//   - "Using it for real": the block between the quick-start markers, run as written on a machine without a
//     desktop keychain: PATH with bin/, a fresh HOME, VSYNC_KEY as the README says to set it.
import t, { type Test } from 'tap';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childEnv, projectRoot, built } from '../helpers/built.js';
import { freshSocket } from '../helpers/agent.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { PATIENCE_MS } from '../helpers/patience.js';

const run = promisify(execFile);
const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const block = /<!-- quick-start:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- quick-start:end -->/.exec(readme)?.[1];

/** A fresh HOME and TMPDIR with none of this machine's vsync, XDG, git or keyring settings. */
function freshMachine(prefix: string, extra: Record<string, string> = {}) {
  const { base, cleanup } = tempBase(prefix);
  const home = join(base, 'home');
  const tmp = join(base, 'tmp');
  mkdirSync(home);
  mkdirSync(tmp);
  const env = childEnv({ HOME: home, TMPDIR: tmp });
  for (const name of Object.keys(env)) {
    if (/^(VSYNC_|GIT_|XDG_)/.test(name) || name === 'DBUS_SESSION_BUS_ADDRESS') delete env[name];
  }
  Object.assign(env, extra);
  // The suite's other tests use node_modules and dist/ meanwhile: the walk runs on them as they are, never
  // reinstalling or rebuilding under those tests (scripts/test.sh has built first).
  env.VSYNC_QUICK_START_SETUP = 'skip';
  return { base, home, tmp, env, cleanup };
}

/** Processes (other than this one) whose environment names `path`: an agent the walk left running would. */
function processesNaming(path: string): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(path)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function leftBehind(t: Test, machine: ReturnType<typeof freshMachine>) {
  for (const dir of ['.config/vsync', '.local/share/vsync', '.local/state/vsync']) {
    t.notOk(existsSync(join(machine.home, dir)), `nothing in the fresh HOME's ${dir}`);
  }
  t.same(readdirSync(machine.tmp), [], 'the throwaway folder is gone');
  t.same(processesNaming(machine.tmp), [], 'no process left with the walk’s socket (its agent is stopped)');
}

const steps = [
  '$ git init -q myrepo && cd myrepo',
  '$ vsync init dev',
  "$ echo 'API_KEY=abc123' > infra/vault/dev/.env.dev",
  '$ vsync push dev',
  '$ vsync versions dev',
  '$ vsync pull dev',
  '$ vsync use dev',
  '$ cat .env',
  '$ vsync daemon stop',
];

t.test('npm start walks the quick start in a throwaway folder and leaves nothing behind', async (t) => {
  t.match(readme, /## Quick start\n[\s\S]*?```sh\nnpm start .*\nnpm test .*\n```/, 'the README opens with the two commands');
  built('client/vsync.cjs');
  const machine = freshMachine('vsync-npm-start-');
  t.teardown(machine.cleanup);
  const { stdout } = await run('npm', ['start'], { env: machine.env, cwd: projectRoot, timeout: PATIENCE_MS });
  const lines = stdout.split('\n');
  const at = steps.map((step) => lines.indexOf(step));
  t.notOk(
    at.some((i) => i < 0),
    `every step is printed: ${steps.filter((_, i) => at[i]! < 0).join(', ') || 'all'}`,
  );
  t.same(
    at,
    [...at].sort((a, b) => a - b),
    'in order',
  );
  const after = (step: string) => lines.slice(lines.indexOf(step) + 1).join('\n');
  t.match(after('$ vsync init dev'), /^✅ initialised myrepo\/dev/, "each command's own output follows it");
  t.match(after('$ vsync push dev'), /✅ pushed myrepo\/dev \(version: \d{8}-\d{6}\)/);
  t.match(after('$ vsync versions dev'), /^file:\/\/.*\(1 version\)\n\* \d{8}-\d{6} \d+ B/);
  t.match(after('$ vsync pull dev'), /✅ pulled myrepo\/dev version \d{8}-\d{6}/);
  t.match(after('$ vsync use dev'), /^\.env → infra\/vault\/dev\/\.env\.dev/);
  t.match(after('$ cat .env'), /^API_KEY=abc123\n/, 'cat .env shows the secret through the link');
  t.match(after('$ vsync daemon stop'), /^vsyncd stopped\n\n✅ the quick start worked/);
  t.match(stdout, `throwaway folder, ${machine.tmp}/vsync-quick-start-`, 'it says where it works');
  leftBehind(t, machine);
});

t.test('Ctrl-C stops the agent the walk started and removes its folder', async (t) => {
  built('client/vsync.cjs');
  const machine = freshMachine('vsync-npm-start-int-');
  t.teardown(machine.cleanup);
  const child = spawn(process.execPath, [join(projectRoot, 'scripts', 'quick-start.mjs')], {
    env: machine.env,
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Once the push has begun, the agent is up: that is when an interrupted walk has the most to undo.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "$ vsync push dev" within ${PATIENCE_MS} ms:\n${stdout}\n${stderr}`)), PATIENCE_MS);
    child.on('exit', (code) => reject(new Error(`the walk ended (exit ${code}) before "$ vsync push dev":\n${stdout}\n${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (stdout.includes('$ vsync push dev\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGINT');
  t.equal(await exited, 130, 'exits 128 + SIGINT');
  t.match(stderr, /✗ quick start failed: interrupted \(SIGINT\)/, 'says it was interrupted');
  t.notMatch(stdout, /✅ the quick start worked/);
  leftBehind(t, machine);
});

t.test('a failing step ends the walk with exit 1, names the step, and still cleans up', async (t) => {
  built('client/vsync.cjs');
  // No git on PATH: the first step of the walk cannot run.
  const machine = freshMachine('vsync-npm-start-fail-', { PATH: '/nonexistent' });
  t.teardown(machine.cleanup);
  const failed = await run(process.execPath, [join(projectRoot, 'scripts', 'quick-start.mjs')], {
    env: machine.env,
    cwd: projectRoot,
    timeout: PATIENCE_MS,
  }).then(
    () => undefined,
    (err: { code?: number; stderr?: string }) => err,
  );
  t.equal(failed?.code, 1, 'exit 1');
  t.match(failed?.stderr, /✗ quick start failed: git init -q myrepo && cd myrepo: could not start git/, 'names the failing step');
  leftBehind(t, machine);
});

t.test('the README quick start ("Using it for real") works on the embedded store', async (t) => {
  t.ok(block, 'the README has a quick-start block');
  built('client/main');
  const socket = freshSocket();
  const machine = freshMachine('vsync-quick-', {
    PATH: `${join(projectRoot, 'bin')}:${process.env.PATH}`,
    VSYNC_SOCKET: socket,
    VSYNC_KEY: randomBytes(32).toString('base64'),
  });
  const env = machine.env;
  t.teardown(async () => {
    await run(join(projectRoot, 'bin', 'vsync'), ['daemon', 'stop'], { env }).catch(() => undefined);
    machine.cleanup();
  });
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', block!], { env, cwd: machine.base, timeout: PATIENCE_MS });
  t.match(stdout, /✅ initialised myrepo\/dev/);
  t.match(stdout, /✅ pushed myrepo\/dev \(version: \d{8}-\d{6}\)/);
  t.match(stdout, /\(1 version\)\n\* \d{8}-\d{6} \d+ B/);
  t.match(stdout, /✅ pulled myrepo\/dev version \d{8}-\d{6}/);
  t.match(stdout, /\.env → infra\/vault\/dev\/\.env\.dev/);
  t.match(stdout, /API_KEY=abc123\n$/, 'cat .env shows the secret through the link');
});
