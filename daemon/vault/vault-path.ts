// The vault folder must be where the config says, inside the checkout: a hostile commit can put a symlink
// anywhere on the way (`infra -> /home/victim/.ssh`, `infra/vault/dev -> /tmp/shared`), and a pull would
// then write decrypted secrets there, or a push read files from there. So every folder from the repo root
// down to the vault folder is lstat'ed: each must be a real folder (or not exist yet: a pull makes it), and
// the deepest one that exists must resolve inside the repo root. The repo root itself may sit under
// symlinks (`/home -> /usr/home`): that is the user's own machine, not the commit's doing.
import { lstat, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { isErrno } from '../fs/errno.js';

export async function assertVaultPathSafe(root: string, vaultFolder: string): Promise<void> {
  let path = root;
  let deepest = root;
  for (const segment of vaultFolder.split('/')) {
    path = join(path, segment);
    const info = await lstat(path).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    });
    if (!info) break; // the rest does not exist yet either
    if (info.isSymbolicLink()) throw new VsyncError('VAULT_PATH_UNSAFE', `${path} is a symlink`);
    if (!info.isDirectory()) throw new VsyncError('VAULT_PATH_UNSAFE', `${path} is not a folder`);
    deepest = path;
  }
  const [realRoot, realDeepest] = await Promise.all([realpath(root), realpath(deepest)]);
  if (realDeepest !== realRoot && !realDeepest.startsWith(realRoot + sep)) {
    throw new VsyncError('VAULT_PATH_UNSAFE', `${deepest} resolves to ${realDeepest}, outside the repo ${realRoot}`);
  }
}
