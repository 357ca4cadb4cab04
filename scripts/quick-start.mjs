#!/usr/bin/env node
// `npm start`: the README's quick start, run for you on a fresh checkout. It installs what is missing
// (`npm ci` when node_modules is absent or differs from package-lock.json), builds when dist/ is missing or
// older than the sources, then walks init, push, versions, pull and use in a throwaway git repo on the
// embedded directory store, printing each command before its real output.
//
// Nothing of the user's is touched: the walk runs with its own HOME and XDG folders, its own agent on its
// own socket (VSYNC_SOCKET, in a 0700 folder), and a generated key (VSYNC_KEY: no keychain), all inside one
// temp folder that is removed at the end, after the agent it started is stopped, also on a failure or
// Ctrl-C. `npm start -- --keep` keeps the folder and says how to go on there.
//
// Plain Node and nothing else: npm runs this before node_modules exists.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const usage = 'usage: npm start [-- --keep]\n\n  --keep  keep the throwaway folder (its HOME, store and repo) and say where it is\n';

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  process.stdout.write(usage);
  process.exit(0);
}
const unknown = args.filter((a) => a !== '--keep');
if (unknown.length > 0) {
  process.stderr.write(`quick-start: unknown argument ${unknown[0]}\n${usage}`);
  process.exit(2);
}
const keep = args.includes('--keep');

class StepFailed extends Error {}

/** The signal that interrupted the run, once one has; the child in flight gets it too. */
let interrupted;
let current;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = signal;
    current?.kill(signal);
  });
}

/** Runs a command with the terminal's stdout and stderr; throws StepFailed, naming the step, unless it exits 0. */
function run(shown, file, argv, options = {}) {
  if (interrupted) throw new StepFailed(`interrupted (${interrupted}) before: ${shown}`);
  process.stdout.write(`$ ${shown}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
    current = child;
    child.on('error', (err) => {
      current = undefined;
      reject(new StepFailed(`${shown}: could not start ${file}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      current = undefined;
      if (interrupted) reject(new StepFailed(`interrupted (${interrupted}) during: ${shown}`));
      else if (code === 0) resolve();
      else reject(new StepFailed(`${shown} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

/** npm itself: the one that runs `npm start` when there is one (npm_execpath), else npm from PATH. */
function npm(shown, argv) {
  const cli = process.env.npm_execpath;
  return cli && /\.[cm]?js$/.test(cli)
    ? run(shown, process.execPath, [cli, ...argv], { cwd: root })
    : run(shown, 'npm', argv, { cwd: root });
}

/**
 * Why node_modules needs `npm ci`, or undefined when it holds what package-lock.json says. npm writes what
 * it installed to node_modules/.package-lock.json; packages for other platforms (optional) may be absent.
 */
function installNeeded() {
  const hidden = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(hidden)) return 'node_modules is missing';
  const want = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
  const have = JSON.parse(readFileSync(hidden, 'utf8')).packages ?? {};
  for (const [path, entry] of Object.entries(want)) {
    if (path === '') continue;
    const got = have[path];
    if (got === undefined && (entry.optional || entry.devOptional)) continue;
    if (got === undefined) return `${path} is missing`;
    if ((got.version ?? got.resolved) !== (entry.version ?? entry.resolved)) return `${path} differs from package-lock.json`;
  }
  return undefined;
}

/** Why `npm run build` is needed, or undefined when every output is newer than every source. */
function buildNeeded() {
  const outputs = ['dist/client/vsync.cjs', 'dist/client/vsync-main.cjs', 'dist/daemon/main.js', 'dist/client/vsync-main.cjs.v8cache'];
  const missing = outputs.find((f) => !existsSync(join(root, f)));
  if (missing) return `${missing} is missing`;
  // The bundle's code cache is the build's last write: a build that failed part-way leaves it older.
  const built = statSync(join(root, 'dist/client/vsync-main.cjs.v8cache')).mtimeMs;
  let newest = { ms: 0, path: '' };
  const see = (path) => {
    const ms = statSync(path).mtimeMs;
    if (ms > newest.ms) newest = { ms, path };
  };
  const walk = (dir) => {
    see(dir); // a folder's time moves when a file in it is added, removed or renamed
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) see(path);
    }
  };
  for (const dir of ['client', 'daemon', 'shared', 'types']) if (existsSync(join(root, dir))) walk(join(root, dir));
  for (const file of ['tsconfig.json', 'scripts/bundle.mjs']) see(join(root, file));
  return newest.ms > built ? `${newest.path.slice(root.length + 1)} is newer than dist/` : undefined;
}

const started = performance.now();
let base;
let agentMayRun = false;
let env;
let repo;
let failure;

/**
 * VSYNC_QUICK_START_SETUP=skip: walk with node_modules and dist/ as they are, neither installing nor
 * building. For the test suite (test/integration/quick-start.test.ts), whose other tests use both meanwhile
 * and which has built first (scripts/test.sh).
 */
const setUpSkipped = process.env.VSYNC_QUICK_START_SETUP === 'skip';

try {
  const install = setUpSkipped ? undefined : installNeeded();
  if (install) {
    process.stdout.write(`(${install})\n`);
    await npm('npm ci', ['ci', '--no-audit', '--no-fund']);
  }
  const build = setUpSkipped ? undefined : buildNeeded();
  if (build) {
    process.stdout.write(`(${build})\n`);
    await npm('npm run build', ['run', '--silent', 'build']);
  }

  // mkdtemp makes the folder 0700: the socket, the store and the key's config are nobody else's to see.
  base = mkdtempSync(join(tmpdir(), 'vsync-quick-start-'));
  const home = join(base, 'home');
  const runDir = join(base, 'run');
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(runDir, { mode: 0o700 });
  env = { ...process.env };
  // None of the user's vsync settings, git settings, keyring session or folders reach the walk.
  for (const name of Object.keys(env)) {
    if (/^(VSYNC_|GIT_|XDG_)/.test(name) || name === 'DBUS_SESSION_BUS_ADDRESS') delete env[name];
  }
  Object.assign(env, {
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CACHE_HOME: join(home, '.cache'),
    VSYNC_SOCKET: join(runDir, 'vsyncd.sock'),
    VSYNC_KEY: randomBytes(32).toString('base64'),
  });
  process.stdout.write(
    `\nThe quick start in a throwaway folder, ${base}, with its own HOME, agent and key\n` +
      '(VSYNC_KEY): nothing of yours is read or changed, and the folder goes at the end.\n\n',
  );

  const cli = join(root, 'dist', 'client', 'vsync.cjs');
  const vsync = (line) => {
    agentMayRun = true;
    return run(`vsync ${line}`, process.execPath, [cli, ...line.split(' ')], { cwd: repo, env });
  };
  const shell = (shown, action) => {
    if (interrupted) throw new StepFailed(`interrupted (${interrupted}) before: ${shown}`);
    process.stdout.write(`$ ${shown}\n`);
    try {
      action();
    } catch (err) {
      throw new StepFailed(`${shown}: ${err.message}`);
    }
  };

  await run('git init -q myrepo && cd myrepo', 'git', ['init', '-q', 'myrepo'], { cwd: base, env });
  repo = join(base, 'myrepo');
  await vsync('init dev');
  shell("echo 'API_KEY=abc123' > infra/vault/dev/.env.dev", () => writeFileSync(join(repo, 'infra/vault/dev/.env.dev'), 'API_KEY=abc123\n'));
  await vsync('push dev');
  await vsync('versions dev');
  await vsync('pull dev');
  await vsync('use dev');
  shell('cat .env', () => process.stdout.write(readFileSync(join(repo, '.env'), 'utf8')));
  await vsync('daemon stop');
} catch (err) {
  failure = err;
} finally {
  await cleanUp();
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
const kept = keep && base ? `Kept ${base}:\n  . ${join(base, 'env.sh')}   # a shell there: its HOME, key and socket, in myrepo\n  rm -rf ${base}   # when done\n` : '';
if (failure) {
  const what = failure instanceof StepFailed ? failure.message : (failure?.stack ?? String(failure));
  process.stderr.write(`\n✗ quick start failed: ${what}\n${kept}`);
  process.exitCode = interrupted ? 128 + constants.signals[interrupted] : 1;
} else {
  process.stdout.write(`\n✅ the quick start worked (${seconds} s). ${kept || 'Its folder is gone (npm start -- --keep keeps it).\n'}`);
  process.stdout.write('To use vsync on your own repos, read "Using it for real" in README.md.\n');
}

/** Stops the agent the walk started (whatever happened), then removes the folder unless --keep. */
async function cleanUp() {
  if (!base) return;
  // `daemon stop` never starts an agent, and waits until the one it asked is gone.
  const stopped = !agentMayRun || (await quiet(process.execPath, [join(root, 'dist', 'client', 'vsync.cjs'), 'daemon', 'stop'], { env, cwd: base }));
  if (!stopped) killOurAgent();
  if (keep) {
    if (repo) {
      const exports = ['HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'VSYNC_SOCKET', 'VSYNC_KEY']
        .map((name) => `export ${name}='${env[name]}'\n`)
        .join('');
      writeFileSync(join(base, 'env.sh'), `${exports}export PATH='${join(root, 'bin')}':"$PATH"\ncd '${repo}'\n`, { mode: 0o600 });
    }
    return;
  }
  rmSync(base, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * The last word when `daemon stop` failed: the pid in the agent's lock beside its socket
 * (daemon/fs/lock-file.ts: `<host> <pid> <nonce>`), killed only if that process is this walk's agent.
 */
function killOurAgent() {
  let pid;
  try {
    pid = Number(readFileSync(join(base, 'run', 'vsyncd.lock'), 'utf8').split(' ')[1]);
  } catch {
    return; // no lock: no agent holds the socket
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return;
  let ours;
  try {
    ours = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`VSYNC_SOCKET=${env.VSYNC_SOCKET}`);
  } catch {
    ours = existsSync('/proc/self') ? false : spawnSync('ps', ['-p', String(pid), '-o', 'command=']).stdout?.toString().includes('daemon/main.js');
  }
  if (!ours) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

function quiet(file, argv, options) {
  return new Promise((resolve) => {
    const child = spawn(file, argv, { stdio: 'ignore', ...options });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}
