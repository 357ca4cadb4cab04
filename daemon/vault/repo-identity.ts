// Which repo a working folder belongs to, and so which `<repo>/` its vaults live under (docs/FORMAT.md §8):
// a committed `.vsync` file (`repo=<name>`) at the git top level, else the `origin` remote normalised, else
// the top-level folder's name normalised. Teammates get the same name from the same clone without any setup.
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { assertRepoName, normaliseRepoName } from '../../shared/names.js';
import { isErrno } from '../fs/errno.js';
import { git } from './git.js';

export interface RepoIdentity {
  /** The repo name: the first segment of every store key and keychain account of this repo. */
  readonly repo: string;
  /** The git top level (or the folder itself outside git): vault folders are relative to it. */
  readonly root: string;
  readonly source: '.vsync' | 'origin' | 'folder';
  /** Whether `root` is a git checkout's top level (else it is the folder asked about, outside git). */
  readonly inGit: boolean;
}

/** The `repo=` line of a `.vsync` file; undefined when there is no file or no such line. */
async function repoFromDotfile(root: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, '.vsync'), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*repo\s*=\s*(.*?)\s*$/.exec(line);
    if (m) return m[1]!;
  }
  return undefined;
}

export async function resolveRepoIdentity(cwd: string): Promise<RepoIdentity> {
  const top = await git(cwd, ['rev-parse', '--show-toplevel']);
  const root = top || resolve(cwd);
  const inGit = Boolean(top);

  const declared = await repoFromDotfile(root);
  if (declared !== undefined) {
    // A name someone wrote down is used exactly as written or refused, never silently rewritten.
    try {
      assertRepoName(declared);
    } catch (err) {
      throw new VsyncError('NAME_INVALID', `repo ${JSON.stringify(declared.slice(0, 120))} in ${join(root, '.vsync')}`, {
        cause: err,
        hint: 'fix the repo= line: only a-z, 0-9, "." and "_", not starting with ".", at most 100 characters',
      });
    }
    return { repo: declared, root, source: '.vsync', inGit };
  }

  const origin = await git(root, ['config', '--get', 'remote.origin.url']);
  const fromOrigin = origin ? normaliseRepoName(origin) : undefined;
  if (fromOrigin !== undefined) return { repo: fromOrigin, root, source: 'origin', inGit };

  const fromFolder = normaliseRepoName(basename(root));
  if (fromFolder !== undefined) return { repo: fromFolder, root, source: 'folder', inGit };

  throw new VsyncError('NAME_INVALID', `no repo name can be made from ${JSON.stringify(basename(root))}`, {
    hint: `write a .vsync file at ${root} with a line repo=<name>, and commit it`,
  });
}

/**
 * Names the repo at `root` by writing its `.vsync` (`init --repo`): created only if absent, never over a
 * file (or a symlink) that is there. Returns the file's path.
 */
export async function declareRepo(root: string, repo: string): Promise<string> {
  assertRepoName(repo);
  const file = join(root, '.vsync');
  await writeFile(file, `# vsync: this repo's name in the store and the keychain; commit this file\nrepo=${repo}\n`, {
    flag: 'wx',
    mode: 0o644,
  });
  return file;
}
