// What someone who holds the key (or can write the bucket) can plant, against the real agent and the real
// CLI as a child process, on the directory store and on Ceph RGW: a latest from the future, a version over
// the size cap, a latest over 1 KiB, names the file system cannot hold. Each is refused with its code and
// hint, the vault folder is byte for byte as it was, the pull writes nothing to the store, and the vault
// goes on: a forced push replaces the planted latest, a normal push follows, and a teammate pulls it.
import t from 'tap';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ZipArchive } from 'archiver';
import { buffer } from 'node:stream/consumers';
import { generateKey } from '../../daemon/crypto/key.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { seal } from '../../daemon/crypto/seal.js';
import { formatTimestamp, parseTimestamp } from '../../daemon/crypto/timestamp.js';
import { readConfig } from '../../daemon/vault/config.js';
import { configFile } from '../../shared/paths.js';
import { exitCodes } from '../../shared/errors.js';
import { shareConfig, teamStore, user, type User } from '../helpers/teammates.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';
import { filesUnder } from '../helpers/files-under.js';

// A hang guard, not a timing assumption: two stores, two agents each and ~40 CLI runs on a shared machine.
t.setTimeout(600_000);

const FUTURE = '99991231-235959';
const MiB = 1024 * 1024;

/** Every file under `dir` with its bytes, so "unchanged" means byte for byte. */
function tree(dir: string): Record<string, string> {
  return existsSync(dir) ? filesUnder(dir) : {};
}

/** The agent's peak resident memory (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

const minutesAfter = (ts: string, minutes: number) => formatTimestamp(new Date(parseTimestamp(ts).getTime() + minutes * 60_000));

function hostile(t: TestContext, store: 'dir' | 's3'): void {
  t.test(`a hostile store on the ${store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)'}`, async (t) => {
    const { base, cleanup } = tempBase(`vsync-hostile-${store}-`);
    const repoName = `it_${randomBytes(4).toString('hex')}`;
    const key = generateKey();
    // On RGW a 1 MiB cap and a 2 MiB object; on the directory store the default cap and a 300 MiB sparse file.
    const cap = store === 's3' ? MiB : 256 * MiB;
    const a = await user(base, 'alice', repoName, { VSYNC_KEY: key });
    const b = await user(base, 'bob', repoName, { VSYNC_KEY: key, ...(store === 's3' ? { VSYNC_MAX_VERSION_BYTES: String(cap) } : {}) });
    t.teardown(async () => {
      await a.agent.stop();
      await b.agent.stop();
      cleanup();
    });

    const { initArgs, remote } = await teamStore(t, store, a.home, 'vsync-hostile');
    const ok = async (u: User, args: string[]) => {
      const res = await u.cli(args);
      t.equal(res.code, 0, `${u.name}: vsync ${args.join(' ')}: ${res.stderr}`);
      return res;
    };
    await ok(a, initArgs);
    writeFileSync(a.envFile(), 'A=1\n');
    const first = /version: (\d{8}-\d{6})/.exec((await ok(a, ['push', 'dev'])).stdout)![1]!;
    shareConfig(a, b, repoName);
    await ok(b, ['pull', 'dev']);
    const config = await readConfig(configFile(repoName, 'dev', { HOME: a.home }));
    const aesKey = await deriveKey(key, config.encryption.salt);
    const latestKey = `${repoName}/dev/latest`;
    const versionKey = (ts: string) => `${repoName}/dev/versions/${ts}.enc`;

    /** What an insider does: a genuine version sealed at `ts` with the team's key, and latest moved to it. */
    const plant = async (ts: string, entries: Array<[string, string]>) => {
      const zip = new ZipArchive({ store: true });
      const bytes = buffer(zip);
      for (const [name, text] of entries) zip.append(Buffer.from(text), { name, mode: 0o600 });
      const [payload] = await Promise.all([bytes, zip.finalize()]);
      await remote.put(versionKey(ts), encryptEnvelope(aesKey, seal(ts, payload)));
      await remote.put(latestKey, Buffer.from(ts));
    };
    const bucket = async () => (await remote.list(`${repoName}/`)).map((o) => `${o.key} ${o.size} ${o.lastModified.toISOString()}`);
    const vaultFolder = join(b.repo, 'infra', 'vault');
    /** A refused pull: its exit code, error and hint, and nothing changed in Bob's folder or in the store. */
    const refusedPull = async (what: string, args: string[], code: number, error: RegExp, hint: RegExp) => {
      const [folder, stored] = [tree(vaultFolder), await bucket()];
      const res = await b.cli(args);
      t.equal(res.code, code, `${what}: exit ${code}`);
      t.match(res.stderr, error, `${what}: the error`);
      t.match(res.stderr, hint, `${what}: the hint`);
      t.same(tree(vaultFolder), folder, `${what}: the vault folder is byte for byte as it was`);
      t.same(await bucket(), stored, `${what}: the store is as it was`);
      return res;
    };

    // 1. A latest from the future.
    await plant(FUTURE, [['infra/vault/dev/.env.dev', 'EVIL=1\n']]);
    await refusedPull(
      'a latest from the future',
      ['pull', 'dev'],
      exitCodes.integrity,
      /^vsync: error: the version is named more than a day after this machine's clock: latest names 99991231-235959, more than 24 h after this machine's clock \(.*\); nothing was downloaded$/m,
      /^vsync: hint: .*`vsync push --force`/m,
    );
    const listed = await ok(b, ['versions', 'dev']);
    t.match(listed.stdout, new RegExp(`^\\* ${FUTURE} `, 'm'), 'versions lists it as latest');
    t.match(listed.stdout, new RegExp(`^  ${first} `, 'm'));

    writeFileSync(b.envFile(), 'B=2\n');
    const stored = await bucket();
    const conflict = await b.cli(['push', 'dev']);
    t.equal(conflict.code, exitCodes.conflict, 'a plain push does not replace it');
    t.match(
      conflict.stderr,
      /vsync: hint: latest names a version from the future, which pull refuses; if nobody meant it, replace it with `vsync push --force dev`/,
    );
    t.same(await bucket(), stored, 'the refused push wrote nothing');
    const forced = await ok(b, ['push', 'dev', '--force']);
    t.match(
      forced.stderr,
      `vsync: warning: the remote latest names ${FUTURE}, more than 24 h after this machine's clock: not stepped past`,
      'a warning names the refused ts',
    );
    const second = /version: (\d{8}-\d{6})/.exec(forced.stdout)![1]!;
    t.ok(second >= first && second < '99990000-000000', `named by the clock: ${second}`);
    t.equal((await remote.get(latestKey)).body.toString(), second, 'latest moved to it');
    await ok(a, ['pull', 'dev']);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'B=2\n', 'a teammate pulls the good version');

    // 2. A version over the cap, and a latest over 1 KiB.
    const big = minutesAfter(second, 1);
    if (store === 'dir') {
      const path = join(a.home, '.local', 'share', 'vsync', 'store', ...versionKey(big).split('/'));
      mkdirSync(join(path, '..'), { recursive: true });
      const fd = openSync(path, 'w');
      ftruncateSync(fd, 300 * MiB); // sparse: 300 MiB that cost no disk
      closeSync(fd);
      t.equal(statSync(path).size, 300 * MiB);
    } else {
      await remote.put(versionKey(big), randomBytes(2 * MiB));
    }
    await remote.put(latestKey, Buffer.from(big));
    const size = store === 'dir' ? 300 * MiB : 2 * MiB;
    const hwmBefore = peakRss(b.agent.child.pid!);
    await refusedPull(
      'a version over the cap',
      ['pull', 'dev'],
      exitCodes.integrity,
      new RegExp(
        `^vsync: error: the version in the store is larger than this agent accepts: ${versionKey(big)} holds ${size} bytes, over the cap of ${cap} \\(VSYNC_MAX_VERSION_BYTES=${cap}\\); nothing was written$`,
        'm',
      ),
      /^vsync: hint: .*raise VSYNC_MAX_VERSION_BYTES in the agent's environment$/m,
    );
    const grown = peakRss(b.agent.child.pid!) - hwmBefore;
    t.comment(`agent VmHWM grew by ${(grown / MiB).toFixed(1)} MiB over the refusal (object ${size / MiB} MiB, cap ${cap / MiB} MiB)`);
    if (store === 'dir') t.ok(grown < 150 * MiB, 'the agent never held the 300 MiB object');

    await remote.put(latestKey, Buffer.from(`${big}${' '.repeat(2000)}`));
    await refusedPull(
      'a latest over 1 KiB',
      ['pull', 'dev'],
      exitCodes.integrity,
      /^vsync: error: the remote latest pointer does not hold a version timestamp: .*latest is larger than 1024 bytes$/m,
      /^vsync: hint: /m,
    );

    // 3. Names the file system cannot hold.
    const deep = Array.from({ length: 21 }, () => 'd'.repeat(200)).join('/');
    let minute = 2;
    for (const [what, name] of [
      ['a name part of 256 bytes', `infra/vault/dev/${'a'.repeat(256)}`],
      ['a path over 4095 bytes', `infra/vault/dev/${deep}/x`],
    ] as const) {
      await plant(minutesAfter(second, minute++), [
        ['infra/vault/dev/.env.dev', 'EVIL=1\n'],
        [name, 'x'],
      ]);
      await refusedPull(
        what,
        ['pull', 'dev'],
        exitCodes.integrity,
        /^vsync: error: the archive holds a name this file system cannot hold: /m,
        /^vsync: hint: nothing was extracted; /m,
      );
      t.same(readdirSync(vaultFolder), ['dev'], `${what}: no staging folder left beside the vault folder`);
    }

    // The vault goes on: Bob replaces the planted latest, pushes again as usual, Alice pulls.
    writeFileSync(b.envFile(), 'B=3\n');
    await ok(b, ['push', 'dev', '--force']);
    writeFileSync(b.envFile(), 'B=4\n');
    const last = /version: (\d{8}-\d{6})/.exec((await ok(b, ['push', 'dev'])).stdout)![1]!;
    await ok(a, ['pull', 'dev']);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'B=4\n', `a teammate pulls ${last}`);
    await ok(a, ['pull', 'dev', '--at', second]);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'B=2\n', 'and an older good version by name');
  });
}

// Keys come from VSYNC_KEY (a headless machine): no keychain needed.
hostile(t, 'dir');
if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) hostile(t, 's3');
