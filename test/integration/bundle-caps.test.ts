// The bundle caps as settings, with the real agent and the real CLI as a child process, on the directory
// store and on Ceph RGW: an agent started with VSYNC_MAX_BUNDLE_ENTRIES refuses a push over it with
// BUNDLE_TOO_LARGE (exit 4) naming the cap and where it is set, the store and the folder unchanged; a vault
// config's `limits` wins over the agent's environment; a teammate on the defaults pulls what fits them.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { generateKey } from '../../daemon/crypto/key.js';
import { exitCodes } from '../../shared/errors.js';
import { configFile } from '../../shared/paths.js';
import { filesUnder } from '../helpers/files-under.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import type { TestContext } from '../helpers/tap-types.js';
import { shareConfig, teamStore, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';

function caps(t: TestContext, store: 'dir' | 's3'): void {
  t.test(`bundle caps on the ${store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)'}`, async (t) => {
    const { base, cleanup } = tempBase(`vsync-caps-${store}-`);
    const repoName = `it_${randomBytes(4).toString('hex')}`;
    const key = generateKey();
    const a = await user(base, 'alice', repoName, { VSYNC_KEY: key, VSYNC_MAX_BUNDLE_ENTRIES: '2' });
    const b = await user(base, 'bob', repoName, { VSYNC_KEY: key });
    t.teardown(async () => {
      await a.agent.stop();
      await b.agent.stop();
      cleanup();
    });
    const { initArgs, remote } = await teamStore(t, store, a.home, 'vsync-caps');
    const ok = async (u: User, args: string[]) => {
      const res = await u.cli(args);
      t.equal(res.code, 0, `${u.name}: vsync ${args.join(' ')}: ${res.stderr}`);
      return res;
    };
    const versions = async () => (await remote.list(`${repoName}/dev/versions/`)).length;
    const folder = dirname(a.envFile());

    await ok(a, initArgs);
    writeFileSync(a.envFile(), 'A=1\n');
    writeFileSync(join(folder, 'b.json'), '{}\n');
    writeFileSync(join(folder, 'c.pem'), 'pem\n');
    const before = filesUnder(folder);
    const refused = await a.cli(['push', 'dev']);
    t.equal(refused.code, exitCodes.integrity, 'exit 4');
    t.match(
      refused.stderr,
      /^vsync: error: the bundle is over a cap on its files or bytes: infra\/vault\/dev\/ holds more than 2 \(VSYNC_MAX_BUNDLE_ENTRIES, or limits\.maxEntries in the vault's config\) files$/m,
    );
    t.match(refused.stderr, /^vsync: hint: nothing was written or extracted\. .*raise the cap the message names/m);
    t.equal(await versions(), 0, 'nothing reached the store');
    t.same(filesUnder(folder), before, 'the folder is as it was');

    // The vault's config wins over the agent's environment.
    const file = configFile(repoName, 'dev', { HOME: a.home });
    const config = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Record<string, unknown>;
    writeFileSync(file, gzipSync(JSON.stringify({ ...config, limits: { maxEntries: 3 } })));
    await ok(a, ['push', 'dev']);
    t.equal(await versions(), 1, "pushed under the config's cap");

    // Bob, on the defaults and with the config as it was shared before, pulls all three.
    shareConfig(a, b, repoName);
    await ok(b, ['pull', 'dev']);
    t.same(filesUnder(dirname(b.envFile())), before, "Bob has Alice's three files");

    // Back under the environment's cap of 2: one file too many again, refused again.
    writeFileSync(file, gzipSync(JSON.stringify(config)));
    writeFileSync(join(folder, 'd.txt'), 'd\n');
    t.equal((await a.cli(['push', 'dev'])).code, exitCodes.integrity, 'without limits in the config, the environment caps it');
    rmSync(join(folder, 'c.pem'));
    rmSync(join(folder, 'd.txt'));
    await ok(a, ['push', 'dev']);
    t.equal(await versions(), 2, 'two files fit the cap of 2');
  });
}

caps(t, 'dir');
if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) caps(t, 's3');
