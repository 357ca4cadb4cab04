// key rotate with the real programs: the real `vsync` as a child process, real agents on real sockets (one
// of them a CI runner whose key comes from VSYNC_KEY), keys in a real Secret Service, on the directory store
// and on Ceph RGW. The team's day after a rotation; the agent SIGKILLed before, at and after the commit point;
// a teammate's push landing during the rotation.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { exitCodes } from '../../shared/errors.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { vsync } from '../helpers/cli.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { repoOf, restartAgent, shareConfig, user } from '../helpers/teammates.js';
import { TS, alone, exec, pushed } from '../helpers/team-vault.js';
import type { TestContext } from '../helpers/tap-types.js';
import { PATIENCE_MS } from '../helpers/patience.js';
import { startAgent, type Agent } from '../helpers/agent.js';

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
    shareConfig(a, b, repoOf(a));
    await restartAgent(b, { VSYNC_KEY: newKey! });
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
  rotations(t, 'dir');
  if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) rotations(t, 's3');
}
