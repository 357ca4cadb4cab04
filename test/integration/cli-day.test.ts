// The product page's day with the real programs: two users (two HOMEs, two agents on two sockets) sharing
// one store, the real `vsync` run as a child process, keys in a real Secret Service. Run on the directory
// store and on Ceph RGW.
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { configFile } from '../../shared/paths.js';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { S3Storage } from '../../daemon/storage/s3-storage.js';
import type { Storage } from '../../daemon/storage/storage.js';
import { exitCodes } from '../../shared/errors.js';
import { formatTimestamp, parseTimestamp } from '../../daemon/crypto/timestamp.js';
import { aliceAndBob, createBucket, repoOf, shareConfig, user } from '../helpers/teammates.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';

const run = promisify(execFile);

function day(t: TestContext, store: 'dir' | 's3'): void {
  t.test(`the product page's day on the ${store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)'}`, async (t) => {
    const { repoName, a, b } = await aliceAndBob(t, `vsync-day-${store}-`);

    const initArgs = ['init', 'dev'];
    let where: RegExp;
    // The bucket as someone with write access but without the key sees it.
    let remote: Storage;
    if (store === 's3') {
      const bucket = await createBucket('vsync-day');
      initArgs.push('--bucket', bucket, '--endpoint', process.env.VSYNC_TEST_S3_ENDPOINT!, '--region', 'us-east-1', '--path-style');
      where = new RegExp(`s3://${bucket}/${repoName}/dev/`);
      const s3 = new S3Storage({ bucket, endpoint: process.env.VSYNC_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
      t.teardown(() => s3.destroy());
      remote = s3;
    } else {
      where = new RegExp(`file://${join(a.home, '.local', 'share', 'vsync', 'store')}/${repoName}/dev/`);
      remote = new DirStorage(join(a.home, '.local', 'share', 'vsync', 'store'));
    }

    const init = await a.cli(initArgs);
    t.equal(init.code, 0, init.stderr);
    t.match(init.stdout, `✅ initialised ${repoName}/dev`);
    writeFileSync(a.envFile(), 'DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n');

    const pushed = await a.cli(['push', 'dev']);
    t.equal(pushed.code, 0, pushed.stderr);
    const lines = pushed.stdout.trim().split('\n');
    const version = /version: (\d{8}-\d{6})\)$/.exec(lines.at(-1) ?? '')?.[1] ?? 'missing';
    t.equal(lines[0], '[1/5] zipping infra/vault/dev/');
    t.equal(lines[1], `[2/5] sealing manifest ts=${version}`);
    t.equal(lines[2], '[3/5] encrypting');
    t.match(lines[3], new RegExp(`^\\[4/5\\] uploading \\d+ bytes → ${where.source}versions/${version}\\.enc$`));
    t.match(lines[4], new RegExp(`^\\[5/5\\] updating pointer → ${where.source}latest$`));
    t.equal(lines[5], `✅ pushed ${repoName}/dev (version: ${version})`);

    const listed = await a.cli(['versions', 'dev']);
    t.equal(listed.code, 0, listed.stderr);
    t.match(listed.stdout, new RegExp(`^${where.source}versions/ \\(1 version\\)\\n\\* ${version} \\d+ B (just now|\\d+s ago)\\n$`));

    shareConfig(a, b, repoName); // the teammate gets the config; the key is in the (shared) keychain
    const pulled = await b.cli(['pull', 'dev']);
    t.equal(pulled.code, 0, pulled.stderr);
    const pl = pulled.stdout.trim().split('\n');
    t.same(pl.slice(0, 2), [
      '[1/6] backing up local infra/vault/dev/ (if any)',
      `[2/6] reading pointer ${where.source.replace(/\\/g, '')}latest`,
    ]);
    t.equal(pl[2], `[3/6] downloading version ${version} (${repoName}/dev/versions/${version}.enc)`);
    t.same(pl.slice(3), [
      '[4/6] decrypting',
      '[5/6] verifying manifest ts',
      `[6/6] unzipping into ${b.repo}`,
      `✅ pulled ${repoName}/dev version ${version}`,
    ]);
    t.equal(readFileSync(b.envFile(), 'utf8'), 'DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n');

    const used = await b.cli(['use', 'dev']);
    t.equal(used.code, 0, used.stderr);
    t.equal(readlinkSync(join(b.repo, '.env')), 'infra/vault/dev/.env.dev');
    t.equal(readFileSync(join(b.repo, '.env'), 'utf8'), 'DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n');
    t.equal(used.stderr, '', 'no warning: .env is gitignored');

    // Bob changes a secret and pushes; Alice pushes without pulling: a conflict naming both versions.
    writeFileSync(b.envFile(), 'DATABASE_URL=postgres://dev2\n');
    const bobPush = await b.cli(['push', 'dev']);
    t.equal(bobPush.code, 0, bobPush.stderr);
    const bobVersion = /version: (\d{8}-\d{6})/.exec(bobPush.stdout)![1]!;
    t.ok(bobVersion > version, 'strictly later');
    writeFileSync(a.envFile(), 'DATABASE_URL=postgres://mine\n');
    const conflict = await a.cli(['push', 'dev']);
    t.equal(conflict.code, exitCodes.conflict);
    t.match(
      conflict.stderr,
      new RegExp(
        `vsync: error: the remote moved since this machine last synced: the remote latest is ${bobVersion}; this machine last synced ${version}; this folder against ${bobVersion}: \\.env\\.dev \\(~DATABASE_URL\\)\\nvsync: hint: pull --force to take the remote version`,
      ),
    );

    // Alice pulls: her unpushed edit is refused (and backed up), then forced.
    const refused = await a.cli(['pull', 'dev']);
    t.equal(refused.code, exitCodes.conflict);
    t.match(refused.stderr, /never pushed/);
    t.match(
      refused.stderr,
      `; this folder against ${bobVersion}: .env.dev (~DATABASE_URL)`,
      'what a forced pull would change, values unsaid',
    );
    t.notMatch(refused.stderr + conflict.stderr, /mine|dev2/);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'DATABASE_URL=postgres://mine\n', 'her folder is untouched');
    const forced = await a.cli(['pull', 'dev', '--force']);
    t.equal(forced.code, 0, forced.stderr);
    t.match(forced.stdout.split('\n')[1], /^→ .*\/\.config\/vsync\/backups\/it_[0-9a-f]+\/dev-\d{8}-\d{6}\.zip\.enc$/);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'DATABASE_URL=postgres://dev2\n');

    const status = await a.cli(['status']);
    t.equal(status.code, 0, status.stderr);
    t.match(status.stdout, new RegExp(`${repoName}/dev: pull ok`));
    const locked = await a.cli(['lock']);
    t.match(locked.stdout, /🔒 locked \(1 key dropped\)/);

    // Someone with write access to the bucket but not the key. Each attack is refused and Bob's folder
    // stays exactly as it was.
    const latestKey = `${repoName}/dev/latest`;
    const versionKey = (ts: string) => `${repoName}/dev/versions/${ts}.enc`;
    const bobHas = readFileSync(b.envFile(), 'utf8');
    const refusedPull = async (what: string, code: number, message: RegExp) => {
      const res = await b.cli(['pull', 'dev']);
      t.equal(res.code, code, `${what}: exit ${code}`);
      t.match(res.stderr, message, what);
      t.equal(readFileSync(b.envFile(), 'utf8'), bobHas, `${what}: the folder is as it was`);
    };

    await remote.put(latestKey, Buffer.from(version));
    await refusedPull(
      'latest moved back to an older genuine version',
      exitCodes.integrity,
      new RegExp(
        `vsync: error: the remote pointer names a version older than one this machine has already seen: latest names ${version}, but this machine has seen ${bobVersion}`,
      ),
    );

    // A newer name, but not one from the future (more than a day ahead), which pull refuses before the seal.
    const renamed = formatTimestamp(new Date(parseTimestamp(bobVersion).getTime() + 3_600_000));
    await remote.put(versionKey(renamed), (await remote.get(versionKey(version))).body);
    await remote.put(latestKey, Buffer.from(renamed));
    await refusedPull(
      'an old version renamed to a newer name',
      exitCodes.integrity,
      new RegExp(`sealed timestamp is not the one asked for: asked for ${renamed}, the bundle is sealed ${version}`),
    );

    const genuine = (await remote.get(versionKey(bobVersion))).body;
    const flipped = Buffer.from(genuine);
    flipped[flipped.length - 20] = flipped[flipped.length - 20]! ^ 0x01;
    await remote.put(versionKey(bobVersion), flipped);
    await remote.put(latestKey, Buffer.from(bobVersion));
    await refusedPull('a flipped byte', exitCodes.integrity, /decryption failed: the key is wrong or the data was altered/);

    await remote.delete(versionKey(bobVersion));
    await refusedPull(
      'a pointer naming a missing version',
      exitCodes.storage,
      new RegExp(`no such version in the store: latest names ${bobVersion}`),
    );

    await remote.put(latestKey, Buffer.from('not a timestamp'));
    await refusedPull('junk in latest', exitCodes.integrity, /latest pointer does not hold a version timestamp/);
  });
}

function badBuckets(t: TestContext): void {
  t.test('a bucket that does not exist, and credentials the server denies: clear errors, nothing changed', async (t) => {
    const { base, cleanup } = tempBase('vsync-bucket-');
    const repoName = `it_${randomBytes(4).toString('hex')}`;
    const endpoint = process.env.VSYNC_TEST_S3_ENDPOINT!;
    const u = await user(base, 'dave', repoName);
    const denied = await user(base, 'erin', repoName, { AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    t.teardown(async () => {
      await u.agent.stop();
      await denied.agent.stop();
      await run('secret-tool', ['clear', 'service', 'tools.vsync', 'username', `${repoName}/dev`]).catch(() => undefined);
      cleanup();
    });
    const missingBucket = `vsync-missing-${randomBytes(4).toString('hex')}`;
    t.equal(
      (await u.cli(['init', 'dev', '--bucket', missingBucket, '--endpoint', endpoint, '--region', 'us-east-1', '--path-style'])).code,
      0,
    );
    writeFileSync(u.envFile(), 'A=1\n');
    const pushed = await u.cli(['push', 'dev']);
    t.equal(pushed.code, exitCodes.storage);
    t.match(
      pushed.stderr,
      /vsync: error: the bucket does not exist: .*NoSuchBucket.*\nvsync: hint: vsync never creates a bucket: create it with/s,
    );
    t.equal(readFileSync(u.envFile(), 'utf8'), 'A=1\n');

    shareConfig(u, denied, repoName);
    mkdirSync(join(denied.repo, 'infra', 'vault', 'dev'), { recursive: true });
    writeFileSync(denied.envFile(), 'B=2\n');
    const refused = await denied.cli(['push', 'dev']);
    t.equal(refused.code, exitCodes.storage);
    t.match(
      refused.stderr,
      /the S3 store refused these credentials: .*SignatureDoesNotMatch.*\nvsync: hint: the secret does not match the access key id/s,
    );
    t.equal(readFileSync(denied.envFile(), 'utf8'), 'B=2\n');
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) {
  day(t, 'dir');
  if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) {
    day(t, 's3');
    badBuckets(t);
  }
}

t.test('bad input through the CLI: clear errors, exit codes, nothing written', async (t) => {
  const { base, cleanup } = tempBase('vsync-bad-');
  const u = await user(base, 'carol', `it_${randomBytes(4).toString('hex')}`);
  t.teardown(async () => {
    await u.agent.stop();
    cleanup();
  });
  const bad = await u.cli(['push', '../x']);
  t.equal(bad.code, exitCodes.usage);
  t.match(bad.stderr, /^vsync: error: invalid name: env "\.\.\/x"\nvsync: hint: /);
  const missing = await u.cli(['pull', 'dev']);
  t.equal(missing.code, exitCodes.config);
  t.match(missing.stderr, /no config for this repo and env.*\nvsync: hint: run `vsync init <env>` first/s);
  t.notOk(existsSync(join(u.repo, 'infra')), 'no folder made');

  const file = configFile(repoOf(u), 'dev', { HOME: u.home });
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, 'this is not gzip');
  const corrupt = await u.cli(['push', 'dev']);
  t.equal(corrupt.code, exitCodes.config);
  t.match(corrupt.stderr, /vsync: error: the config file is not valid: .*env_dev: not gzip data\nvsync: hint: /);
  t.equal(readFileSync(file, 'utf8'), 'this is not gzip', 'the config is left as it was');
});
