// A vault folder's next contents, extracted beside it and waiting to be swapped in (vault-folder.ts swapIn).
// A pull extracts while the backup of the folder it replaces is still being written; both pull and restore
// install it only after the last checks, and remove what is left whatever happens.
import { rm } from 'node:fs/promises';
import { unzipWithDigest } from '../bundle/unzip-to-staging.js';
import type { ZipInput } from '../bundle/zip-source.js';
import { span } from '../trace/span.js';
import { assertAsSeen, type Seen } from './folder-as-seen.js';
import { checkMayReplaceFolder, type OperationGuard } from './operation-guard.js';
import type { OpenVault } from './vault.js';
import { makeStaging, swapIn } from './vault-folder.js';

export interface StagedFolder {
  /** The staging folder, beside the vault folder. */
  readonly path: string;
  /** Its tree digest, taken from the bytes as they were written. */
  readonly digest: string;
}

/** Extracts `zip` into a new staging folder beside the vault folder; on failure, nothing is left of it. */
export async function stageFolder(vault: OpenVault, zip: ZipInput): Promise<StagedFolder> {
  const path = await makeStaging(vault.folder);
  try {
    const { digest } = await span('version.unzip', () => unzipWithDigest(zip, path, vault.vaultFolder, vault.limits));
    return { path, digest };
  } catch (err) {
    await removeStaging(path);
    throw err;
  }
}

/**
 * Swaps `staged` in for the vault folder, once the operation may still change it (not cancelled, this agent
 * still serving) and the folder is as it was seen; `beforeSwap` runs last, just before the renames (a
 * pull's pending record). Throws VAULT_CHANGED_DURING_PULL with the folder as it is now.
 */
export async function installStaged(
  guard: OperationGuard,
  vault: OpenVault,
  staged: StagedFolder,
  seen: Seen,
  beforeSwap?: () => Promise<void>,
): Promise<void> {
  // The extraction took a while: the last word before anything the user sees changes.
  await checkMayReplaceFolder(guard, vault.folder);
  await assertAsSeen(vault.folder, seen.read);
  await beforeSwap?.();
  await span('folder.swap', () => swapIn(vault.folder, staged.path, seen.unchanged));
}

/**
 * Removes what is left of a staging folder. One that cannot be removed must not turn a done swap into a
 * failure, nor hide the error that brought us here: the next operation on this vault, or the agent's start,
 * clears it (vault-folder.ts recoverSwap).
 */
export async function discardStaged(staged: StagedFolder | undefined): Promise<void> {
  if (staged) await removeStaging(staged.path);
}

const removeStaging = (path: string): Promise<void> => rm(path, { recursive: true, force: true }).catch(() => undefined);
