import t from 'tap';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFolders } from '../../daemon/fs/make-folders.js';
import { tempBase } from '../helpers/vault-fixture.js';

t.test('makes the missing folders and says which was first, as mkdir -p would', async (t) => {
  const { base, cleanup } = tempBase('vsync-make-folders-');
  t.teardown(cleanup);
  mkdirSync(join(base, 'a'));
  t.equal(await makeFolders(join(base, 'a', 'b', 'c'), 0o700), join(base, 'a', 'b'));
  t.equal(statSync(join(base, 'a', 'b', 'c')).mode & 0o777, 0o700);
  t.equal(await makeFolders(join(base, 'a', 'b', 'c'), 0o700), undefined, 'all there: nothing made');
  writeFileSync(join(base, 'file'), 'x');
  await t.rejects(makeFolders(join(base, 'file', 'sub'), 0o700), { code: 'ENOTDIR' });
});

// Node's mkdir(…, { recursive: true }) never returns here: this test would hang (tap's timeout) on it.
t.test('under /proc it fails at once instead of spinning', { skip: process.platform !== 'linux' && 'needs procfs' }, async (t) => {
  await t.rejects(makeFolders('/proc/self/vsync/store/versions', 0o700), { code: /^(ENOENT|EACCES|EPERM)$/ });
});
