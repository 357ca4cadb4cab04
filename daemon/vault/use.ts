// use [<env>]: points the repo's `.env` at `<vault folder>/.env.<env>` with a relative symlink, so
// switching envs is one command and `.env` never holds secrets of its own. A regular `.env` is never
// replaced. With no env, says where `.env` points.
import { lstat, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { tempPathFor } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import { gitExposure } from './git-exposure.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
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

export async function showUse(root: string): Promise<UseResult> {
  const link = join(root, '.env');
  return { link, ...(await linkState(link)) };
}

/**
 * Why `.env.<env>` is not in the vault folder, as the error that says what to do: nothing was ever pushed
 * (write it, then push), it was pushed but not pulled here (pull), or the store cannot tell us (offline).
 */
async function missingEnvFile(vault: OpenVault, target: string): Promise<VsyncError> {
  let pointer: Awaited<ReturnType<typeof readPointer>>;
  try {
    pointer = await readPointer(vault);
  } catch {
    return new VsyncError('USE_TARGET_MISSING', target);
  }
  const { env } = vault.ref;
  if (pointer === undefined)
    return new VsyncError('USE_NOTHING_PUSHED', `${target} (and nothing pushed to ${vault.storage.describe(`${vault.ref.repo}/${env}/`)})`);
  return new VsyncError('USE_NOT_PULLED', `${target} (the store has version ${pointer.ts})`);
}

export async function use(deps: VaultDeps, ref: VaultRef): Promise<UseResult> {
  const vault = await openVault(deps, ref);
  const { env, root } = ref;
  const target = posix.join(vault.vaultFolder, `.env.${env}`);
  const link = join(root, '.env');
  if ((await lstat(join(root, ...target.split('/'))).catch(() => undefined))?.isFile() !== true) throw await missingEnvFile(vault, target);
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
  const gitWarnings = (await gitExposure(root, vault.vaultFolder)).warnings;
  return { link, kind: 'symlink', target, ...(gitWarnings.length > 0 ? { gitWarnings } : {}) };
}
