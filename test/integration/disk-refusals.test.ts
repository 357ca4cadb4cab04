// The local disk says no (issue 10 §5), with the real programs run as a real unprivileged user: root is not
// stopped by a folder's mode, so a second user is made with useradd (other-user.ts), and the agent and the
// CLI run as it (setpriv) with a HOME and a checkout it owns, on the directory store, keys from VSYNC_KEY.
// The file system then really refuses: folders chmod 500, a 64 KiB tmpfs in the agent's own mount namespace
// (unshare -m) for ENOSPC, a repo path so long that the names beside the vault folder do not fit.
//
// Every refusal must be coded (FILE_SYSTEM_REFUSED, or a store code for the store), never INTERNAL, and lose
// nothing: the vault folder's parent holds exactly what it held, with no staging folder left. A swap cut
// short is put back when the agent starts, before it answers its first request.
import t from 'tap';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call } from '../helpers/agent.js';
import { CLI, built } from '../helpers/built.js';
import { createOtherUser, otherUserUnavailable } from '../helpers/other-user.js';
import { PATIENCE_MS, waitUntil } from '../helpers/patience.js';
import { reapOnExit } from '../helpers/reaper.js';
import type { TestContext } from '../helpers/tap-types.js';

const unavailable = otherUserUnavailable();
if (unavailable) {
  t.plan(0, unavailable);
  process.exit(0);
}

const who = createOtherUser('vsd');
const base = mkdtempSync(join(tmpdir(), 'vsync-disk-'));
chmodSync(base, 0o755); // the user reaches its own folders inside
t.teardown(() => {
  // Whatever a test left read only, root removes; then the user goes.
  rmSync(base, { recursive: true, force: true });
  who.remove();
});

// tap's process-info hook adds itself to every child's NODE_OPTIONS and writes under the project at exit,
// which the user may not: `env -u` keeps it out of the user's processes.
const ids = [`--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups', '--', 'env', '-u', 'NODE_OPTIONS'];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface Place {
  readonly home: string;
  readonly repo: string;
  readonly parent: string; // <repo>/infra/vault
  readonly folder: string; // <repo>/infra/vault/dev
  readonly env: Record<string, string>;
  readonly socket: string;
  cli(args: string[]): Promise<Run>;
  /** The code of a failed --json run (or 'ok'). */
  codeOf(args: string[]): Promise<string>;
  startAgent(options?: { tmpfs?: { dir: string; size: string } }): Promise<Agent>;
}

interface Agent {
  readonly child: ChildProcess;
  output(): string;
  /** Runs a command in the agent's mount namespace (what it sees of a tmpfs), as root. */
  inside(command: string, args: string[]): string;
  stop(): Promise<void>;
}

let counter = 0;

/** A fresh HOME with a git checkout, owned by the user, and an agent runner for it. */
async function place(t: TestContext, options: { rootLength?: number } = {}): Promise<Place> {
  const dir = join(base, `c${++counter}`);
  const home = join(dir, 'home');
  let repo = join(home, 'projects', 'myrepo');
  if (options.rootLength !== undefined) {
    // Components of at most 200 characters (NAME_MAX is 255), to a root of exactly rootLength characters.
    while (repo.length < options.rootLength) repo = join(repo, 'd'.repeat(Math.min(200, options.rootLength - repo.length - 1)));
  }
  mkdirSync(repo, { recursive: true });
  writeFileSync(join(repo, '.vsync'), `repo=disk_${randomBytes(4).toString('hex')}\n`);
  execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, dir]);
  chmodSync(dir, 0o700);
  const socket = join(dir, 'run', 's.sock');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    VSYNC_SOCKET: socket,
    VSYNC_KEY: randomBytes(32).toString('base64'),
    VSYNC_NO_AUTOSTART: '1',
    NO_COLOR: '1',
  };
  // git cannot make its own files under a root that long; outside git, the folder holding `.vsync` is the root.
  if (options.rootLength === undefined) execFileSync('setpriv', [...ids, 'git', 'init', '-q', repo], { env, stdio: 'pipe' });
  const agents: Agent[] = [];
  t.teardown(async () => {
    for (const a of agents) await a.stop();
  });
  const cli = (args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        'setpriv',
        [...ids, process.execPath, fileURLToPath(built(CLI)), ...args],
        { cwd: repo, env, timeout: PATIENCE_MS, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  return {
    home,
    repo,
    parent: join(repo, 'infra', 'vault'),
    folder: join(repo, 'infra', 'vault', 'dev'),
    env,
    socket,
    cli,
    codeOf: async (args) => {
      const res = await cli([...args, '--json']);
      if (res.code === 0) return 'ok';
      const line = res.stderr.split('\n').find((l) => l.startsWith('{"error"'));
      return line ? (JSON.parse(line) as { error: { code: string } }).error.code : `unparsed (exit ${res.code}): ${res.stderr}`;
    },
    startAgent: async (opts = {}) => {
      const daemon = fileURLToPath(built('daemon/main'));
      let child: ChildProcess;
      if (opts.tmpfs) {
        // A private mount namespace: the tmpfs exists for this agent only, and goes with it. What was in the
        // folder is copied onto the tmpfs first, so the agent sees the same files on a nearly full disk.
        const { dir, size } = opts.tmpfs;
        const stash = `${dir}.stash`;
        const script = [
          'set -e',
          `mkdir -p "$1"`,
          `cp -a "$1" "${stash}"`,
          `mount -t tmpfs -o size=${size},mode=0700,uid=${who.uid},gid=${who.gid} tmpfs "$1"`,
          `cp -a "${stash}/." "$1/"`,
          `chown ${who.uid}:${who.gid} "$1"`, // cp -a gave the mount the stash's owner (root, for a folder made here)
          `chmod 700 "$1"`,
          `rm -rf "${stash}"`,
          `exec setpriv ${ids.join(' ')} "$2" "$3"`,
        ].join('\n');
        child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir, process.execPath, daemon], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } else {
        child = spawn('setpriv', [...ids, process.execPath, daemon], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      }
      reapOnExit(child.pid);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      const agent: Agent = {
        child,
        output: () => out,
        inside: (command, args) => execFileSync('nsenter', ['-t', String(child.pid), '-m', '--', command, ...args], { encoding: 'utf8' }),
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
      agents.push(agent);
      await waitUntil(async () => {
        if (child.exitCode !== null) throw new Error(`vsyncd exited:\n${out}`);
        return call(socket, 'GET', '/v1/status').then(
          (r) => r.status === 200,
          () => false,
        );
      }, 'the agent answers status');
      return agent;
    },
  };
}

/** Every file and folder under `dir` with a digest of each file: what must not change. */
function tree(dir: string): Record<string, string> | undefined {
  if (!existsSync(dir)) return undefined;
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out[`${name}/`] = '';
        walk(join(d, entry.name), name);
      } else
        out[name] = createHash('sha256')
          .update(readFileSync(join(d, entry.name)))
          .digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** The same, read from inside an agent's mount namespace. */
function treeInside(agent: Agent, dir: string): string {
  return agent.inside('sh', ['-c', `cd "$1" && find . -print | sort && find . -type f -exec sha256sum {} + | sort`, 'sh', dir]);
}

/** Writes `files` as the vault folder's whole content, owned by the user. */
function write(p: Place, files: Record<string, string | Buffer>): void {
  rmSync(p.folder, { recursive: true, force: true });
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(dirname(join(p.folder, name)), { recursive: true });
    writeFileSync(join(p.folder, name), data);
  }
  execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, join(p.repo, 'infra')]);
}

async function ok(t: TestContext, p: Place, args: string[]): Promise<Record<string, unknown>> {
  const res = await p.cli([...args, '--json']);
  t.equal(res.code, 0, `vsync ${args.join(' ')}: ${res.stderr}`);
  return res.code === 0 ? (JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, unknown>) : {};
}

/** A checkout with an agent, an initialised vault, and two versions pushed: v1 and v2 (the folder holds v2). */
async function twoVersions(t: TestContext, p: Place, v1: Record<string, string | Buffer>, v2: Record<string, string | Buffer>) {
  const agent = await p.startAgent();
  await ok(t, p, ['init', 'dev']);
  write(p, v1);
  const first = String((await ok(t, p, ['push', 'dev'])).version);
  write(p, v2);
  const second = String((await ok(t, p, ['push', 'dev'])).version);
  return { agent, first, second };
}

const V1 = { '.env.dev': 'API_KEY=one\n', 'certs/ca.pem': 'v1\n' };
const V2 = { '.env.dev': 'API_KEY=two\n', 'extra.txt': 'only in v2\n' };

/** Refused with a code, never INTERNAL; the vault folder's parent exactly as before (no staging left). */
async function refusedLosingNothing(t: TestContext, p: Place, args: string[], why: RegExp): Promise<void> {
  const before = tree(p.parent);
  const res = await p.cli([...args, '--json']);
  const line = res.stderr.split('\n').find((l) => l.startsWith('{"error"')) ?? res.stderr;
  t.match(line, /"code":"FILE_SYSTEM_REFUSED"/, `vsync ${args.join(' ')} is refused with FILE_SYSTEM_REFUSED (not INTERNAL)`);
  t.match(line, why, 'naming the call, the path and the errno');
  t.same(tree(p.parent), before, 'the vault folder and its siblings are as before');
}

t.test('the backups folder cannot be made (its parent is chmod 500): pull refused, folder unchanged', async (t) => {
  const p = await place(t);
  const { first } = await twoVersions(t, p, V1, V2);
  const configRoot = join(p.home, '.config', 'vsync');
  chmodSync(configRoot, 0o500);
  t.teardown(() => chmodSync(configRoot, 0o700));
  await refusedLosingNothing(t, p, ['pull', 'dev', '--at', first], /mkdir .*\/\.config\/vsync\/backups.*: EACCES/);
  t.notOk(existsSync(join(configRoot, 'backups')), 'no backups folder');
});

t.test("the vault folder's parent is chmod 500: pull refused, folder unchanged, no staging", async (t) => {
  const p = await place(t);
  const { first } = await twoVersions(t, p, V1, V2);
  chmodSync(p.parent, 0o500);
  t.teardown(() => chmodSync(p.parent, 0o755));
  await refusedLosingNothing(t, p, ['pull', 'dev', '--at', first], /mkdtemp .*\.vsync-staging-dev-.*: EACCES/);
});

t.test('a vault folder holding a chmod 500 folder is pulled over: the pull succeeds, the old copy is left', async (t) => {
  const p = await place(t);
  const { first } = await twoVersions(t, p, V1, { ...V2, 'locked/inside.txt': 'cannot be removed by its owner\n' });
  chmodSync(join(p.folder, 'locked'), 0o500);
  t.equal(await p.codeOf(['pull', 'dev', '--at', first]), 'ok', 'the pull is done, though the old folder could not be removed');
  t.same(Object.keys(tree(p.folder)!).sort(), ['.env.dev', 'certs/', 'certs/ca.pem'], 'the folder holds v1');
  t.equal(readFileSync(join(p.folder, '.env.dev'), 'utf8'), V1['.env.dev']);
  const left = readdirSync(p.parent).filter((n) => /^\.vsync-old-dev-[0-9a-f]{8}$/.test(n));
  t.equal(left.length, 1, 'the old folder is left beside it');
  // The leftover never blocks what comes next: a push and a pull both work, and it stays (it cannot go).
  writeFileSync(join(p.folder, '.env.dev'), 'API_KEY=three\n');
  t.equal(await p.codeOf(['push', 'dev']), 'ok', 'push with the leftover beside the folder');
  t.equal(await p.codeOf(['pull', 'dev']), 'ok', 'pull with the leftover beside the folder');
  t.equal(readFileSync(join(p.folder, '.env.dev'), 'utf8'), 'API_KEY=three\n');
  t.same(
    readdirSync(p.parent).filter((n) => n.startsWith('.vsync-old-dev-')),
    left,
    'the leftover is still there, and no more',
  );
});

t.test('a leftover .vsync-old- that cannot be removed, beside the folder: the next pull works', async (t) => {
  const p = await place(t);
  const { first } = await twoVersions(t, p, V1, V2);
  const leftover = join(p.parent, '.vsync-old-dev-0badf00d');
  mkdirSync(join(leftover, 'locked'), { recursive: true });
  writeFileSync(join(leftover, 'locked', 'x'), 'x');
  execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, leftover]);
  chmodSync(join(leftover, 'locked'), 0o500);
  t.equal(await p.codeOf(['pull', 'dev', '--at', first]), 'ok', 'the pull is not failed by the leftover');
  t.equal(readFileSync(join(p.folder, '.env.dev'), 'utf8'), V1['.env.dev'], 'the folder holds v1');
  t.ok(existsSync(join(leftover, 'locked', 'x')), 'the leftover is left');
});

t.test('a leftover inside a chmod 500 vault parent: pull refused with a code, never INTERNAL', async (t) => {
  const p = await place(t);
  const { first } = await twoVersions(t, p, V1, V2);
  mkdirSync(join(p.parent, '.vsync-old-dev-0badf00d'));
  writeFileSync(join(p.parent, '.vsync-old-dev-0badf00d', 'x'), 'x');
  execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, p.parent]);
  chmodSync(p.parent, 0o500);
  t.teardown(() => chmodSync(p.parent, 0o755));
  await refusedLosingNothing(t, p, ['pull', 'dev', '--at', first], /EACCES/);
  t.equal(await p.codeOf(['push', 'dev']), 'ok', 'a push still works: it never writes beside the folder');
});

t.test('a cut swap is put back when the agent starts, before it answers', async (t) => {
  const p = await place(t);
  const { agent } = await twoVersions(t, p, V1, V2);
  await agent.stop();
  const whole = tree(p.folder);
  // As a SIGKILL between swapIn's two renames leaves it: the folder under its hidden name, staging beside.
  renameSync(p.folder, join(p.parent, '.vsync-old-dev-0123abcd'));
  mkdirSync(join(p.parent, '.vsync-staging-dev-AbC123'));
  writeFileSync(join(p.parent, '.vsync-staging-dev-AbC123', 'half'), 'half');
  execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, p.parent]);
  const again = await p.startAgent();
  // Read right after the agent answered status, before any vault command.
  t.same(tree(p.folder), whole, 'the folder is back, whole');
  t.same(readdirSync(p.parent), ['dev'], 'no leftover');
  t.match(again.output(), /startup repair: .*infra\/vault\/dev was left as .*\.vsync-old-dev-0123abcd/, 'the repair is logged');
});

t.test('a cut swap in a chmod 500 parent: the agent starts all the same, and says why it could not repair', async (t) => {
  const p = await place(t);
  const { agent } = await twoVersions(t, p, V1, V2);
  await agent.stop();
  renameSync(p.folder, join(p.parent, '.vsync-old-dev-0123abcd'));
  chmodSync(p.parent, 0o500);
  t.teardown(() => chmodSync(p.parent, 0o755));
  const again = await p.startAgent();
  t.match(again.output(), /startup repair of .*FILE_SYSTEM_REFUSED: .*rename .*EACCES/, 'logged, coded, not fatal');
  await refusedLosingNothing(t, p, ['pull', 'dev'], /rename .*\.vsync-old-dev-0123abcd.*: EACCES/);
  chmodSync(p.parent, 0o755);
  t.equal(await p.codeOf(['pull', 'dev']), 'ok', 'once the parent is writable again, the next pull puts the folder back and works');
  t.equal(readFileSync(join(p.folder, '.env.dev'), 'utf8'), V2['.env.dev'], 'the folder is back');
});

t.test('names too long: a repo root so long that staging beside the vault folder cannot be named', async (t) => {
  // 4060 characters: the folder's files fit PATH_MAX (4095), `.vsync-staging-dev-XXXXXX` beside it does not.
  const p = await place(t, { rootLength: 4060 });
  const { first } = await twoVersions(t, p, V1, V2);
  await refusedLosingNothing(t, p, ['pull', 'dev', '--at', first], /: ENAMETOOLONG/);
});

const noSpace = (() => {
  try {
    execFileSync('unshare', ['-m', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d" && rmdir "$d"'], {
      stdio: 'pipe',
    });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs in a private mount namespace here: ${(err as Error).message}`;
  }
})();

t.test('no space left: the backup does not fit', { skip: noSpace ?? false }, async (t) => {
  const p = await place(t);
  const big = { 'big.bin': randomBytes(100 * 1024) };
  const { agent, first } = await twoVersions(t, p, V1, big);
  await agent.stop();
  const backups = join(p.home, '.config', 'vsync', 'backups');
  const inside = await p.startAgent({ tmpfs: { dir: backups, size: '64k' } });
  t.equal(inside.inside('find', [backups, '-type', 'f']), '', 'no backup yet');
  await refusedLosingNothing(t, p, ['pull', 'dev', '--at', first], /: ENOSPC/);
  // The repo's (empty) backups folder may stay; a partial backup or a temp file may not.
  t.equal(inside.inside('find', [backups, '-type', 'f']), '', 'no partial backup or temp file left in the backups folder');
});

t.test('no space left: the pulled version does not fit beside the folder', { skip: noSpace ?? false }, async (t) => {
  const p = await place(t);
  const { agent, first } = await twoVersions(t, p, { 'a.bin': randomBytes(40 * 1024) }, { 'b.bin': randomBytes(40 * 1024) });
  await agent.stop();
  const inside = await p.startAgent({ tmpfs: { dir: p.parent, size: '64k' } });
  const before = treeInside(inside, p.parent);
  const res = await p.cli(['pull', 'dev', '--at', first, '--json']);
  t.match(res.stderr, /"code":"FILE_SYSTEM_REFUSED".*: ENOSPC/, 'refused with FILE_SYSTEM_REFUSED, ENOSPC');
  t.equal(treeInside(inside, p.parent), before, 'the folder as before, no staging left');
});

t.test('no space left: the store cannot take the version being pushed', { skip: noSpace ?? false }, async (t) => {
  const p = await place(t);
  const first = await p.startAgent();
  await ok(t, p, ['init', 'dev']);
  write(p, V1);
  await ok(t, p, ['push', 'dev']);
  await first.stop();
  write(p, { 'big.bin': randomBytes(100 * 1024) });
  const store = join(p.home, '.local', 'share', 'vsync', 'store');
  const inside = await p.startAgent({ tmpfs: { dir: store, size: '64k' } });
  const storeBefore = treeInside(inside, store);
  const folderBefore = tree(p.folder);
  // The directory store is a store: its disk running full is the store failing (retried, then STORAGE_TRANSIENT).
  t.equal(await p.codeOf(['push', 'dev']), 'STORAGE_TRANSIENT', 'refused with a store code, not INTERNAL');
  t.same(tree(p.folder), folderBefore, 'the folder as before');
  const after = treeInside(inside, store);
  t.equal(
    after
      .split('\n')
      .filter((l) => /latest/.test(l))
      .join('\n'),
    storeBefore
      .split('\n')
      .filter((l) => /latest/.test(l))
      .join('\n'),
    'latest did not move',
  );
});

t.test(
  "the vault folder is a mount point: the swap's rename is refused (EBUSY), the folder as before",
  { skip: noSpace ?? false },
  async (t) => {
    const p = await place(t);
    const { agent, first } = await twoVersions(t, p, V1, V2);
    await agent.stop();
    const inside = await p.startAgent({ tmpfs: { dir: p.folder, size: '1m' } });
    const before = treeInside(inside, p.parent);
    const res = await p.cli(['pull', 'dev', '--at', first, '--json']);
    t.match(res.stderr, /"code":"FILE_SYSTEM_REFUSED".*rename .*EBUSY/, 'refused, naming the rename and EBUSY');
    t.equal(treeInside(inside, p.parent), before, 'the folder as before, no staging or old copy left');
  },
);
