// An edit saved while a pull or a restore runs (after the folder was backed up and judged, before the swap)
// is in neither the backup nor the new folder: the swap must not drop it. Edits are made from the progress
// callback, at the step named, so the race is hit every time rather than by luck.
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { pull } from '../../daemon/vault/pull.js';
import { restore } from '../../daemon/vault/restore.js';
import { asSeen } from '../../daemon/vault/folder-as-seen.js';
import { makeStaging, swapIn } from '../../daemon/vault/vault-folder.js';
import { defaultBundleLimits } from '../../daemon/bundle/limits.js';
import { bundleFolder } from '../../daemon/bundle/zip-folder.js';
import type { ProgressEvent } from '../../shared/progress.js';
import { bobOneBehind, envFileOf, type Machine } from '../helpers/vault-fixture.js';
import { tempBase } from '../helpers/vault-fixture.js';

const envFile = envFileOf;
const write = (m: Machine, text: string) => writeFileSync(envFile(m), text);
const read = (m: Machine) => readFileSync(envFile(m), 'utf8');
const beside = (m: Machine) => readdirSync(dirname(dirname(envFile(m))));

/** A progress callback that saves `text` into the vault file when step `n` begins. */
const editAt = (m: Machine, n: number, text: string) => (event: ProgressEvent) => {
  if (event.kind === 'step' && event.n === n) write(m, text);
};

const bobBehind = () => bobOneBehind('vsync-edit-pull-', new MemoryStorage());

for (const [n, when] of [
  [3, 'while the version downloads'],
  [6, 'as the folder is about to be replaced'],
] as const) {
  for (const force of [false, true]) {
    t.test(`an edit saved ${when}${force ? ', with --force' : ''}: refused, and the edit stays`, async (t) => {
      const { cleanup, clock, b } = await bobBehind();
      t.teardown(cleanup);
      const err = await pull(b.deps, b.ref, { force }, editAt(b, n, 'saved mid-pull\n')).catch((e: unknown) => e);
      t.match(err, { code: 'VAULT_CHANGED_DURING_PULL' });
      t.equal(read(b), 'saved mid-pull\n', 'the edit is in the folder');
      t.same(beside(b), ['dev'], 'no staging or old folder left beside it');
      clock.advance(1);
      await t.rejects(
        pull(b.deps, b.ref, {}, () => undefined),
        { code: 'VAULT_UNPUSHED_CHANGES' },
        'and it counts as an unpushed edit',
      );
      t.equal(read(b), 'saved mid-pull\n');
      clock.advance(1);
      await pull(b.deps, b.ref, { force: true }, () => undefined);
      t.equal(read(b), 'v=2\n', 'a later --force pull (which backs it up first) replaces it');
    });
  }
}

t.test('a pull that nobody disturbs still swaps (the check does not refuse a quiet folder)', async (t) => {
  const { cleanup, b } = await bobBehind();
  t.teardown(cleanup);
  await pull(b.deps, b.ref, {}, () => undefined);
  t.equal(read(b), 'v=2\n');
});

t.test('an edit saved while a backup is restored: refused, and the edit stays', async (t) => {
  const { cleanup, clock, b } = await bobBehind();
  t.teardown(cleanup);
  const { backup } = await pull(b.deps, b.ref, {}, () => undefined); // backs up v=1
  const v1 = /-(\d{8}-\d{6})\.zip\.enc$/.exec(backup ?? '')?.[1];
  t.ok(v1, `the backup of v=1: ${backup}`);
  t.equal(read(b), 'v=2\n');
  clock.advance(1);
  const err = await restore(b.deps, b.ref, { ts: v1! }, editAt(b, 3, 'saved mid-restore\n')).catch((e: unknown) => e);
  t.match(err, { code: 'VAULT_CHANGED_DURING_PULL' });
  t.equal(read(b), 'saved mid-restore\n', 'the edit is in the folder');
  t.same(beside(b), ['dev'], 'no staging or old folder left beside it');
  clock.advance(1);
  await restore(b.deps, b.ref, { ts: v1! }, () => undefined);
  t.equal(read(b), 'v=1\n', 'undisturbed, the restore goes through');
});

t.test('a write into the folder as it is swapped out: the swap is undone, with the write', async (t) => {
  const { base, cleanup } = tempBase('vsync-swap-edit-');
  t.teardown(cleanup);
  const target = join(base, 'infra', 'vault', 'dev');
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, '.env.dev'), 'before\n');
  const seen = (await bundleFolder(base, 'infra/vault/dev')).digest;
  const staging = await makeStaging(target);
  writeFileSync(join(staging, '.env.dev'), 'pulled\n');
  const unchanged = asSeen(base, seen, defaultBundleLimits);
  // A writer that held the file open: its write lands in the folder after it was renamed away.
  const lateWriter = async (old: string) => {
    writeFileSync(join(old, '.env.dev'), 'written late\n');
    return unchanged(old);
  };
  await t.rejects(swapIn(target, staging, lateWriter), { code: 'VAULT_CHANGED_DURING_PULL' });
  t.equal(readFileSync(join(target, '.env.dev'), 'utf8'), 'written late\n', 'the folder is back, with the write');
  t.equal(readFileSync(join(staging, '.env.dev'), 'utf8'), 'pulled\n', 'the pulled folder is back in staging, for the caller to clear');
  t.same(readdirSync(join(base, 'infra', 'vault')).sort(), ['dev', staging.split('/').pop()].sort(), 'no hidden old folder left');

  const none = join(base, 'other', 'dev');
  t.equal(await asSeen(base, undefined, defaultBundleLimits)(none), true, 'no folder then, none now: unchanged');
  t.equal(await asSeen(base, seen, defaultBundleLimits)(none), false, 'a folder then, none now: changed');
  t.equal(await asSeen(base, undefined, defaultBundleLimits)(target), false, 'no folder then, one now: changed');
  t.equal(await asSeen(base, seen, defaultBundleLimits)(target), false, 'a folder with other content: changed');
});
