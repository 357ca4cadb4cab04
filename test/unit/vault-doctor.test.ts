// The doctor's checks in the domain, on the real directory store and the real VSYNC_KEY keychain: every
// check's good and bad outcome, the clock read from the store's own stamp, and the scratch object never left
// behind. The S3 servers (Ceph RGW, and s3rver, which ignores conditional writes) are in
// test/integration/doctor.test.ts, with the real agent and CLI.
import t from 'tap';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { generateKey } from '../../daemon/crypto/key.js';
import { EnvKeychain } from '../../daemon/keychain/env-keychain.js';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import type { Storage, WriteResult } from '../../daemon/storage/storage.js';
import { readConfig, writeConfig } from '../../daemon/vault/config.js';
import { clockCheck, formatSkew, skewMs } from '../../daemon/vault/doctor/clock-skew.js';
import { doctor, type DoctorReport } from '../../daemon/vault/doctor/doctor.js';
import { enforced, probeWrites, scratchKey } from '../../daemon/vault/doctor/write-probe.js';
import { WriteSafety } from '../../daemon/vault/doctor/write-safety.js';
import { init } from '../../daemon/vault/init.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import type { VaultDeps, VaultRef } from '../../daemon/vault/vault.js';
import { VsyncError } from '../../shared/errors.js';
import { configFile } from '../../shared/paths.js';
import { Clock, machine, tempBase } from '../helpers/vault-fixture.js';

const MINUTE = 60_000;

/** A vault made by init on a directory store under `base`, with the key in a VSYNC_KEY the test can change. */
async function vaultOn(base: string, storeRoot = join(base, 'store')) {
  const keyEnv: Record<string, string | undefined> = { VSYNC_KEY: generateKey() };
  const keychain = new EnvKeychain(keyEnv);
  const storage = new RetryingStorage(new DirStorage(storeRoot));
  const m = machine(base, 'alice', storage, keychain, new Clock());
  await init(m.deps, m.ref, { store: storeRoot });
  // The store stamps writes with the real time, so the doctor's machine reads the real clock too.
  const deps: VaultDeps = { ...m.deps, now: () => new Date() };
  return { deps, ref: m.ref, storage, keyEnv, keychain };
}

const outcome = (report: DoctorReport) => report.checks.map((c) => `${c.name}:${c.status}${c.code ? `:${c.code}` : ''}`);
const check = (report: DoctorReport, name: string) => report.checks.find((c) => c.name === name)!;

t.test('the clock: skew from the store stamp, its words, and its bounds', async (t) => {
  const at = (ms: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, 0) + ms);
  t.equal(skewMs(at(0), at(0), at(200)), 0, 'the stamp within the write');
  t.equal(skewMs(at(-900), at(0), at(200)), 0, 'Last-Modified drops the milliseconds: a second early is no skew');
  t.equal(skewMs(at(-3 * MINUTE), at(0), at(200)), -3 * MINUTE + 1000, 'behind, less the second');
  t.equal(skewMs(at(10 * MINUTE), at(0), at(200)), 10 * MINUTE - 200, 'ahead of the end of the write');
  t.same(
    [
      formatSkew(42_000),
      formatSkew(-119_000),
      formatSkew(200_000),
      formatSkew(10 * MINUTE),
      formatSkew(125 * MINUTE),
      formatSkew(180 * MINUTE),
    ],
    ['42 s', '119 s', '3 min 20 s', '10 min', '2 h 5 min', '3 h'],
  );
  t.same(clockCheck(0), { name: 'clock', status: 'ok', detail: "within a second of the store's" });
  t.same(clockCheck(-90_000), { name: 'clock', status: 'ok', detail: "the store's clock is 90 s behind this machine's" });
  t.match(clockCheck(2 * MINUTE), { status: 'ok' }, 'two minutes is still ok');
  t.match(clockCheck(2 * MINUTE + 1000), {
    status: 'warn',
    code: 'STORAGE_CLOCK_SKEWED',
    detail: /^this machine's clock is off from the store's: the store's clock is 2 min 1 s ahead/,
    hint: /timedatectl/,
  });
  t.match(clockCheck(15 * MINUTE), { status: 'warn' }, 'fifteen minutes is a warning');
  t.match(clockCheck(-15 * MINUTE - 1000), { status: 'fail', code: 'STORAGE_CLOCK_SKEWED', detail: /15 min 1 s behind/ });
});

t.test('doctor on the directory store: every check ok, nothing left in the store', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-');
  t.teardown(cleanup);
  const { deps, ref, storage } = await vaultOn(base);
  const report = await doctor(deps, 'dev', async () => ref);
  t.same(outcome(report), ['config:ok', 'keychain:ok', 'git:ok', 'store:ok', 'clock:ok', 'if-none-match:ok', 'if-match:ok']);
  t.same({ repo: report.repo, env: report.env }, { repo: 'vsync', env: 'dev' });
  t.equal(
    check(report, 'config').detail,
    `${configFile('vsync', 'dev', deps.environment)} (store file://${join(base, 'store')}/vsync/dev/)`,
  );
  t.equal(check(report, 'keychain').detail, "the key for vsync/dev is in env:VSYNC_KEY and matches the config's keyCheck");
  t.equal(check(report, 'store').detail, `file://${join(base, 'store')}/vsync/dev/ answers; nothing pushed yet`);
  t.equal(check(report, 'clock').detail, "within a second of the store's");
  t.same(await storage.list('vsync/'), [], 'the scratch object is gone');

  await storage.put('vsync/dev/latest', Buffer.from('20261129-120000\n'));
  t.equal(
    check(await doctor(deps, 'dev', async () => ref), 'store').detail,
    `file://${join(base, 'store')}/vsync/dev/latest → 20261129-120000`,
  );
  await storage.put('vsync/dev/latest', Buffer.from('junk'));
  const junk = await doctor(deps, 'dev', async () => ref);
  t.match(check(junk, 'store'), { status: 'fail', code: 'VAULT_POINTER_INVALID' });
  t.same(outcome(junk).slice(4), ['clock:skip', 'if-none-match:skip', 'if-match:skip'], 'nothing more after a failed read');
});

t.test("the clock from the store's stamp: 10 minutes ahead warns, 20 behind fails", async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-');
  t.teardown(cleanup);
  const { deps, ref } = await vaultOn(base);
  const ahead = await doctor({ ...deps, now: () => new Date(Date.now() + 10 * MINUTE) }, 'dev', async () => ref);
  t.match(check(ahead, 'clock'), {
    status: 'warn',
    code: 'STORAGE_CLOCK_SKEWED',
    detail: /the store's clock is (9 min 59 s|10 min) behind this machine's$/,
  });
  const behind = await doctor({ ...deps, now: () => new Date(Date.now() - 20 * MINUTE) }, 'dev', async () => ref);
  t.match(check(behind, 'clock'), {
    status: 'fail',
    code: 'STORAGE_CLOCK_SKEWED',
    detail: /the store's clock is 20 min( 0 s| 1 s)? ahead of this machine's$/,
  });
  t.same(
    outcome(behind).filter((c) => !c.startsWith('clock')),
    ['config:ok', 'keychain:ok', 'git:ok', 'store:ok', 'if-none-match:ok', 'if-match:ok'],
    'the other checks still run',
  );
});

t.test('the key: missing, another key, not a key, and a config with no keyCheck', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-');
  t.teardown(cleanup);
  const { deps, ref, keyEnv } = await vaultOn(base);
  const teamKey = keyEnv.VSYNC_KEY;

  keyEnv.VSYNC_KEY = generateKey();
  const other = await doctor(deps, 'dev', async () => ref);
  t.match(check(other, 'keychain'), { status: 'fail', code: 'KEY_MISMATCH', detail: /keyCheck/, hint: /import the team key/ });
  t.same(outcome(other).slice(2), ['git:ok', 'store:ok', 'clock:ok', 'if-none-match:ok', 'if-match:ok'], 'the store is still checked');

  delete keyEnv.VSYNC_KEY;
  t.match(check(await doctor(deps, 'dev', async () => ref), 'keychain'), {
    status: 'fail',
    code: 'KEYCHAIN_NOT_FOUND',
    detail: /VSYNC_KEY_VSYNC_DEV/,
  });
  keyEnv.VSYNC_KEY = 'short';
  t.match(check(await doctor(deps, 'dev', async () => ref), 'keychain'), { status: 'fail', code: 'KEY_INVALID' });

  keyEnv.VSYNC_KEY = teamKey;
  const file = configFile('vsync', 'dev', deps.environment);
  const config = await readConfig(file);
  await writeConfig(file, { ...config, encryption: { salt: config.encryption.salt } });
  t.match(check(await doctor(deps, 'dev', async () => ref), 'keychain'), {
    status: 'warn',
    detail: 'the key for vsync/dev is in env:VSYNC_KEY, but the config has no keyCheck to compare it with',
    hint: /pull cannot decrypt/,
  });
});

t.test('no config, a broken config, an unknown repo: the config fails and what needs it is skipped', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-');
  t.teardown(cleanup);
  const { deps, ref } = await vaultOn(base);
  const prod: VaultRef = { ...ref, env: 'prod' };
  const missing = await doctor(deps, 'prod', async () => prod);
  t.same(outcome(missing), [
    'config:fail:CONFIG_NOT_FOUND',
    'keychain:ok',
    'git:skip',
    'store:skip',
    'clock:skip',
    'if-none-match:skip',
    'if-match:skip',
  ]);
  t.equal(
    check(missing, 'keychain').detail,
    'the key for vsync/prod is in env:VSYNC_KEY (not compared with the config, which could not be read)',
  );
  t.equal(check(missing, 'store').detail, 'needs the config');

  writeFileSync(configFile('vsync', 'dev', deps.environment), 'not gzip');
  t.same(outcome(await doctor(deps, 'dev', async () => ref)).slice(0, 4), [
    'config:fail:CONFIG_INVALID',
    'keychain:ok',
    'git:skip',
    'store:skip',
  ]);

  const unknown = await doctor(deps, 'dev', async () => {
    throw new VsyncError('REPO_UNKNOWN', 'git is not installed');
  });
  t.same(outcome(unknown), [
    'config:fail:REPO_UNKNOWN',
    'keychain:skip',
    'git:skip',
    'store:skip',
    'clock:skip',
    'if-none-match:skip',
    'if-match:skip',
  ]);
  t.equal(unknown.repo, undefined);
  t.equal(check(unknown, 'keychain').detail, 'the repo is unknown');
});

t.test('a store that can be read but not written: the store check fails with the folder hint, what needs it is skipped', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-');
  t.teardown(cleanup);
  // A regular file where the store's folder was: reading finds nothing, writing cannot make the folder.
  mkdirSync(join(base, 'store-file'));
  const { deps, ref } = await vaultOn(base, join(base, 'store-file'));
  rmSync(join(base, 'store-file'), { recursive: true });
  writeFileSync(join(base, 'store-file'), 'not a folder');
  const report = await doctor(deps, 'dev', async () => ref);
  t.same(outcome(report), [
    'config:ok',
    'keychain:ok',
    'git:ok',
    'store:fail:STORAGE_PERMANENT',
    'clock:skip',
    'if-none-match:skip',
    'if-match:skip',
  ]);
  t.match(check(report, 'store'), {
    detail:
      /^file:\/\/.*\/store-file\/vsync\/dev\/ can be read, but a scratch object could not be written there: the store refused the request: /,
    hint: /^a file stands where a folder of the store should be, at .*store-file or under it/,
  });
  t.equal(check(report, 'clock').detail, 'the store cannot be written');
});

t.test('without an env: the keychain answers, or says why not', async (t) => {
  const deps = (keychain: EnvKeychain): VaultDeps => ({
    storageFor: () => {
      throw new Error('no store without an env');
    },
    keychain,
    keys: new KeyRing(keychain),
    environment: {},
    now: () => new Date(),
  });
  const locate = async (): Promise<VaultRef> => {
    throw new Error('no vault without an env');
  };
  t.same(await doctor(deps(new EnvKeychain({})), undefined, locate), {
    checks: [{ name: 'keychain', status: 'ok', detail: 'env:VSYNC_KEY answers' }],
  });
  t.same(await doctor(deps(new EnvKeychain({ VSYNC_KEY: generateKey() })), undefined, locate), {
    checks: [{ name: 'keychain', status: 'ok', detail: 'env:VSYNC_KEY answers' }],
  });
  const bad = await doctor(deps(new EnvKeychain({ VSYNC_KEY: 'not a key' })), undefined, locate);
  t.match(bad.checks, [{ name: 'keychain', status: 'fail', code: 'KEY_INVALID', hint: /44-character key text/ }]);
});

t.test('the write probe on a store that enforces conditions: both refused, nothing left', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-');
  t.teardown(cleanup);
  const storage = new DirStorage(join(base, 'store'));
  const key = scratchKey('vsync', 'dev');
  t.match(key, /^vsync\/dev\/_doctor\/[0-9a-f]{16}$/);
  const probe = await probeWrites(storage, key);
  t.same(probe, { key, ifNoneMatch: 'enforced', ifMatch: 'enforced' }, 'no clock unless asked');
  t.ok(enforced(probe));
  t.same(await storage.list('vsync/'), []);
  const clocked = await probeWrites(storage, scratchKey('vsync', 'dev'), () => new Date());
  t.ok(
    clocked.clock && clocked.clock.store >= new Date(clocked.clock.before.getTime() - 1000) && clocked.clock.store <= clocked.clock.after,
  );

  const safety = new WriteSafety();
  t.equal(await safety.warning(storage, { repo: 'vsync', env: 'dev', root: base }), undefined, 'an enforcing store: no warning');
});

// No server at hand refuses If-Match with the object's current ETag, so this one outcome is shown with a
// store that does (around the real directory store): push's pointer update would then always fail.
class RefusesCurrentEtag extends DirStorage {
  override async putIfMatch(key: string, _body: Buffer, etag: string): Promise<WriteResult> {
    throw new VsyncError('STORAGE_PRECONDITION_FAILED', `${key} is not at ETag ${etag}`);
  }
}

t.test('a store that refuses If-Match even with the current ETag: if-match fails, and push would warn', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-');
  t.teardown(cleanup);
  const storage: Storage = new RefusesCurrentEtag(join(base, 'store'));
  const probe = await probeWrites(storage, scratchKey('vsync', 'dev'));
  t.same([probe.ifNoneMatch, probe.ifMatch], ['enforced', 'refused-current']);
  t.notOk(enforced(probe));
  t.same(await storage.list('vsync/'), [], 'removed all the same');
  const warning = await new WriteSafety().warning(storage, { repo: 'vsync', env: 'dev', root: base });
  t.match(warning, /does not honour conditional writes \(it refused If-Match with the current ETag on a scratch object\)/);

  const keychain = new EnvKeychain({ VSYNC_KEY: generateKey() });
  const m = machine(base, 'alice', storage, keychain, new Clock());
  await init(m.deps, m.ref, { store: join(base, 'store') });
  const report = await doctor({ ...m.deps, now: () => new Date() }, 'dev', async () => m.ref);
  t.match(check(report, 'if-match'), {
    status: 'fail',
    code: 'STORAGE_CONDITIONAL_WRITES_IGNORED',
    detail:
      /with the current ETag on file:\/\/.*\/vsync\/dev\/_doctor\/[0-9a-f]{16} was refused, so every push over an existing latest would fail$/,
  });
  t.equal(check(report, 'if-none-match').status, 'ok');
});

t.test('the git check: ok when git ignores the vault folder and .env; a warning with the fix for each that it would commit', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-git-');
  t.teardown(cleanup);
  const m = machine(base, 'alice', new DirStorage(join(base, 'store')), new EnvKeychain({ VSYNC_KEY: generateKey() }), new Clock());
  await init(m.deps, m.ref, {});
  const gitCheck = async () => check(await doctor(m.deps, 'dev', async () => m.ref), 'git');
  t.match(await gitCheck(), { status: 'ok', detail: /is not a git checkout/ });
  execFileSync('git', ['init', '-q', m.ref.root]);
  rmSync(join(m.ref.root, '.gitignore')); // init wrote one, outside git, from its own lines: a checkout without it
  t.match(
    await gitCheck(),
    { status: 'warn', detail: /infra\/vault\/dev\/ is not ignored by git.*; \.env is not ignored by git/ },
    'an empty folder too',
  );
  writeFileSync(join(m.ref.root, '.gitignore'), '/infra/vault/dev/\n/.env\n');
  t.match(await gitCheck(), { status: 'ok', detail: 'git ignores infra/vault/dev/ and .env, and tracks neither' });
  writeFileSync(join(m.ref.root, 'infra/vault/dev/.env.dev'), 'A=1\n');
  execFileSync('git', ['-C', m.ref.root, 'add', '-f', 'infra/vault/dev/.env.dev']);
  t.match(await gitCheck(), {
    status: 'warn',
    detail: /infra\/vault\/dev\/ is tracked by git.*git rm -r --cached --force -- infra\/vault\/dev/,
  });
});
