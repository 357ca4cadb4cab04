// pushFolder (daemon/vault/push.ts): a push on save reads the vault folder once, to decide, and pushes that
// same read instead of reading the folder again. What it pushes is exactly the read it was handed; only
// when a swap cut short had to be put right first (the folder was not there to read) does it read again.
import t from 'tap';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readFolder } from '../../daemon/bundle/zip-folder.js';
import { pull } from '../../daemon/vault/pull.js';
import { pushFolder } from '../../daemon/vault/push.js';
import { openVault } from '../../daemon/vault/vault.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { twoMachines, type Machine } from '../helpers/vault-fixture.js';

const quiet = () => undefined;
const envFile = (m: Machine) => join(m.ref.root, 'infra', 'vault', 'dev', '.env.dev');
const write = (m: Machine, text: string) => {
  mkdirSync(dirname(envFile(m)), { recursive: true });
  writeFileSync(envFile(m), text);
};

t.test('the read it is handed is what is pushed, not the folder as it is by then', async (t) => {
  const { cleanup, clock, a, b } = await twoMachines('vsync-push-read-', new MemoryStorage());
  t.teardown(cleanup);
  write(a, 'A=1\n');
  const vault = await openVault(a.deps, a.ref);
  const read = await readFolder(a.ref.root, vault.vaultFolder, vault.limits);
  write(a, 'A=2\n'); // saved after the read: the watcher will see it and push again
  const result = await pushFolder(a.deps, vault, read, {}, quiet);
  await pull(b.deps, b.ref, {}, quiet);
  t.equal(readFileSync(envFile(b), 'utf8'), 'A=1\n', 'the teammate gets what was read');

  clock.advance(1);
  const again = await pushFolder(a.deps, vault, undefined, {}, quiet);
  t.not(again.version, result.version, 'without a read, the folder is read now');
  clock.advance(1);
  await pull(b.deps, b.ref, {}, quiet);
  t.equal(readFileSync(envFile(b), 'utf8'), 'A=2\n');
});

t.test('a swap cut short is put right first, and then the folder is read again', async (t) => {
  const { cleanup, a, b } = await twoMachines('vsync-push-read-', new MemoryStorage());
  t.teardown(cleanup);
  write(a, 'stale=1\n');
  const vault = await openVault(a.deps, a.ref);
  const read = await readFolder(a.ref.root, vault.vaultFolder, vault.limits);
  // A pull killed mid-swap: the vault folder moved aside under its hidden old name, with other content.
  write(a, 'kept=1\n');
  renameSync(dirname(envFile(a)), join(dirname(dirname(envFile(a))), '.vsync-old-dev-0123abcd'));
  await pushFolder(a.deps, vault, read, {}, quiet);
  t.equal(readFileSync(envFile(a), 'utf8'), 'kept=1\n', 'the folder is back');
  await pull(b.deps, b.ref, {}, quiet);
  t.equal(readFileSync(envFile(b), 'utf8'), 'kept=1\n', 'and what was pushed is the folder put back, not the older read');
});
