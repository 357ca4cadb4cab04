// A pull extracts the verified version into a staging folder while the backup of the folder it replaces is
// still being written (pull.ts), and swaps it in only once every check passed. Whatever ends a pull early, no
// staging folder is left beside the vault folder, the folder is as it was, and the error reported is the
// first step's. And the checks before the swap come in two layers (folder-as-seen.ts): a change the quick
// listing misses is still caught on the swapped-out folder, and the swap undone.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import t from 'tap';
import { backupFolder } from '../../shared/paths.js';
import type { ReadOptions } from '../../daemon/storage/storage.js';
import { readFolder } from '../../daemon/bundle/zip-folder.js';
import { asSeen, seenAs } from '../../daemon/vault/folder-as-seen.js';
import { pull } from '../../daemon/vault/pull.js';
import { installStaged, stageFolder } from '../../daemon/vault/staged-folder.js';
import { openVault } from '../../daemon/vault/vault.js';
import { spans, type SpanContext } from '../../daemon/trace/span.js';
import { zipFolder } from '../../daemon/bundle/zip-folder.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { bobOneBehind, envFileOf, type Machine } from '../helpers/vault-fixture.js';

const vaultDir = (m: Machine) => join(m.ref.root, 'infra', 'vault', 'dev');
const envFile = envFileOf;
const write = (m: Machine, text: string) => writeFileSync(envFile(m), text);
const read = (m: Machine) => readFileSync(envFile(m), 'utf8');
const beside = (m: Machine) => readdirSync(dirname(vaultDir(m)));

const bobBehind = (storage = new MemoryStorage()) => bobOneBehind('vsync-pull-staging-', storage);

/** Makes Bob's backups folder a file: the backup, step 1, fails (ENOTDIR/EEXIST) after the download began. */
function breakBackups(b: Machine): void {
  const folder = backupFolder(b.ref.repo, b.deps.environment);
  mkdirSync(dirname(folder), { recursive: true });
  writeFileSync(folder, 'not a folder');
}

t.test('the backup fails while the version downloads and extracts: its error, the folder as it was, no staging left', async (t) => {
  const { cleanup, b } = await bobBehind();
  t.teardown(cleanup);
  breakBackups(b);
  const err = await pull(b.deps, b.ref, {}, () => undefined).catch((e: unknown) => e);
  t.match(err, { code: /^(EEXIST|ENOTDIR)$/ }, 'the backup is what failed');
  t.equal(read(b), 'v=1\n');
  t.same(beside(b), ['dev'], 'no staging folder beside the vault folder');
});

t.test('the backup fails while the download hangs: the pull ends with the backup error, and the download is stopped', async (t) => {
  const storage = new MemoryStorage();
  const { cleanup, b } = await bobBehind(storage);
  t.teardown(cleanup);
  let stopped: unknown;
  // A store that never sends the version: only the pull's own end (its abort) releases the download.
  const hung = Object.assign(Object.create(storage) as MemoryStorage, {
    download: (_key: string, _consume: unknown, options?: ReadOptions) =>
      new Promise((_resolve, reject) => {
        options?.signal?.addEventListener('abort', () => {
          stopped = options.signal?.reason;
          reject(options.signal?.reason);
        });
      }),
  });
  breakBackups(b);
  const err = await pull({ ...b.deps, storageFor: () => hung }, b.ref, {}, () => undefined).catch((e: unknown) => e);
  t.match(err, { code: /^(EEXIST|ENOTDIR)$/ }, 'the backup error, not a wait for the store');
  t.match(stopped, { code: 'AGENT_OPERATION_CANCELLED' }, 'the download was stopped as the pull ended');
  t.equal(read(b), 'v=1\n');
  t.same(beside(b), ['dev']);
});

t.test('unpushed edits refuse the pull after the version was extracted: no staging left, the edit stays', async (t) => {
  const { cleanup, b } = await bobBehind();
  t.teardown(cleanup);
  write(b, 'mine, never pushed\n');
  await t.rejects(
    pull(b.deps, b.ref, {}, () => undefined),
    { code: 'VAULT_UNPUSHED_CHANGES' },
  );
  t.equal(read(b), 'mine, never pushed\n');
  t.same(beside(b), ['dev']);
  await pull(b.deps, b.ref, { force: true }, () => undefined);
  t.equal(read(b), 'v=2\n', 'with --force it goes through');
  t.same(beside(b), ['dev']);
});

/** The names of the spans that started while `run` ran. */
async function spansOf(run: () => Promise<unknown>): Promise<string[]> {
  const started: string[] = [];
  const ignore = () => undefined;
  const handlers = {
    start: (ctx: SpanContext) => void started.push(ctx.name),
    end: ignore,
    asyncStart: ignore,
    asyncEnd: ignore,
    error: ignore,
  };
  spans.subscribe(handlers);
  try {
    await run();
  } finally {
    spans.unsubscribe(handlers);
  }
  return started;
}

t.test('a pull of a new version extracts it once; a pull with nothing new extracts nothing', async (t) => {
  const { cleanup, b } = await bobBehind();
  t.teardown(cleanup);
  const first = await spansOf(() => pull(b.deps, b.ref, {}, () => undefined));
  t.equal(first.filter((n) => n === 'version.unzip').length, 1, 'the new version: one extraction');
  t.ok(first.includes('folder.swap'));
  const again = await spansOf(() => pull(b.deps, b.ref, {}, () => undefined));
  t.notOk(again.includes('version.unzip'), 'nothing new: no extraction');
  t.notOk(again.includes('folder.swap'), 'and no swap');
  t.equal(read(b), 'v=2\n');
  t.same(beside(b), ['dev']);
});

t.test('a change the listing misses is caught on the swapped-out folder: the swap is undone, the change kept', async (t) => {
  const { cleanup, b } = await bobBehind();
  t.teardown(cleanup);
  const vault = await openVault(b.deps, b.ref);
  const seenRead = await readFolder(b.ref.root, vault.vaultFolder, vault.limits);
  const staged = await stageFolder(vault, await zipFolder(b.ref.root, vault.vaultFolder)); // any contents will do
  write(b, 'an edit with the same size: v=3\n'.slice(0, 4));
  t.equal(read(b), 'an e', 'the edit is made');
  // A listing that says "as read": what a write within one tick of the kernel's clock, to the same size, can look like.
  const blind = { ...seenRead, stillAsRead: async () => true };
  await t.rejects(installStaged({}, vault, staged, { read: blind, unchanged: asSeen(b.ref.root, seenRead.digest, vault.limits) }), {
    code: 'VAULT_CHANGED_DURING_PULL',
  });
  t.equal(read(b), 'an e', 'the folder is back, with the edit');
  t.same(beside(b).sort(), ['dev', staged.path.split('/').pop()].sort(), 'the staged folder is back in staging, for the caller to clear');
});

t.test('the listing that sees a change refuses before anything is renamed', async (t) => {
  const { cleanup, b } = await bobBehind();
  t.teardown(cleanup);
  const vault = await openVault(b.deps, b.ref);
  const seenRead = await readFolder(b.ref.root, vault.vaultFolder, vault.limits);
  const staged = await stageFolder(vault, await zipFolder(b.ref.root, vault.vaultFolder));
  writeFileSync(join(vaultDir(b), 'new.txt'), 'added after the read\n');
  let fullChecks = 0;
  const unchanged = async (path: string) => {
    fullChecks++;
    return asSeen(b.ref.root, seenRead.digest, vault.limits)(path);
  };
  await t.rejects(installStaged({}, vault, staged, { read: seenRead, unchanged }), { code: 'VAULT_CHANGED_DURING_PULL' });
  t.equal(fullChecks, 0, 'refused by the listing: the folder was never renamed, nor read again');
  t.equal(readFileSync(join(vaultDir(b), 'new.txt'), 'utf8'), 'added after the read\n');
});

t.test('the swapped-out folder is judged by a listing when no write could hide from one, else by its digest', async (t) => {
  const { cleanup, b } = await bobBehind();
  t.teardown(cleanup);
  const vault = await openVault(b.deps, b.ref);
  const real = await readFolder(b.ref.root, vault.vaultFolder, vault.limits);
  // The swap's first rename: the folder moves aside, keeping its inodes; the rename sets its ctime to now.
  const old = join(dirname(vaultDir(b)), '.vsync-old-dev-0123abcd');
  renameSync(vaultDir(b), old);
  // A read whose digest is wrong: the check answers "unchanged" only if it trusted the listing.
  const wrongDigest = 'f'.repeat(64);
  const settled = { ...real, digest: wrongDigest, quietMs: 10_000 };
  const fresh = { ...real, digest: wrongDigest, quietMs: 0 };
  t.equal(
    await seenAs(b.ref.root, settled, vault.limits).unchanged(old),
    true,
    'every file settled, the clocks agree: the listing decides',
  );
  t.equal(await seenAs(b.ref.root, fresh, vault.limits).unchanged(old), false, 'a file changed just before the read: the digest decides');
  const skewed = () => Date.now() + 5000;
  t.equal(
    await seenAs(b.ref.root, settled, vault.limits, skewed).unchanged(old),
    false,
    "the file system's clock is off: the digest decides",
  );
  t.equal(await seenAs(b.ref.root, { ...real, quietMs: 0 }, vault.limits).unchanged(old), true, 'and the right digest passes');
  writeFileSync(join(old, 'late.txt'), 'written through the old path\n');
  t.equal(await seenAs(b.ref.root, settled, vault.limits).unchanged(old), false, 'a file added after the read: the listing sees it');
});

t.test("a latest moved back behind this machine's floor is refused before its version is downloaded", async (t) => {
  const storage = new MemoryStorage();
  const { cleanup, b } = await bobBehind(storage);
  t.teardown(cleanup);
  const { version: newest } = await pull(b.deps, b.ref, {}, () => undefined); // v=2: the floor
  const older = (await storage.list('vsync/dev/versions/'))
    .map((o) =>
      o.key
        .split('/')
        .pop()!
        .replace(/\.enc$/, ''),
    )
    .find((ts) => ts !== newest)!;
  await storage.put('vsync/dev/latest', Buffer.from(older));
  const downloaded: string[] = [];
  const counting = Object.assign(Object.create(storage) as MemoryStorage, {
    download: ((key, consume, options) => {
      downloaded.push(key);
      return storage.download(key, consume, options);
    }) as MemoryStorage['download'],
  });
  const deps = { ...b.deps, storageFor: () => counting };
  await t.rejects(
    pull(deps, b.ref, {}, () => undefined),
    { code: 'VAULT_ROLLBACK' },
  );
  t.same(downloaded, [], 'nothing was downloaded');
  t.equal(read(b), 'v=2\n');
  t.same(beside(b), ['dev']);
  await pull(deps, b.ref, { at: older }, () => undefined);
  t.same(downloaded, [`vsync/dev/versions/${older}.enc`], 'asked for by name, it is downloaded (so the count can see one)');
  t.equal(read(b), 'v=1\n');
});
