// backups <env> and backups restore <env> [<ts>]: this machine's pre-pull backups (backups.ts), listed, and
// one put back in place of the vault folder.
//
// Restore decrypts the chosen backup into a private file first (work-folder.ts), so a damaged, tampered or foreign backup is
// refused with nothing written at all: no new backup either, which (two are kept) could otherwise prune the
// one the user came for. Then the folder as it is now is backed up (backUpRead, sparing the chosen backup
// from the pruning until it is in place), and the backup is extracted into a staging folder and swapped in
// as pull does (staged-folder.ts), so a crash leaves the old folder or the restored one, never a mix.
//
// The sync record (local-state.ts) is left alone: a restored folder is the user's edit, not a version. Its
// digest differs from the last synced one unless it holds exactly that version, so a later pull asks for
// --force and a push pushes it, like any edit; a restore of the synced version is simply in step again.
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { backupFolder } from '../../shared/paths.js';
import type { Progress } from '../../shared/progress.js';
import { capText, maxArchiveBytes, type BundleLimits } from '../bundle/limits.js';
import { ENVELOPE_OVERHEAD } from '../crypto/envelope.js';
import { parseTimestamp } from '../crypto/timestamp.js';
import { isErrno } from '../fs/errno.js';
import { backUpRead, listBackups, readVaultFolder, pruneBackups, type Backup } from './backups.js';
import { readLocalState, syncedHere } from './local-state.js';
import { checkNotCancelled, type OperationGuard } from './operation-guard.js';
import { assertRef, openVault, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { recoverSwap } from './vault-folder.js';
import { seenAs, type Seen } from './folder-as-seen.js';
import { discardStaged, installStaged, stageFolder } from './staged-folder.js';
import { decryptToFile, sameZip, type ZipDigest } from './version-file.js';
import { withWorkFolder } from './work-folder.js';
import type { BackupsResult, RestoreResult } from '../../shared/api.js';

/** The backups of this repo and env on this machine. Needs neither the config nor the key. */
export async function backups(deps: VaultDeps, ref: VaultRef): Promise<BackupsResult> {
  assertRef(ref);
  return {
    repo: ref.repo,
    env: ref.env,
    folder: backupFolder(ref.repo, deps.environment),
    backups: await listBackups(ref.repo, ref.env, deps.environment),
  };
}

export interface RestoreOptions {
  /** A backup by timestamp; the newest when left out. */
  readonly ts?: string;
}

const STEPS = 3;

export async function restore(
  deps: VaultDeps & OperationGuard,
  ref: VaultRef,
  options: RestoreOptions,
  progress: Progress,
): Promise<RestoreResult> {
  if (options.ts !== undefined) parseTimestamp(options.ts);
  const vault = await openVault(deps, ref);
  const { repo, env } = ref;
  // Before anything reads the folder: a crash between swapIn's two renames left it under a hidden name.
  await recoverSwap(vault.folder);
  const step = (n: number, text: string) => progress({ kind: 'step', n, of: STEPS, text });

  const chosen = await chooseBackup(deps, ref, options.ts);
  const aesKey = await vault.aesKey();
  return withWorkFolder(deps.environment, async (work) => {
    step(1, `decrypting ${chosen.path}`);
    const zip = await readBackup(aesKey, chosen, env, vault.limits, join(await work(), 'backup.zip'));

    checkNotCancelled(deps);
    step(2, `backing up local ${vault.vaultFolder}/`);
    // An empty folder has no backup, and no backup is of an empty folder: its zip is never compared.
    const read = await readVaultFolder(vault);
    const written = read && (await backUpRead(aesKey, vault, read, deps.environment, deps.now(), { spare: chosen.path }));
    const backup = written?.path;
    progress({ kind: 'detail', text: backup ? `→ ${backup}` : `(nothing to back up: no file in ${vault.vaultFolder}/)` });

    step(3, `unzipping into ${ref.root}`);
    // Bundles are deterministic: a folder that zips to exactly these bytes already holds the backup.
    const seen = seenAs(ref.root, read, vault.limits);
    const restored =
      read && written && sameZip(written.zip, zip.digest) ? { digest: read.digest } : await replaceFolder(deps, vault, zip.path, seen);
    await pruneBackups(repo, env, deps.environment);

    const synced = syncedHere(await readLocalState(vault.stateFile), ref.root, { folderDigest: restored.digest });
    return {
      repo,
      env,
      restored: chosen.ts,
      from: chosen.path,
      ...(backup ? { backup } : {}),
      folder: ref.root,
      unpushed: synced ? synced.digest !== restored.digest : true,
      ...(synced ? { synced: synced.ts } : {}),
    };
  });
}

async function chooseBackup(deps: VaultDeps, ref: VaultRef, ts: string | undefined): Promise<Backup> {
  const { repo, env } = ref;
  const found = await listBackups(repo, env, deps.environment);
  const where = `${backupFolder(repo, deps.environment)}/${env}-*.zip.enc`;
  if (found.length === 0) throw new VsyncError('BACKUP_NONE', `no ${where}`);
  if (ts === undefined) return found[0]!;
  const named = found.find((b) => b.ts === ts);
  if (!named) throw new VsyncError('BACKUP_NOT_FOUND', `${ts} (this machine has ${found.map((b) => b.ts).join(', ')})`);
  return named;
}

/**
 * The backup decrypted into the new file `path`, once its GCM tag verified; a failure names the backup,
 * leaves no file, and writes nothing else.
 */
async function readBackup(
  aesKey: Buffer,
  backup: Backup,
  env: string,
  limits: BundleLimits,
  path: string,
): Promise<{ path: string; digest: ZipDigest }> {
  // A backup holds a bundle within the caps; anything far bigger is not one, and is not read at all.
  const cap = maxArchiveBytes(limits) + ENVELOPE_OVERHEAD;
  if (backup.size > cap) {
    throw new VsyncError(
      'BUNDLE_TOO_LARGE',
      `${backup.path} is ${backup.size} bytes, more than a bundle within the cap of ${capText(limits, 'maxTotalBytes')} bytes could be`,
    );
  }
  let source: FileHandle;
  try {
    source = await open(backup.path, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new VsyncError('BACKUP_NOT_FOUND', `${backup.path} went away`, { cause: err });
    throw err;
  }
  try {
    // The size judged above was the listing's; the file read is the one opened, cut off at the cap.
    const envelope = source.createReadStream({ start: 0, end: cap, autoClose: false });
    return { path, digest: (await decryptToFile(aesKey, envelope, path, false)).zip };
  } catch (err) {
    if (!isVsyncError(err)) throw err;
    throw new VsyncError(err.code, err.detail ? `${backup.path} (${err.detail})` : backup.path, {
      cause: err,
      hint: `nothing was restored or written: this backup is damaged, or was made under another key; \`vsync backups ${env}\` lists the others`,
    });
  } finally {
    await source.close();
  }
}

/** Extracts the zip file beside the vault folder and swaps it in; returns the new folder's digest. */
async function replaceFolder(guard: OperationGuard, vault: OpenVault, zip: string, seen: Seen): Promise<{ digest: string }> {
  const staged = await stageFolder(vault, { path: zip });
  try {
    // A cancelled restore, or a replaced agent, changes nothing; an edit made since step 2 is in no backup.
    await installStaged(guard, vault, staged, seen);
    return { digest: staged.digest };
  } finally {
    await discardStaged(staged);
  }
}
