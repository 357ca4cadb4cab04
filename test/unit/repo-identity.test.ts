// Against real git repositories in temp folders: the three sources, in order.
import t from 'tap';
import { git } from '../../daemon/vault/git.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveRepoIdentity } from '../../daemon/vault/repo-identity.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'vsync-identity-')));
t.teardown(() => rmSync(base, { recursive: true, force: true }));

function gitRepo(name: string, origin?: string): string {
  const dir = join(base, name);
  mkdirSync(join(dir, 'infra', 'vault', 'dev'), { recursive: true });
  execFileSync('git', ['init', '-q', dir]);
  if (origin) execFileSync('git', ['-C', dir, 'remote', 'add', 'origin', origin]);
  return dir;
}

t.test('the origin remote, normalised, from any folder inside the repo', async (t) => {
  const dir = gitRepo('checkout-1', 'git@github.com:Acme/web.git');
  t.same(await resolveRepoIdentity(join(dir, 'infra', 'vault', 'dev')), { repo: 'acme_web', root: dir, source: 'origin', inGit: true });
});

t.test('.vsync at the top level wins over the remote', async (t) => {
  const dir = gitRepo('checkout-2', 'git@github.com:Acme/web.git');
  writeFileSync(join(dir, '.vsync'), '# vsync settings\nrepo=acme_platform\n');
  t.same(await resolveRepoIdentity(join(dir, 'infra')), { repo: 'acme_platform', root: dir, source: '.vsync', inGit: true });
});

t.test('a bad name in .vsync is refused, not rewritten', async (t) => {
  const dir = gitRepo('checkout-3');
  writeFileSync(join(dir, '.vsync'), 'repo=../Acme Web\n');
  await t.rejects(resolveRepoIdentity(dir), { code: 'NAME_INVALID', message: /\.vsync/ });
});

t.test('no remote: the top-level folder name, normalised', async (t) => {
  const dir = gitRepo('My-Project');
  t.same(await resolveRepoIdentity(join(dir, 'infra')), { repo: 'my_project', root: dir, source: 'folder', inGit: true });
});

t.test('outside git: the folder itself', async (t) => {
  const dir = join(base, 'plain-folder');
  mkdirSync(dir);
  t.same(await resolveRepoIdentity(dir), { repo: 'plain_folder', root: dir, source: 'folder', inGit: false });
});

t.test('a folder name with nothing usable asks for .vsync', async (t) => {
  const dir = join(base, '日本');
  mkdirSync(dir);
  await t.rejects(resolveRepoIdentity(dir), { code: 'NAME_INVALID', hint: /\.vsync/ });
});

t.test('git itself failing is an error, not a different name', async (t) => {
  const dir = gitRepo('checkout-4', 'git@github.com:Acme/web.git');
  const path = process.env.PATH;
  process.env.PATH = join(base, 'no-git-here');
  t.teardown(() => {
    process.env.PATH = path;
  });
  await t.rejects(resolveRepoIdentity(dir), { code: 'REPO_UNKNOWN', message: /git is not installed/ });
});

t.test("the cache answers without git while the repo's files are unchanged, and notices changes", async (t) => {
  const { RepoIdentityCache } = await import('../../daemon/vault/repo-identity-cache.js');
  const dir = gitRepo('checkout-5', 'git@github.com:Acme/web.git');
  const cache = new RepoIdentityCache();
  t.equal((await cache.resolve(dir)).repo, 'acme_web');
  const path = process.env.PATH;
  process.env.PATH = join(base, 'no-git-here');
  try {
    t.equal((await cache.resolve(dir)).repo, 'acme_web', 'answered from the cache: git is not even on PATH');
  } finally {
    process.env.PATH = path;
  }
  writeFileSync(join(dir, '.vsync'), 'repo=acme_renamed\n');
  t.equal((await cache.resolve(dir)).repo, 'acme_renamed', 'a new .vsync is seen');
  execFileSync('git', ['-C', dir, 'remote', 'set-url', 'origin', 'git@github.com:Acme/other.git']);
  rmSync(join(dir, '.vsync'));
  t.equal((await cache.resolve(dir)).repo, 'acme_other', 'a changed origin is seen');
});

t.test('git in a folder that does not exist says so, not that git is missing', async (t) => {
  await t.rejects(git('/nonexistent/vsync-checkout-gone', ['rev-parse', '--show-toplevel']), {
    code: 'REPO_UNKNOWN',
    message: /the folder does not exist/,
  });
});
