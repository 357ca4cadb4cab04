// writeBackup (daemon/vault/backups.ts) and what the agent knows of the backups it wrote: a folder
// identical to the newest backup is not zipped again, and a backup changed by anyone since is not trusted
// from memory but decrypted to be compared, as before.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFolder } from '../../daemon/bundle/zip-folder.js';
import { listBackups, writeBackup, type BackupSource } from '../../daemon/vault/backups.js';

const aesKey = randomBytes(32);
const now = new Date(Date.UTC(2026, 4, 16, 11, 33, 4));

t.test('the same folder again: the newest backup, not even zipped; a changed or replaced backup is compared in full', async (t) => {
  const home = t.testdir();
  const root = join(home, 'repo');
  const vault = join(root, 'infra', 'vault', 'dev');
  mkdirSync(vault, { recursive: true });
  writeFileSync(join(vault, '.env.dev'), 'A=1\n');
  const environment = { HOME: home };
  let zips = 0;
  const source = async (): Promise<BackupSource> => {
    const read = await readFolder(root, 'infra/vault/dev');
    return {
      digest: read.digest,
      zip: () => {
        zips++;
        return read.zip();
      },
    };
  };
  const backup = async (at: Date) => writeBackup(aesKey, await source(), 'repo', 'dev', environment, at);

  const first = await backup(now);
  t.equal(zips, 1);
  const again = await backup(new Date(now.getTime() + 5_000));
  t.equal(again.path, first.path, 'the same folder: the newest backup');
  t.same(again.zip, first.zip);
  t.equal(zips, 1, 'and nothing was zipped for it');

  writeFileSync(join(vault, '.env.dev'), 'A=2\n');
  const second = await backup(new Date(now.getTime() + 10_000));
  t.not(second.path, first.path, 'a changed folder: a new backup');
  t.equal(zips, 2);

  // The newest backup replaced by bytes of its size that are not a backup of this folder (or of anything).
  const size = statSync(second.path).size;
  writeFileSync(second.path, randomBytes(size));
  const third = await backup(new Date(now.getTime() + 15_000));
  t.equal(zips, 3, 'a backup changed since it was written is not taken on trust: the folder is zipped');
  t.not(third.path, second.path, 'and, not matching, backed up anew');
  t.ok(readFileSync(third.path).length > 0);
  t.equal((await listBackups('repo', 'dev', environment)).length, 2, 'two kept');
});
