// OsKeychain against a real Secret Service: the keychain contract every adapter keeps (keychain-contract.ts), then
// what only this adapter does (one item per account, recovery with secret-tool, "unavailable" is not "not found").
// `npm test -- test/contract/keychain.test.ts` runs it inside the throwaway unlocked gnome-keyring on a private
// session bus that scripts/test.sh starts (it sets VSYNC_TEST_KEYRING); by hand:
//
//   bash scripts/with-keyring.sh npx tap test/contract/keychain.test.ts
//
// Without VSYNC_TEST_KEYRING the test is skipped, loudly, except under CI, where it fails: CI must run the real
// keyring path. Every entry the test creates is removed in teardown.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { isVsyncError } from '../../shared/errors.js';
import { KEYCHAIN_SERVICE, keychainAccount } from '../../daemon/keychain/keychain.js';
import { OsKeychain } from '../../daemon/keychain/os-keychain.js';
import { caught } from '../helpers/caught.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { PATIENCE_MS } from '../helpers/patience.js';
import { runKeychainContract } from './keychain-contract.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const adapterUrl = pathToFileURL(join(root, 'daemon/keychain/os-keychain.ts')).href;
const harness = join(root, 'scripts/with-keyring.sh');

const key = (): string => randomBytes(32).toString('base64');
const uniqueRepo = (): string => `vsync-contract-${randomBytes(6).toString('hex')}`;

async function secretTool(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('secret-tool', args, { encoding: 'utf8', timeout: PATIENCE_MS });
}

if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) {
  console.error(`# keychain contract: OsKeychain (${new OsKeychain().name}) on ${process.env.VSYNC_TEST_KEYRING}`);
  contract();
}

function contract(): void {
  const kc = new OsKeychain();
  const created = new Set<string>();
  const account = (repo: string, env: string): string => {
    const a = keychainAccount(repo, env);
    created.add(a);
    return a;
  };

  t.teardown(async () => {
    for (const a of created) {
      try {
        await kc.delete(a);
      } catch (err) {
        if (!isVsyncError(err, 'KEYCHAIN_NOT_FOUND')) throw err;
      }
      // Belt and braces: whatever the adapter missed.
      await secretTool('clear', 'service', KEYCHAIN_SERVICE, 'username', a).catch(() => undefined);
    }
  });

  t.test('name', async (t) => {
    t.equal(kc.name, 'secret-service');
  });

  // What every keychain promises (keychain-contract.ts); below it, what only the Secret Service adapter does.
  t.test('the keychain contract', async (t) => {
    runKeychainContract(t, kc);
  });

  t.test('overwrite keeps one item, and a second adapter sees it', async (t) => {
    const a = account(uniqueRepo(), 'dev');
    await kc.set(a, key());
    const k2 = key();
    await kc.set(a, k2);
    t.equal(await new OsKeychain().get(a), k2, 'a second adapter sees the new key');
    const { stdout, stderr } = await secretTool('search', '--all', 'service', KEYCHAIN_SERVICE, 'username', a);
    t.equal((`${stdout}\n${stderr}`.match(/^\[/gm) ?? []).length, 1, 'one item, not two');
  });

  t.test('KEYCHAIN_NOT_FOUND names the account and the service', async (t) => {
    const a = account(uniqueRepo(), 'dev');
    await kc.set(a, key());
    await kc.delete(a);
    const err = await caught(kc.get(a));
    t.ok(isVsyncError(err, 'KEYCHAIN_NOT_FOUND'), 'get after delete: NOT_FOUND');
    if (isVsyncError(err)) {
      t.match(err.message, a, 'names the account');
      t.match(err.message, KEYCHAIN_SERVICE, 'names the service');
    }
  });

  t.test('concurrent use of one adapter', async (t) => {
    const repo = uniqueRepo();
    const pairs = Array.from({ length: 12 }, (_, i) => [account(repo, `e${i}`), key()] as const);
    await Promise.all(pairs.map(([a, k]) => kc.set(a, k)));
    t.same(
      await Promise.all(pairs.map(([a]) => kc.get(a))),
      pairs.map(([, k]) => k),
    );
    const [a0] = pairs[0]!;
    const same = await Promise.all(Array.from({ length: 8 }, () => kc.get(a0)));
    t.same(new Set(same).size, 1, 'parallel gets of one account agree');
    await Promise.all(pairs.map(([a]) => kc.delete(a)));
    await t.rejects(kc.get(a0), { code: 'KEYCHAIN_NOT_FOUND' });
  });

  t.test('manual recovery with secret-tool', async (t) => {
    const a = account(uniqueRepo(), 'prod');
    const k = key();
    await kc.set(a, k);
    const lookup = await secretTool('lookup', 'service', KEYCHAIN_SERVICE, 'username', a);
    t.equal(lookup.stdout, k, '`secret-tool lookup service tools.vsync username <repo>/<env>` prints exactly the key');

    // secret-tool prints the attribute.* lines on stderr and the rest on stdout.
    const search = await secretTool('search', '--all', 'service', KEYCHAIN_SERVICE, 'username', a);
    const text = `${search.stdout}\n${search.stderr}`;
    const attributes = Object.fromEntries([...text.matchAll(/^attribute\.(\S+) = (.*)$/gm)].map((m) => [m[1], m[2]]));
    t.same(attributes, { service: KEYCHAIN_SERVICE, username: a }, 'exactly the attributes service and username');
    t.match(text, new RegExp(`^label = keyring:${a.replace(/[.]/g, '\\.')}@tools\\.vsync$`, 'm'), 'label');

    // And the other way: a key stored by hand is read by the adapter.
    const b = account(uniqueRepo(), 'dev');
    const kb = key();
    const child = spawn('secret-tool', ['store', '--label=by hand', 'service', KEYCHAIN_SERVICE, 'username', b], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    child.stdin.end(kb);
    t.equal(await new Promise((resolve) => child.on('close', resolve)), 0, 'secret-tool store');
    t.equal(await kc.get(b), kb, 'a key stored with secret-tool store is read back');
  });

  t.test('a Secret Service that dies is replaced, and the call is asked again (in a throwaway keyring of its own)', async (t) => {
    // gnome-keyring now and then aborts on an assertion (os-keychain.ts); a CI run once lost its
    // keyring that way. The harness's bus starts a new, unlocked daemon on the next call; the adapter asks again a
    // call whose answer was lost, or whose kept entry holds a session of the dead daemon.
    const fixture = join(root, 'test/contract/fixtures/keyring-restart.ts');
    const { result: r, stderr } = await childResult<{
      key: string;
      betweenCalls: { key?: string; error?: string };
      whileAnswering: { key?: string; error?: string };
      starts: number;
    }>(['bash', harness, process.execPath, '--import=tsx', fixture]);
    t.same(r.betweenCalls, { key: r.key }, 'killed between two calls: the next get reads the key from its successor');
    t.same(r.whileAnswering, { key: r.key }, 'killed while answering a get: that get still returns the key');
    t.equal(r.starts, 3, 'the bus started the daemon three times: at first, and after each death');
    t.match(stderr, /gnome-keyring-daemon died; the bus starts it again, unlocked \(start #2\)/, 'the harness says so');
    t.match(stderr, /gnome-keyring-daemon died 2 time\(s\) during this run/, 'and counts the deaths at its end');
  });

  t.test('unavailable is not "not found"', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'vsync-keychain-contract-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const a = keychainAccount(uniqueRepo(), 'dev');

    t.test('no session bus at all', async (t) => {
      // libdbus reads the address once per process, so this needs a fresh process. XDG_RUNTIME_DIR points at an
      // empty dir so that libdbus cannot fall back to $XDG_RUNTIME_DIR/bus either.
      const r = await inChild(a, [], { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(dir, 'no-such-socket')}`, XDG_RUNTIME_DIR: dir });
      expectUnavailable(t, r, /no D-Bus session bus/);
    });

    t.test('a session bus without any Secret Service', async (t) => {
      const config = join(dir, 'bare-session.conf');
      await writeFile(
        config,
        `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=${dir}</listen>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`,
      );
      const r = await inChild(a, ['dbus-run-session', `--config-file=${config}`, '--'], { XDG_RUNTIME_DIR: dir });
      expectUnavailable(t, r, /no Secret Service on the session bus/);
    });

    t.test('a locked keyring (in a throwaway keyring of its own)', async (t) => {
      // The harness always makes a private bus of its own, with no prompter to start: a locked keyring fails at once.
      const lockThenRun = [
        'set -e',
        `printf %s old | secret-tool store --label=locked service ${KEYCHAIN_SERVICE} username "$VSYNC_ACCOUNT"`,
        'dbus-send --session --print-reply=literal --dest=org.freedesktop.secrets /org/freedesktop/secrets ' +
          'org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null',
        'exec "$@"',
      ].join('\n');
      const r = await inChild(a, ['bash', harness, 'bash', '-c', lockThenRun, 'lock-then-run'], { VSYNC_ACCOUNT: a });
      expectUnavailable(t, r, /locked/);
    });
  });
}

interface ChildResult {
  ops: Record<string, { code?: string; message?: string; cause?: string; ok?: true }>;
  keyutils: string | null;
}

/**
 * Runs get, set and delete of `account` through OsKeychain in a fresh node process (behind `wrapper`, with `env`
 * added), and reports what each did. Also reports whether anything landed in the kernel keyutils keyring (the
 * library's silent fallback), removing it if so.
 */
async function inChild(account: string, wrapper: string[], env: Record<string, string>): Promise<ChildResult> {
  const tsLoader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'));
  const code = `
    const { OsKeychain } = await import(${JSON.stringify(adapterUrl)});
    const { Entry } = await import('@napi-rs/keyring');
    const kc = new OsKeychain();
    const account = ${JSON.stringify(account)};
    const ops = {};
    for (const [op, call] of [['get', () => kc.get(account)], ['set', () => kc.set(account, ${JSON.stringify(key())})], ['delete', () => kc.delete(account)]]) {
      try { await call(); ops[op] = { ok: true }; }
      catch (e) { ops[op] = { code: e.code, message: e.message, cause: e.cause && e.cause.message }; }
    }
    let keyutils = null;
    try { const e = new Entry(${JSON.stringify(KEYCHAIN_SERVICE)}, account, { linux: { store: 'keyutils' } }); keyutils = e.getPassword(); if (keyutils !== null) e.deletePassword(); }
    catch { keyutils = null; }
    console.log('VSYNC_CHILD_RESULT ' + JSON.stringify({ ops, keyutils }));
  `;
  const argv = [...wrapper, process.execPath, ...(tsLoader.length ? tsLoader : process.execArgv), '--input-type=module', '-e', code];
  return (await childResult<ChildResult>(argv, env)).result;
}

/** Runs `argv` in the project (with `env` added) and reads its result: the JSON on its `VSYNC_CHILD_RESULT ` line. */
async function childResult<T>(argv: string[], env: Record<string, string> = {}): Promise<{ result: T; stderr: string }> {
  const { stdout, stderr } = await run(argv[0]!, argv.slice(1), {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: PATIENCE_MS,
  }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`child failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
  const line = stdout.split('\n').find((l) => l.startsWith('VSYNC_CHILD_RESULT '));
  if (!line) throw new Error(`no result from the child:\n${stdout}\n${stderr}`);
  return { result: JSON.parse(line.slice('VSYNC_CHILD_RESULT '.length)) as T, stderr };
}

function expectUnavailable(t: Test, r: ChildResult, reason: RegExp): void {
  for (const op of ['get', 'set', 'delete']) {
    const o = r.ops[op];
    t.equal(o?.code, 'KEYCHAIN_UNAVAILABLE', `${op}: KEYCHAIN_UNAVAILABLE, not NOT_FOUND (${o?.message})`);
    t.match(o?.message, reason, `${op}: the reason`);
    t.ok(o?.cause, `${op}: keeps the library error as cause (${o?.cause})`);
  }
  t.equal(r.keyutils, null, 'nothing fell back into the kernel keyutils keyring');
}
