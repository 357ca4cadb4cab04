// The bundle caps as settings (daemon/bundle/limits.ts): 1,000 files, 16 MiB a file and 64 MiB in all by
// default, raised or lowered by the agent's environment (deps.bundleLimits, from VSYNC_MAX_BUNDLE_ENTRIES,
// VSYNC_MAX_FILE_BYTES, VSYNC_MAX_BUNDLE_BYTES) or by a vault config's `limits`, which wins. A vault over a
// cap gets BUNDLE_TOO_LARGE naming the cap and where it is set, and loses nothing: the store gets no
// version, a pull leaves the folder as it was. Domain level over the in-memory store, two machines.
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { capText, resolveBundleLimits } from '../../daemon/bundle/limits.js';
import { readFolderState } from '../../daemon/vault/folder-state.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { openVault } from '../../daemon/vault/vault.js';
import { configFile } from '../../shared/paths.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { twoMachines, type Machine } from '../helpers/vault-fixture.js';

const quiet = () => undefined;
const folder = (m: Machine) => join(m.ref.root, 'infra', 'vault', 'dev');
const versions = async (store: MemoryStorage) => (await store.list('vsync/dev/versions/')).length;

/** `n` files of `bytes` bytes each in the machine's vault folder. */
function fill(m: Machine, n: number, bytes = 8): void {
  mkdirSync(folder(m), { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(join(folder(m), `f${String(i).padStart(5, '0')}`), 'x'.repeat(bytes));
}

/** The machine's deps as an agent started with these caps in its environment would have them. */
const withCaps = (m: Machine, bundleLimits: Record<string, number>): Machine => ({ ...m, deps: { ...m.deps, bundleLimits } });

/** The vault config with these limits, written as a user editing it would (gzip of JSON), checked by nothing. */
async function setConfigLimits(m: Machine, limits: Record<string, unknown>): Promise<void> {
  const file = configFile(m.ref.repo, m.ref.env, m.deps.environment);
  const config = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Record<string, unknown>;
  writeFileSync(file, gzipSync(JSON.stringify({ ...config, limits })));
}

t.test("over the agent's cap on a file: refused by name, nothing stored; raising it works for both machines", async (t) => {
  const { cleanup, storage, a, b } = await twoMachines('vsync-caps-', new MemoryStorage());
  t.teardown(cleanup);
  fill(a, 1, 2048);
  const alice = withCaps(a, { maxEntryBytes: 1024 });
  const refused = await push(alice.deps, alice.ref, {}, quiet).catch((e: unknown) => e);
  t.match(refused, { code: 'BUNDLE_TOO_LARGE' });
  t.match(
    String((refused as Error).message),
    /is larger than the cap of 1024 \(VSYNC_MAX_FILE_BYTES, or limits\.maxEntryBytes in the vault's config\) bytes a file/,
    'the message names the cap and where it is set',
  );
  t.equal(await versions(storage), 0, 'no version stored');

  const raised = withCaps(a, { maxEntryBytes: 4096 });
  await push(raised.deps, raised.ref, {}, quiet);
  t.equal(await versions(storage), 1, 'pushed once the cap is raised');
  t.equal(
    (await readFolderState(await openVault(raised.deps, raised.ref))).unpushed,
    false,
    "the folder's state is read under the same cap",
  );
  t.equal(
    ((await readFolderState(await openVault(alice.deps, alice.ref)).catch((e: unknown) => e)) as { code?: string }).code,
    'BUNDLE_TOO_LARGE',
    'and under the lower cap the folder is one no push would take',
  );

  mkdirSync(folder(b), { recursive: true });
  writeFileSync(join(folder(b), '.env.dev'), 'mine=1\n');
  const bob = withCaps(b, { maxEntryBytes: 1024 });
  const bobRefused = await pull(bob.deps, bob.ref, { force: true }, quiet).catch((e: unknown) => e);
  t.match(bobRefused, { code: 'BUNDLE_TOO_LARGE' }, 'a machine with the lower cap refuses the version');
  t.match(String((bobRefused as Error).message), /VSYNC_MAX_FILE_BYTES/, 'naming the cap');
  t.same(readdirSync(folder(b)), ['.env.dev'], 'and its folder is as it was');
  t.equal(readFileSync(join(folder(b), '.env.dev'), 'utf8'), 'mine=1\n');

  await pull(b.deps, b.ref, { force: true }, quiet);
  t.same(readdirSync(folder(b)), ['f00000'], 'on the defaults it pulls the file');
  t.equal(readFileSync(join(folder(b), 'f00000')).length, 2048);
});

t.test('the defaults: 1,000 files, 16 MiB a file, 64 MiB in all, each met by name', async (t) => {
  const limits = resolveBundleLimits();
  t.same(limits, { maxEntries: 1000, maxEntryBytes: 16 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024 });
  t.equal(capText(limits, 'maxEntries'), "1000 (VSYNC_MAX_BUNDLE_ENTRIES, or limits.maxEntries in the vault's config)");
  t.same(resolveBundleLimits({ maxEntries: 5 }), { ...limits, maxEntries: 5 }, 'a setting replaces its default alone');
});

t.test("a vault config's limits win over the environment, for each cap", async (t) => {
  const { cleanup, storage, a } = await twoMachines('vsync-caps-', new MemoryStorage());
  t.teardown(cleanup);
  const agent = withCaps(a, { maxEntries: 5000, maxEntryBytes: 1 << 20, maxTotalBytes: 1 << 22 });
  fill(a, 3, 2048);

  await setConfigLimits(a, { maxEntryBytes: 1024 });
  const perFile = await push(agent.deps, agent.ref, {}, quiet).catch((e: unknown) => e);
  t.match(perFile, { code: 'BUNDLE_TOO_LARGE' });
  t.match(
    String((perFile as Error).message),
    /is larger than the cap of 1024 \(VSYNC_MAX_FILE_BYTES, or limits\.maxEntryBytes in the vault's config\) bytes a file/,
  );

  await setConfigLimits(a, { maxTotalBytes: 4096 });
  const total = await push(agent.deps, agent.ref, {}, quiet).catch((e: unknown) => e);
  t.match(total, { code: 'BUNDLE_TOO_LARGE' });
  t.match(
    String((total as Error).message),
    /would take the bundle over its cap of 4096 \(VSYNC_MAX_BUNDLE_BYTES, or limits\.maxTotalBytes in the vault's config\) bytes/,
  );

  await setConfigLimits(a, { maxEntries: 2 });
  await t.rejects(push(agent.deps, agent.ref, {}, quiet), { code: 'BUNDLE_TOO_LARGE' }, 'a lower file count in the config wins too');
  t.equal(await versions(storage), 0, 'nothing was stored by any of them');

  await setConfigLimits(a, { maxEntries: 3, maxTotalBytes: 6144 });
  await push(agent.deps, agent.ref, {}, quiet);
  t.equal(await versions(storage), 1, 'exactly at the caps is within them');
});

t.test('limits that are not positive integers make the config invalid', async (t) => {
  const { cleanup, a } = await twoMachines('vsync-caps-', new MemoryStorage());
  t.teardown(cleanup);
  fill(a, 1);
  for (const bad of [{ maxEntries: 0 }, { maxEntryBytes: -1 }, { maxTotalBytes: 1.5 }, { maxEntries: '10' }, { maxTotalBytes: 2 ** 60 }]) {
    await setConfigLimits(a, bad);
    await t.rejects(push(a.deps, a.ref, {}, quiet), { code: 'CONFIG_INVALID' }, JSON.stringify(bad));
  }
});
