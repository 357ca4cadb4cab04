// What teams ask for next, with the real programs: the real `vsync` as a child process, two teammates' real
// agents on real sockets, keys in a real Secret Service, on the directory store and on Ceph RGW. `diff` (the
// folder against the version synced here, two versions, values masked unless asked for), and `run` (a command
// started with the vault's variables, its exit code vsync's, signals passed on, nothing written), and `log`
// (who pushed what). key rotate has its own suite (key-rotate.test.ts).
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { exitCodes } from '../../shared/errors.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { vsync } from '../helpers/cli.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { repoOf, shareConfig, user, type User } from '../helpers/teammates.js';
import { exec, pushed, team } from '../helpers/team-vault.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';
import { PATIENCE_MS } from '../helpers/patience.js';

function diffs(t: TestContext, store: 'dir' | 's3'): void {
  t.test(`diff on the ${store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)'}`, async (t) => {
    const { a, b } = await team(t, store, 'diff');
    writeFileSync(a.envFile(), 'DB_PASSWORD=hunter2\nAPI_KEY=abc123\n# staging\n');
    writeFileSync(join(a.repo, 'infra', 'vault', 'dev', 'tls.key'), 'KEY-ONE');
    const v1 = await pushed(t, a);

    const same = await a.cli(['diff', 'dev']);
    t.equal(same.code, 0, same.stderr);
    t.equal(same.stdout, `no differences: version ${v1} → infra/vault/dev/\n`);

    writeFileSync(a.envFile(), 'DB_PASSWORD=hunter3\nNEW_FLAG=on\n# staging\n');
    writeFileSync(join(a.repo, 'infra', 'vault', 'dev', 'tls.key'), 'KEY-TWO!');
    const edited = await a.cli(['diff', 'dev']);
    t.equal(edited.code, 1, 'differs: exit 1, as diff(1)');
    const lines = edited.stdout.trimEnd().split('\n');
    t.equal(lines[0], `version ${v1} → infra/vault/dev/`);
    t.equal(lines[1], '~ .env.dev (45 B → 42 B)');
    t.match(lines[2], /^ {4}- API_KEY was ‹6 chars #[0-9a-f]{8}›$/);
    t.match(lines[3], /^ {4}~ DB_PASSWORD: ‹7 chars #([0-9a-f]{8})› → ‹7 chars #(?!\1)[0-9a-f]{8}›$/, 'another value, another fingerprint');
    t.match(lines[4], /^ {4}\+ NEW_FLAG = ‹2 chars #[0-9a-f]{8}›$/);
    t.equal(lines[5], '~ tls.key (7 B → 8 B)');
    t.equal(lines.length, 6);
    t.notMatch(edited.stdout, /hunter|abc123|\bon\b|KEY-/, 'no value printed');

    const piped = await a.cli(['diff', 'dev', '--show-values']);
    t.equal(piped.code, exitCodes.usage, 'values into a pipe: refused');
    t.match(piped.stderr, /--show-values prints secrets, and stdout is not a terminal: add --yes/);
    t.equal(piped.stdout, '');
    const shown = await a.cli(['diff', 'dev', '--show-values', '--yes']);
    t.equal(shown.code, 1);
    t.match(shown.stdout, '    ~ DB_PASSWORD: "hunter2" → "hunter3"\n');

    const json = await a.cli(['diff', '--json', 'dev']);
    t.equal(json.code, 1);
    const answer = JSON.parse(json.stdout) as {
      same: boolean;
      files: Array<{ path: string; keys?: Array<{ name: string; to?: { value?: string } }> }>;
    };
    t.equal(answer.same, false);
    t.same(
      answer.files.map((f) => f.path),
      ['.env.dev', 'tls.key'],
    );
    t.notOk(JSON.stringify(answer).includes('hunter'), 'JSON holds no value either');

    const v2 = await pushed(t, a);
    const between = await a.cli(['diff', 'dev', v1, v2]);
    t.equal(between.code, 1);
    t.equal(between.stdout.split('\n')[0], `version ${v1} → version ${v2}`);
    t.match(between.stdout, /~ DB_PASSWORD/);

    // Bob, who has synced nothing: his (absent) folder against latest.
    shareConfig(a, b, repoOf(a));
    const bobs = await b.cli(['diff', 'dev']);
    t.equal(bobs.code, 1, bobs.stderr);
    t.equal(
      bobs.stdout,
      `version ${v2} → infra/vault/dev/ (not there)\n- .env.dev (42 B)\n    - DB_PASSWORD was ‹7 chars #${/DB_PASSWORD: ‹7 chars #[0-9a-f]{8}› → ‹7 chars #([0-9a-f]{8})›/.exec(edited.stdout)![1]}›\n    - NEW_FLAG was ‹2 chars #${/NEW_FLAG = ‹2 chars #([0-9a-f]{8})›/.exec(edited.stdout)![1]}›\n- tls.key (8 B)\n`,
      'the same values, the same fingerprints, on another machine',
    );

    // After `vsync lock`, a command the user runs unlocks the key again, as push and pull do.
    t.match((await a.cli(['lock'])).stdout, /locked \(1 key dropped\)/);
    const afterLock = await a.cli(['diff', 'dev', v1, v2]);
    t.equal(afterLock.code, 1, afterLock.stderr);
    t.match((await a.cli(['status'])).stdout, new RegExp(`keys: unlocked for ${repoOf(a)}/dev`));

    const unknown = await a.cli(['diff', 'dev', '20200101-000000']);
    t.equal(unknown.code, exitCodes.storage);
    t.match(unknown.stderr, /no such version in the store: .*20200101-000000\.enc\nvsync: hint: list the versions/);
    const noConfig = await a.cli(['diff', 'qa']);
    t.equal(noConfig.code, exitCodes.config);
  });
}

/** `vsync run` as a child we can signal: its pid, its output, its exit. */
function runChild(u: User, args: string[]) {
  const child = spawn(process.execPath, [fileURLToPath(built(CLI)), 'run', ...args], {
    cwd: u.repo,
    env: childEnv(u.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, output: () => out, exited };
}

/** Waits for `file` to exist: the event a child announces itself ready with. */
async function appears(file: string): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} never appeared`);
    await sleep(10);
  }
}

function runs(t: TestContext, store: 'dir' | 's3'): void {
  t.test(`run on the ${store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)'}`, async (t) => {
    const { base, a, b } = await team(t, store, 'run');
    writeFileSync(a.envFile(), 'EXIT_WITH=7\nGREETING="hello\nworld"\nSHARED=from-file\n');
    const printer = [
      'node',
      '-e',
      'console.log(JSON.stringify([process.env.GREETING, process.env.SHARED])); process.exit(Number(process.env.EXIT_WITH))',
    ];
    const before = readdirSync(a.repo).sort();

    const ran = await a.cli(['run', 'dev', '--', ...printer]);
    t.equal(ran.code, 7, "the command's exit code is vsync's");
    t.equal(ran.stdout, '["hello\\nworld","from-file"]\n', 'its stdout is the command');
    t.equal(ran.stderr, '');
    t.same(readdirSync(a.repo).sort(), before, 'no .env written');

    const withOurs = { ...a.env, SHARED: 'from-shell' };
    const ours = await vsync(['run', 'dev', ...printer], { cwd: a.repo, env: withOurs });
    t.equal(ours.stdout, '["hello\\nworld","from-shell"]\n', 'a variable already set wins');
    const overridden = await vsync(['run', 'dev', '--override', ...printer], { cwd: a.repo, env: withOurs });
    t.equal(overridden.stdout, '["hello\\nworld","from-file"]\n', 'unless --override');

    // A teammate with no folder: --latest reads the store's version in memory.
    const version = await pushed(t, a);
    writeFileSync(a.envFile(), 'EXIT_WITH=0\nGREETING=unpushed\nSHARED=x\n');
    shareConfig(a, b, repoOf(a));
    const latest = await b.cli(['run', 'dev', '--latest', ...printer]);
    t.equal(latest.code, 7, latest.stderr);
    t.equal(latest.stdout, '["hello\\nworld","from-file"]\n', `version ${version}'s values, not Alice's unpushed edit`);
    t.notOk(existsSync(join(b.repo, 'infra')), 'nothing written on the way');
    const bobFolder = await b.cli(['run', 'dev', 'true']);
    t.equal(bobFolder.code, exitCodes.usage);
    t.match(bobFolder.stderr, /the env file to run with is not there: infra\/vault\/dev\/\.env\.dev/);

    const missing = await a.cli(['run', 'dev', '--', 'no-such-command-here']);
    t.equal(missing.code, 127);
    t.match(missing.stderr, /vsync: error: the command could not be started: "no-such-command-here": ENOENT/);

    // Signals sent to vsync reach the command; vsync exits as it does.
    const ready = join(base, 'ready');
    const heard = join(base, 'heard');
    const listener = `
      const fs = require('node:fs');
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => { fs.writeFileSync(${JSON.stringify(heard)}, s); process.exit(42); });
      fs.writeFileSync(${JSON.stringify(ready)}, 'up');
      setInterval(() => {}, 1000);`;
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      for (const f of [ready, heard]) rmSync(f, { force: true });
      const running = runChild(a, ['dev', '--', 'node', '-e', listener]);
      await appears(ready);
      running.child.kill(signal);
      const [code] = await running.exited;
      t.equal(code, 42, `${signal}: vsync exits with the command's code (${running.output()})`);
      t.equal(readFileSync(heard, 'utf8'), signal, `${signal}: the command heard it`);
    }
    const killed = await a.cli(['run', 'dev', '--', 'sh', '-c', 'kill -TERM $$']);
    t.equal(killed.code, 128 + 15, 'a command a signal ended: 128 + n');

    const json = await a.cli(['run', '--json', 'dev', 'true']);
    t.equal(json.code, exitCodes.usage);
    t.match(json.stderr, /run has no --json: it would print secrets/);
  });
}

function logs(t: TestContext, store: 'dir' | 's3'): void {
  t.test(`log on the ${store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)'}`, async (t) => {
    // Bob's agent leaves his hostname out of his entries.
    const { repoName, a, b, remote } = await team(t, store, 'log', { bob: { VSYNC_LOG_HOSTNAME: '0' } });
    await exec('git', ['-C', a.repo, 'config', 'user.email', 'alice@example.com']);
    writeFileSync(a.envFile(), 'DB=one\nAPI=k\n');
    const v1 = await pushed(t, a);
    shareConfig(a, b, repoOf(a));
    t.equal((await b.cli(['pull', 'dev'])).code, 0);
    writeFileSync(b.envFile(), 'DB=two\nAPI=k\nNEW=x\n');
    const v2 = await pushed(t, b);

    const listed = await a.cli(['log', 'dev']);
    t.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split('\n');
    t.match(lines[0], /versions\/ \(2 versions\)$/);
    t.match(
      lines[1],
      new RegExp(`^\\* ${v2} \\d+ B (just now|\\d+m ago)  ${userInfo().username} on [0-9a-f]{16}$`),
      'bob: no git email, no hostname: the user name',
    );
    t.equal(lines[2], '      .env.dev (~DB, +NEW)');
    t.match(lines[3], new RegExp(`^  ${v1} \\d+ B (just now|\\d+m ago)  alice@example\\.com on \\S+ \\([0-9a-f]{16}\\)$`));
    t.equal(lines[4], '      .env.dev (added)');
    t.notMatch(listed.stdout, /one|two|=x/, 'no value');

    // A version whose entry is gone (as one pushed by the upstream tool): who is unknown, what is read from it.
    await remote.delete(`${repoName}/dev/log/${v2}.enc`);
    const json = await a.cli(['log', '--json', 'dev', '--limit', '1']);
    t.equal(json.code, 0, json.stderr);
    t.match(JSON.parse(json.stdout), { latest: v2, more: 1, entries: [{ ts: v2, entry: 'missing', summary: '.env.dev (~DB, +NEW)' }] });
    t.match((await a.cli(['log', 'dev'])).stdout, /unknown \(no log entry: pushed by the upstream tool or an older vsync\)/);

    const bad = await a.cli(['log', 'dev', '--limit', '0']);
    t.equal(bad.code, exitCodes.usage);
    t.match(bad.stderr, /--limit "0": a whole number from 1 to 1000/);
  });
}

function offline(t: TestContext): void {
  t.test('run --latest with the store out of reach: said, and the folder only with --offline-ok', async (t) => {
    const { base, cleanup } = tempBase('vsync-offline-');
    const repoName = `it_${randomBytes(4).toString('hex')}`;
    // Nothing listens on port 9 (discard): every request is refused, and the agent gives up within a second.
    const u = await user(base, 'olga', repoName, {
      VSYNC_STORAGE_TIMEOUT_SECONDS: '1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
    });
    t.teardown(async () => {
      await u.agent.stop();
      await exec('secret-tool', ['clear', 'service', 'tools.vsync', 'username', `${repoName}/dev`]).catch(() => undefined);
      cleanup();
    });
    const init = await u.cli([
      'init',
      'dev',
      '--bucket',
      'nowhere',
      '--endpoint',
      'http://127.0.0.1:9',
      '--region',
      'us-east-1',
      '--path-style',
    ]);
    t.equal(init.code, 0, init.stderr);
    writeFileSync(u.envFile(), 'WHERE=local folder\n');
    const printer = ['node', '-e', 'console.log(process.env.WHERE)'];
    const refused = await u.cli(['run', 'dev', '--latest', '--', ...printer]);
    t.equal(refused.code, exitCodes.storage);
    t.match(
      refused.stderr,
      /vsync: error: the store did not answer in time .*\nvsync: hint: .*or add --offline-ok to use infra\/vault\/dev\/\.env\.dev here instead/s,
    );
    t.equal(refused.stdout, '', 'nothing started');
    const fellBack = await u.cli(['run', 'dev', '--latest', '--offline-ok', '--', ...printer]);
    t.equal(fellBack.code, 0, fellBack.stderr);
    t.equal(fellBack.stdout, 'local folder\n');
    t.match(
      fellBack.stderr,
      /^vsync: warning: the store did not answer in time.*; using \.env\.dev from the vault folder here \(--offline-ok\)\n$/s,
    );
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) {
  diffs(t, 'dir');
  runs(t, 'dir');
  logs(t, 'dir');
  offline(t);
  if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) {
    diffs(t, 's3');
    runs(t, 's3');
    logs(t, 's3');
  }
}
