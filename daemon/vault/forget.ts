// forget <env>: this machine lets go of a vault, so that `vsync init <env>` can start over, or a teammate's
// share file can be imported in its place. It removes the config, the key from the keychain and the sync
// record, after backing the key up: a share file (docs/FORMAT.md §12) under a new passphrase, which
// `vsync key import` takes back. The vault folder, the backups and the store are not touched.
//
// Order: the backup is written first and nothing is removed if it cannot be; then the key, then the config.
// A key the config's check does not match (or a key with no config) is still backed up, as its bare text:
// a key is never thrown away.
import { copyFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ForgetResult } from '../../shared/api.js';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { configFile, stateRoot } from '../../shared/paths.js';
import { formatTimestamp } from '../crypto/timestamp.js';
import { writeFileExclusive } from '../fs/atomic-write.js';
import { keychainAccount } from '../keychain/keychain.js';
import { exportKey } from './key-share.js';
import { stateFile } from './local-state.js';
import { assertRef, type VaultDeps, type VaultRef } from './vault.js';
import { makeFolders } from '../fs/make-folders.js';

export type { ForgetResult };

/** `<state>/forgotten/`: key backups, one file per forget, 0600 in a 0700 folder. */
export function forgottenFolder(deps: VaultDeps): string {
  return join(stateRoot(deps.environment), 'forgotten');
}

async function present(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The key text, or undefined when the keychain has none (or only provides keys, like VSYNC_KEY). */
async function storedKey(deps: VaultDeps, account: string): Promise<string | undefined> {
  if (!deps.keychain.writable) return undefined;
  try {
    return await deps.keychain.get(account);
  } catch (err) {
    if (isVsyncError(err, 'KEYCHAIN_NOT_FOUND')) return undefined;
    throw err;
  }
}

export async function forget(deps: VaultDeps, ref: VaultRef): Promise<ForgetResult> {
  assertRef(ref);
  const file = configFile(ref.repo, ref.env, deps.environment);
  const account = keychainAccount(ref.repo, ref.env);
  const hasConfig = await present(file);
  const key = await storedKey(deps, account);
  if (!hasConfig && key === undefined)
    throw new VsyncError('CONFIG_NOT_FOUND', `nothing to forget: no config at ${file} and no key for ${account}`);

  let backup: ForgetResult['backup'];
  if (key !== undefined) {
    const folder = forgottenFolder(deps);
    await makeFolders(folder, 0o700);
    const stem = join(folder, `${ref.repo}_${ref.env}-${formatTimestamp(deps.now())}`);
    try {
      if (!hasConfig) throw new VsyncError('CONFIG_NOT_FOUND', file);
      const share = await exportKey(deps, ref, { out: `${stem}.share`, folder });
      backup = { file: share.file, kind: 'share', ...(share.passphrase !== undefined ? { passphrase: share.passphrase } : {}) };
    } catch (err) {
      // No config, or a key it does not open: the bare key text, with the config beside it if there is one.
      if (!isVsyncError(err, 'CONFIG_NOT_FOUND') && !isVsyncError(err, 'KEY_MISMATCH') && !isVsyncError(err, 'CONFIG_INVALID')) throw err;
      const text = `# vsync key of ${account}, backed up by \`vsync forget\`; keep it as secret as the key itself\n${key}\n`;
      if (!(await writeFileExclusive(`${stem}.key`, text, 0o600))) throw new VsyncError('SHARE_FILE_EXISTS', `${stem}.key`);
      if (hasConfig) await copyFile(file, `${stem}.config`);
      backup = { file: `${stem}.key`, kind: 'key' };
    }
  }

  if (key !== undefined) await deps.keychain.delete(account);
  deps.keys.forget?.(ref.repo, ref.env);
  if (hasConfig) await rm(file);
  await rm(stateFile(ref.repo, ref.env, deps.environment), { force: true });
  return {
    repo: ref.repo,
    env: ref.env,
    ...(hasConfig ? { configFile: file } : {}),
    ...(key !== undefined ? { keychain: deps.keychain.name } : {}),
    ...(backup !== undefined ? { backup } : {}),
  };
}
