// Startup repair (daemon/vault/startup-repair.ts): the checkouts named in the local state files and the
// watch list have a cut swap put back, each on its own; whatever cannot be repaired is logged, never thrown.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { init } from '../../daemon/vault/init.js';
import { push } from '../../daemon/vault/push.js';
import { stateFile } from '../../daemon/vault/local-state.js';
import { folderExists } from '../../daemon/vault/vault-folder.js';
import { knownCheckouts, repairCheckouts } from '../../daemon/vault/startup-repair.js';
import { watchListFile, writeWatchList } from '../../daemon/watch/watch-list.js';
import { stateRoot, workFolder } from '../../shared/paths.js';
import { caught } from '../helpers/caught.js';
import type { TestContext } from '../helpers/tap-types.js';
import { Clock, machine, tempBase, type Machine } from '../helpers/vault-fixture.js';

function logs() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) } };
}

async function pushed(t: TestContext, env = 'dev'): Promise<{ m: Machine; folder: string; parent: string }> {
  const { base, cleanup } = tempBase('vsync-repair-');
  t.teardown(cleanup);
  const m = machine(base, 'alice', new MemoryStorage(), new MemoryKeychain(), new Clock(), env);
  await init(m.deps, m.ref, {});
  const parent = join(m.ref.root, 'infra', 'vault');
  const folder = join(parent, env);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, `.env.${env}`), 'A=1\n');
  await push(m.deps, m.ref, {}, m.progress);
  return { m, folder, parent };
}

/** As a SIGKILL between swapIn's two renames leaves it. */
function cut(parent: string, env = 'dev'): void {
  renameSync(join(parent, env), join(parent, `.vsync-old-${env}-0123abcd`));
  mkdirSync(join(parent, `.vsync-staging-${env}-AbC123`));
  writeFileSync(join(parent, `.vsync-staging-${env}-AbC123`, 'half'), 'half');
}

t.test('a checkout in a local state file: its cut swap is put back, the staging folder cleared, both logged', async (t) => {
  const { m, folder, parent } = await pushed(t);
  cut(parent);
  const { lines, log } = logs();
  await repairCheckouts(m.deps.environment, log);
  t.equal(readFileSync(join(folder, '.env.dev'), 'utf8'), 'A=1\n');
  t.same(readdirSync(parent), ['dev']);
  t.match(lines.join('\n'), /warn startup repair: .*infra\/vault\/dev was left as .*\.vsync-old-dev-0123abcd/);
  t.match(lines.join('\n'), /info startup repair: removed leftover .*\.vsync-staging-dev-AbC123/);
});

t.test('a checkout only in the watch list is repaired too', async (t) => {
  const { m, parent } = await pushed(t);
  writeFileSync(stateFile(m.ref.repo, 'dev', m.deps.environment), '{"version":1}\n'); // forgets the checkout
  writeFileSync(join(m.ref.root, '.vsync'), `repo=${m.ref.repo}\n`);
  t.same(await knownCheckouts(m.deps.environment, logs().log), []);
  await writeWatchList(watchListFile(m.deps.environment), [{ root: m.ref.root, env: 'dev', follow: false }]);
  t.same(await knownCheckouts(m.deps.environment, logs().log), [{ repo: m.ref.repo, env: 'dev', root: m.ref.root }]);
  cut(parent);
  await repairCheckouts(m.deps.environment, logs().log);
  t.same(readdirSync(parent), ['dev']);
});

t.test('nothing to repair, nothing known, nothing logged', async (t) => {
  const { m, parent } = await pushed(t);
  const { lines, log } = logs();
  await repairCheckouts(m.deps.environment, log);
  t.same(readdirSync(parent), ['dev']);
  t.same(lines, []);
  const { base, cleanup } = tempBase('vsync-repair-empty-');
  t.teardown(cleanup);
  await repairCheckouts({ HOME: base }, log);
  t.same(lines, [], 'a machine that never synced has nothing to repair');
});

t.test('what cannot be repaired is logged, and the others are still repaired', async (t) => {
  const { m, folder, parent } = await pushed(t);
  cut(parent);
  // A damaged state file of another vault, a vault whose config is gone, a root that no longer exists.
  mkdirSync(join(stateRoot(m.deps.environment), 'other'), { recursive: true });
  writeFileSync(join(stateRoot(m.deps.environment), 'other', 'dev.json'), 'not json');
  writeFileSync(
    join(stateRoot(m.deps.environment), m.ref.repo, 'gone.json'),
    JSON.stringify({ version: 1, synced: { '/nowhere': { ts: '20260101-000000', etag: 'e', digest: '0'.repeat(64) } } }),
  );
  const { lines, log } = logs();
  await repairCheckouts(m.deps.environment, log);
  t.ok(await folderExists(folder), 'the good checkout is repaired');
  t.match(lines.join('\n'), /warn startup repair: skipping .*other\/dev\.json: CONFIG_INVALID/);
  t.notMatch(lines.join('\n'), /gone/, "a vault without a config is not this machine's any more: silently skipped");
  t.notMatch(lines.join('\n'), /INTERNAL/);
});

t.test('a vault folder that cannot be looked at is refused, never taken for missing', async (t) => {
  const { base, cleanup } = tempBase('vsync-repair-');
  t.teardown(cleanup);
  const err = await caught(folderExists(join(base, 'x'.repeat(300))));
  t.match(err, { code: 'ENAMETOOLONG' }, 'ENAMETOOLONG is thrown (the old code said "no folder", and a pull then skipped its backup)');
  t.equal(await folderExists(join(base, 'missing')), false);
  writeFileSync(join(base, 'file'), '');
  t.equal(await folderExists(join(base, 'file', 'below')), false, 'ENOTDIR: not there');
});

t.test("the work folder of a killed agent is removed at start; this process's and a live process's stay", async (t) => {
  const { m } = await pushed(t);
  const folder = workFolder(m.deps.environment);
  // A small vault is sealed in memory (version-file.ts IN_MEMORY_BYTES): its push makes no work folder at all.
  t.notOk(existsSync(folder), 'a push leaves nothing in the work folder');
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  // A pid that no longer runs: a child that has exited.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
  t.teardown(() => live.kill());
  const names = [`${gone}-AbC123`, `${process.pid}-DeF456`, `${live.pid}-GhI789`];
  for (const name of names) {
    mkdirSync(join(folder, name));
    writeFileSync(join(folder, name, '20260516-113305.enc'), 'ciphertext');
  }
  const { lines, log } = logs();
  await repairCheckouts(m.deps.environment, log);
  t.same(readdirSync(folder).sort(), names.slice(1).sort(), "the dead agent's folder is removed; this process's and a live one's stay");
  t.match(lines.join('\n'), new RegExp(`info startup repair: removed .*${gone}-AbC123, left by a push or pull cut short`));
});
