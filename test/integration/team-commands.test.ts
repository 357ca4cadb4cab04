// What teams ask for next, with the real programs: the real `vsync` as a child process, two teammates' real
// agents on real sockets, keys in a real Secret Service, on the directory store and on Ceph RGW. `diff` (the
// folder against the version synced here, two versions, values masked unless asked for), and `run` (a command
// started with the vault's variables, its exit code vsync's, signals passed on, nothing written).
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exitCodes } from '../../shared/errors.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { vsync } from '../helpers/cli.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { aliceAndBob, repoOf, shareConfig, teamStore, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';
import { PATIENCE_MS } from '../helpers/patience.js';
import { startAgent, type Agent } from '../helpers/agent.js';

const exec = promisify(execFile);
const TS = /(\d{8}-\d{6})/;

/** Alice (who has run init) and Bob, each with an agent, on `store`. */
async function team(t: TestContext, store: 'dir' | 's3', prefix: string, agents: Parameters<typeof aliceAndBob>[2] = {}) {
  const { base, repoName, a, b } = await aliceAndBob(t, `vsync-${prefix}-${store}-`, agents);
  return { base, repoName, a, b, remote: await initOn(t, store, a, prefix) };
}

/** Alice alone (her agent with `env`), who has run init on `store`: a teammate comes later, if at all. */
async function alone(t: TestContext, store: 'dir' | 's3', prefix: string, env: Record<string, string> = {}) {
  const { base, cleanup } = tempBase(`vsync-${prefix}-${store}-`);
  const repoName = `it_${randomBytes(4).toString('hex')}`;
  const a = await user(base, 'alice', repoName, env);
  t.teardown(async () => {
    await a.agent.stop();
    for (const account of [`${repoName}/dev`, `${repoName}/dev.next`]) {
      await exec('secret-tool', ['clear', 'service', 'tools.vsync', 'username', account]).catch(() => undefined);
    }
    cleanup();
  });
  return { base, repoName, a, remote: await initOn(t, store, a, prefix) };
}

async function initOn(t: TestContext, store: 'dir' | 's3', a: User, prefix: string) {
  const { initArgs, remote } = await teamStore(t, store, a.home, prefix);
  const init = await a.cli(initArgs);
  t.equal(init.code, 0, init.stderr);
  return remote;
}

async function pushed(t: TestContext, u: User): Promise<string> {
  const res = await u.cli(['push', 'dev']);
  t.equal(res.code, 0, res.stderr);
  return TS.exec(res.stdout.trim().split('\n').at(-1) ?? '')?.[1] ?? 'missing';
}

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

/** The key text the Secret Service holds for `account`, or undefined. */
async function keyring(account: string): Promise<string | undefined> {
  return exec('secret-tool', ['lookup', 'service', 'tools.vsync', 'username', account]).then(
    (r) => r.stdout.trim() || undefined,
    () => undefined,
  );
}

/** Waits for the agent to say `text` on its output (its log). */
async function says(agent: Agent, text: string): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!agent.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`the agent never said ${JSON.stringify(text)}:\n${agent.output()}`);
    await sleep(20);
  }
}

function rotations(t: TestContext, store: 'dir' | 's3'): void {
  const where = store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)';
  t.test(`key rotate on the ${where}: the team's day`, async (t) => {
    const { base, repoName, a, remote } = await alone(t, store, 'rotate');
    const account = `${repoName}/dev`;
    writeFileSync(a.envFile(), 'A=1\n');
    const v0 = await pushed(t, a);
    const oldKey = (await keyring(account))!;
    // Bob is a CI runner: his key comes from VSYNC_KEY.
    const b = await user(base, 'bob', repoName, { VSYNC_KEY: oldKey });
    t.teardown(() => b.agent.stop());
    shareConfig(a, b, repoOf(a));
    t.equal((await b.cli(['pull', 'dev'])).code, 0);

    const refused = await a.cli(['key', 'rotate', 'dev', '--reencrypt-history']);
    t.equal(refused.code, exitCodes.usage);
    t.match(refused.stderr, /--reencrypt-history: not done\. A version object is never rewritten/);

    const rotated = await a.cli(['key', 'rotate', 'dev']);
    t.equal(rotated.code, 0, rotated.stderr);
    const lines = rotated.stdout.trimEnd().split('\n');
    const version = new RegExp(`re-encrypting it as version ${TS.source} under a new key`).exec(rotated.stdout)?.[1] ?? 'missing';
    t.match(lines[0], /^\[1\/5\] reading pointer .*\/dev\/latest$/);
    t.equal(lines[1], `[2/5] downloading version ${v0} (${repoName}/dev/versions/${v0}.enc)`);
    t.match(lines[2], new RegExp(`^\\[3/5\\] re-encrypting it as version ${version} under a new key → .*/versions/${version}\\.enc$`));
    t.match(lines[3], /^\[4\/5\] updating pointer → /);
    t.match(lines[4], /^\[5\/5\] recording the new key: .*\/dev\/keys, .*env_dev, the keychain \(secret-service\)$/);
    t.equal(lines[5], `✅ rotated the key of ${repoName}/dev: version ${version} holds version ${v0} under the new key (secret-service)`);
    t.match(rotated.stdout, /next:\n {2}vsync key export dev/);
    const newKey = await keyring(account);
    t.ok(newKey && newKey !== oldKey, 'a new key in the Secret Service');
    t.equal(await keyring(`${account}.next`), undefined, 'nothing left waiting');
    t.equal((await remote.get(`${repoName}/dev/latest`)).body.toString(), version);
    t.match(JSON.parse((await remote.get(`${repoName}/dev/keys`)).body.toString()), {
      version: 1,
      keys: [{ since: null }, { since: version }],
    });

    // Bob, on the old key: told so, never "decryption failed"; nothing written.
    const bobPull = await b.cli(['pull', 'dev']);
    t.equal(bobPull.code, exitCodes.keychain);
    t.match(
      bobPull.stderr,
      /vsync: error: this vault's key was rotated, and this machine holds an earlier one: version .* is under a later key/,
    );
    t.match(bobPull.stderr, /vsync: hint: ask a teammate who has the new key for a share file/);
    t.equal(readFileSync(b.envFile(), 'utf8'), 'A=1\n');
    writeFileSync(b.envFile(), 'A=bob\n');
    const bobForce = await b.cli(['push', 'dev', '--force']);
    t.equal(bobForce.code, exitCodes.keychain, 'not even --force');
    t.equal((await remote.get(`${repoName}/dev/latest`)).body.toString(), version);
    t.match((await b.cli(['versions', 'dev'])).stdout, new RegExp(`\\* ${version} .*\\(later key: import a share file of it\\)`));

    // Alice: her own old version is under the retired key; versions says which.
    const old = await a.cli(['pull', 'dev', '--at', v0]);
    t.equal(old.code, exitCodes.keychain);
    t.match(old.stderr, /the version is encrypted under an earlier key of this vault/);
    t.match((await a.cli(['versions', 'dev'])).stdout, new RegExp(`  ${v0} .*\\(earlier key\\)`));
    t.match((await a.cli(['log', 'dev'])).stdout, new RegExp(`key rotated: version ${v0} re-encrypted under the new key`));

    // Bob's runner gets the new key and config: it pulls again.
    await b.agent.stop();
    shareConfig(a, b, repoOf(a));
    b.agent = await startAgent({ home: b.home, socket: b.env.VSYNC_SOCKET!, env: { VSYNC_KEY: newKey! } });
    const again = await b.cli(['pull', 'dev', '--force']);
    t.equal(again.code, 0, again.stderr);
    t.equal(readFileSync(b.envFile(), 'utf8'), 'A=1\n');
  });

  // Every step is killed in the unit tests (key-rotate.test.ts); here a real kill before the commit point and
  // after it on the directory store, and at it on RGW.
  const steps = store === 'dir' ? (['version-written', 'config-written'] as const) : (['latest-moved'] as const);
  for (const step of steps) {
    const committed = step !== 'version-written';
    t.test(`key rotate on the ${where}: the agent killed after ${step}, ${committed ? 'the new' : 'the old'} key works`, async (t) => {
      const { repoName, a, remote } = await alone(t, store, `kill${step.length}`, { VSYNC_TEST_ROTATION_HOLD: step });
      const account = `${repoName}/dev`;
      writeFileSync(a.envFile(), 'A=1\n');
      const v0 = await pushed(t, a);
      const oldKey = await keyring(account);
      const rotating = spawn(process.execPath, [fileURLToPath(built(CLI)), 'key', 'rotate', 'dev'], {
        cwd: a.repo,
        env: childEnv(a.env),
        stdio: 'ignore',
      });
      const ended = once(rotating, 'exit');
      await says(a.agent, `key rotation held after ${step}`);
      await a.agent.stop('SIGKILL');
      await ended;
      t.ok(await keyring(`${account}.next`), 'the new key waits in the keychain');

      a.agent = await startAgent({ home: a.home, socket: a.env.VSYNC_SOCKET! });
      const pulled = await a.cli(['pull', 'dev']);
      t.equal(pulled.code, 0, `the next command works: ${pulled.stderr}`);
      t.equal(readFileSync(a.envFile(), 'utf8'), 'A=1\n');
      const key = await keyring(account);
      if (committed) t.not(key, oldKey, 'the rotation was finished: the new key is the key');
      else t.equal(key, oldKey, 'the rotation was undone: the old key is the key');
      t.equal(await keyring(`${account}.next`), undefined, 'nothing left waiting');
      const latest = (await remote.get(`${repoName}/dev/latest`)).body.toString();
      t.equal(latest === v0, !committed, committed ? 'latest is the re-encrypted copy' : 'latest is where it was');
      const listed = await remote.list(`${repoName}/dev/versions/`);
      t.equal(listed.length, committed ? 2 : 1, committed ? 'the copy stays' : "the rotation's own version is removed");
    });
  }

  t.test(`key rotate on the ${where}: a teammate pushes during the rotation, which changes nothing`, async (t) => {
    const { base, repoName, a, remote } = await alone(t, store, 'race', { VSYNC_TEST_ROTATION_HOLD: 'version-written' });
    const account = `${repoName}/dev`;
    writeFileSync(a.envFile(), 'A=1\n');
    await pushed(t, a);
    const oldKey = (await keyring(account))!;
    const b = await user(base, 'bob', repoName, { VSYNC_KEY: oldKey });
    t.teardown(() => b.agent.stop());
    shareConfig(a, b, repoOf(a));
    t.equal((await b.cli(['pull', 'dev'])).code, 0);
    const rotating = vsync(['key', 'rotate', 'dev'], { cwd: a.repo, env: a.env });
    await says(a.agent, 'key rotation held after version-written');
    writeFileSync(b.envFile(), 'A=bob\n');
    const bobs = await pushed(t, b);
    a.agent.child.kill('SIGUSR2');
    const raced = await rotating;
    t.equal(raced.code, exitCodes.conflict);
    t.match(raced.stderr, new RegExp(`latest moved to ${bobs} during the rotation; nothing changed \\(the old key is still the key\\)`));
    t.equal(await keyring(account), oldKey);
    t.equal(await keyring(`${account}.next`), undefined);
    t.equal((await remote.get(`${repoName}/dev/latest`)).body.toString(), bobs);
    await t.rejects(remote.get(`${repoName}/dev/keys`), { code: 'STORAGE_NOT_FOUND' });
    const pulled = await a.cli(['pull', 'dev', '--force']);
    t.equal(pulled.code, 0, pulled.stderr);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'A=bob\n');
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) {
  diffs(t, 'dir');
  runs(t, 'dir');
  logs(t, 'dir');
  rotations(t, 'dir');
  offline(t);
  if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) {
    diffs(t, 's3');
    runs(t, 's3');
    logs(t, 's3');
    rotations(t, 's3');
  }
}
