// What `vsync run` starts a command with (POST /v1/env): one env file's variables, from the vault folder
// or the store's latest version, with every way the file can be wrong refused before anything starts, and
// the store's absence told apart from everything else (--offline-ok).
import t from 'tap';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { envValues } from '../../daemon/vault/env-file.js';
import { push } from '../../daemon/vault/push.js';
import type { ReadOptions, StoredObject, Consumer } from '../../daemon/storage/storage.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { envFileOf, twoMachines } from '../helpers/vault-fixture.js';

/** The in-memory store, with a switch that makes every read fail as an unreachable store does. */
class FlakyStorage extends MemoryStorage {
  down = false;
  override get(key: string, options?: ReadOptions): Promise<StoredObject> {
    return this.down ? Promise.reject(new VsyncError('STORAGE_TRANSIENT', `${key}: ECONNREFUSED`)) : super.get(key, options);
  }
  override download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    return this.down ? Promise.reject(new VsyncError('STORAGE_TRANSIENT', `${key}: ECONNREFUSED`)) : super.download(key, consume, options);
  }
}

async function day() {
  const d = await twoMachines('vsync-env-', new FlakyStorage());
  t.teardown(d.cleanup);
  return d;
}

t.test('the vault folder: .env.<env> by default, another file by --file, exactly as Node reads them', async (t) => {
  const { a } = await day();
  writeFileSync(envFileOf(a), 'export DB="postgres://x"\n# note\nMULTI="one\ntwo"\n');
  const folder = join(a.ref.root, 'infra', 'vault', 'dev');
  mkdirSync(join(folder, 'api'));
  writeFileSync(join(folder, 'api', 'secrets.env'), 'TOKEN=t0k\n');
  t.same(await envValues(a.deps, a.ref, {}), {
    repo: 'vsync',
    env: 'dev',
    file: '.env.dev',
    source: 'folder',
    variables: { DB: 'postgres://x', MULTI: 'one\ntwo' },
  });
  t.same((await envValues(a.deps, a.ref, { file: 'api/secrets.env' })).variables, { TOKEN: 't0k' });
});

t.test('a file that is not one to read: refused, with its own code, before anything is read', async (t) => {
  const { a, base } = await day();
  const folder = join(a.ref.root, 'infra', 'vault', 'dev');
  writeFileSync(join(base, 'outside'), 'STOLEN=1\n');
  await t.rejects(envValues(a.deps, a.ref, {}), { code: 'RUN_FILE_NOT_FOUND', message: /infra\/vault\/dev\/\.env\.dev/ });
  await t.rejects(envValues(a.deps, a.ref, { file: '../../../../outside' }), { code: 'RUN_FILE_INVALID' });
  await t.rejects(envValues(a.deps, a.ref, { file: '/etc/passwd' }), { code: 'RUN_FILE_INVALID' });
  symlinkSync(join(base, 'outside'), envFileOf(a));
  await t.rejects(envValues(a.deps, a.ref, {}), { code: 'RUN_FILE_INVALID', message: /symlink/ }, 'a symlink a commit planted');
  symlinkSync(base, join(folder, 'linked'));
  await t.rejects(
    envValues(a.deps, a.ref, { file: 'linked/outside' }),
    { code: 'RUN_FILE_INVALID', message: /symlink/ },
    'through a symlinked folder',
  );
  mkdirSync(join(folder, 'dir'));
  await t.rejects(envValues(a.deps, a.ref, { file: 'dir' }), { code: 'RUN_FILE_INVALID', message: /not a regular file/ });
  writeFileSync(join(folder, 'big.env'), Buffer.alloc(1024 * 1024 + 1, 0x41));
  await t.rejects(envValues(a.deps, a.ref, { file: 'big.env' }), { code: 'RUN_FILE_INVALID', message: /1048577 bytes/ });
  writeFileSync(join(folder, 'latin1.env'), Buffer.from([0x41, 0x3d, 0xe9, 0x0a]));
  await t.rejects(envValues(a.deps, a.ref, { file: 'latin1.env' }), { code: 'RUN_FILE_INVALID', message: /not UTF-8/ });
  await t.rejects(envValues(a.deps, { ...a.ref, env: 'qa' }, {}), { code: 'CONFIG_NOT_FOUND' });
});

t.test('--latest: from the store, whatever the folder holds; the store unreachable only falls back when asked', async (t) => {
  const { a, b, storage } = await day();
  await t.rejects(envValues(a.deps, a.ref, { latest: true }), { code: 'VAULT_EMPTY' });
  writeFileSync(envFileOf(a), 'V=pushed\n');
  const { version } = await push(a.deps, a.ref, {}, () => undefined);
  writeFileSync(envFileOf(a), 'V=local edit\n');
  t.same(await envValues(a.deps, a.ref, { latest: true }), {
    repo: 'vsync',
    env: 'dev',
    file: '.env.dev',
    source: 'version',
    version,
    variables: { V: 'pushed' },
  });
  t.same((await envValues(b.deps, b.ref, { latest: true })).variables, { V: 'pushed' }, 'a teammate with no folder yet');
  await t.rejects(envValues(a.deps, a.ref, { latest: true, file: 'other.env' }), {
    code: 'RUN_FILE_NOT_FOUND',
    message: new RegExp(`version ${version}`),
  });

  storage.down = true;
  await t.rejects(
    envValues(a.deps, a.ref, { latest: true }),
    { code: 'STORAGE_TRANSIENT', hint: /--offline-ok/ },
    'offline: said, not hidden',
  );
  const fallback = await envValues(a.deps, a.ref, { latest: true, offlineOk: true });
  t.same(fallback.source, 'folder');
  t.same(fallback.variables, { V: 'local edit' });
  t.match(fallback.offline, { code: 'STORAGE_TRANSIENT', message: /ECONNREFUSED/ });
  await t.rejects(envValues(b.deps, b.ref, { latest: true, offlineOk: true }), { code: 'RUN_FILE_NOT_FOUND' }, 'nothing to fall back on');
});
