// use [<env>]: points the repo's `.env` at `<vault folder>/.env.<env>` with a relative symlink, so
// switching envs is one command and `.env` never holds secrets of its own. A regular `.env` is never
// replaced. With no env, says where `.env` points.
import { lstat, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { assertEnvName, assertRepoName } from '../../shared/names.js';
import { configFile, type Env } from '../../shared/paths.js';
import { tempPathFor } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import { readConfig, vaultFolderOf } from './config.js';
import { git } from './git.js';
import { assertVaultPathSafe } from './vault-path.js';
import type { UseResult } from '../../shared/api.js';

// The result is the wire contract's (shared/api.ts), not a shape of the domain's own.
export type { UseResult };

async function linkState(link: string): Promise<{ kind: UseResult['kind']; target?: string }> {
  try {
    const info = await lstat(link);
    if (info.isSymbolicLink()) return { kind: 'symlink', target: await readlink(link) };
    return { kind: 'file' };
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { kind: 'none' };
    throw err;
  }
}

async function isGitignored(root: string): Promise<boolean | undefined> {
  if ((await git(root, ['rev-parse', '--is-inside-work-tree'])) === undefined) return undefined;
  // check-ignore answers 0 for ignored and 1 (undefined here) for not ignored.
  return (await git(root, ['check-ignore', '-q', '--no-index', '.env'])) !== undefined;
}

export async function showUse(root: string): Promise<UseResult> {
  const link = join(root, '.env');
  return { link, ...(await linkState(link)), gitignored: await isGitignored(root) };
}

export async function use(environment: Env, repo: string, env: string, root: string): Promise<UseResult> {
  assertRepoName(repo);
  assertEnvName(env);
  const config = await readConfig(configFile(repo, env, environment));
  // `.env` must point into the checkout's own vault folder, not through a committed symlink to elsewhere.
  await assertVaultPathSafe(root, vaultFolderOf(config, env));
  const target = posix.join(vaultFolderOf(config, env), `.env.${env}`);
  const link = join(root, '.env');
  if ((await lstat(join(root, ...target.split('/'))).catch(() => undefined))?.isFile() !== true) {
    throw new VsyncError('USE_TARGET_MISSING', target);
  }
  const current = await linkState(link);
  if (current.kind === 'file') throw new VsyncError('USE_ENV_IS_FILE', link);
  // A new link beside the old one, renamed over it: `.env` is never missing, even for a moment.
  const temp = tempPathFor(link);
  await symlink(target, temp);
  try {
    await rename(temp, link);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  return { link, kind: 'symlink', target, gitignored: await isGitignored(root) };
}
