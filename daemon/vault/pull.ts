// pull <env> [--at <ts>]: the product page's six steps. The folder is backed up first; the version is
// checked (GCM tag, then the seal against the pointer, then the anti-rollback floor) before a byte of it is
// written; it is extracted into a staging folder and swapped in, so the folder is old or new, never a mix.
import { rm } from 'node:fs/promises';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { Progress } from '../../shared/progress.js';
import { unzipToStaging } from '../bundle/unzip-to-staging.js';
import { bundleFolder } from '../bundle/zip-folder.js';
import { decryptEnvelope } from '../crypto/envelope.js';
import { unseal } from '../crypto/seal.js';
import { parseTimestamp } from '../crypto/timestamp.js';
import { writeBackup } from './backups.js';
import { afterSync, beginSync, newer, readLocalState, syncedHere, writeLocalState, type LocalState } from './local-state.js';
import { pointerKey, versionKey } from './remote-layout.js';
import { settleLater } from './settle-later.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { folderExists, makeStaging, recoverSwap, stagingDigest, swapIn } from './vault-folder.js';

export interface PullOptions {
  /** A version by name: also how to go back to an older version on purpose. */
  readonly at?: string;
  /** Replace local edits that were never pushed (they are in the backup). */
  readonly force?: boolean;
}

export interface PullResult {
  readonly repo: string;
  readonly env: string;
  readonly version: string;
  readonly backup?: string;
  readonly folder: string;
}

export async function pull(deps: VaultDeps, ref: VaultRef, options: PullOptions, progress: Progress): Promise<PullResult> {
  if (options.at !== undefined) parseTimestamp(options.at);
  const vault = await openVault(deps, ref);
  const { repo, env } = ref;
  await recoverSwap(vault.folder);
  const step = (n: number, text: string) => progress({ kind: 'step', n, of: 6, text });
  const latest = pointerKey(repo, env);
  // The pointer and the version it names are fetched while the folder is backed up (steps 2 and 3 overlap
  // step 1); nothing is judged or written before the backup is done, and a local failure is reported first.
  const pointerRead = settleLater(readPointer(vault));
  const download = settleLater(
    pointerRead.then((pointer) => options.at ?? pointer?.ts).then((ts) => (ts === undefined ? undefined : vault.storage.get(versionKey(repo, env, ts)))),
  );
  const aesKey = await vault.aesKey();
  const state = await readLocalState(vault.stateFile);

  step(1, `backing up local ${vault.vaultFolder}/ (if any)`);
  let local: { zip: Buffer; digest: string; backup: string } | undefined;
  if (await folderExists(vault.folder)) {
    const current = await bundleFolder(ref.root, vault.vaultFolder);
    if (current.files > 0) {
      const backup = await writeBackup(aesKey, current.zip, repo, env, deps.environment, deps.now());
      progress({ kind: 'detail', text: `→ ${backup}` });
      local = { zip: current.zip, digest: current.digest, backup };
    }
  }

  step(2, `reading pointer ${vault.storage.describe(latest)}`);
  const pointer = await pointerRead;
  if (!pointer) throw new VsyncError('VAULT_EMPTY', `${vault.storage.describe(latest)} does not exist`);
  if (options.at === undefined && state.newestSeen !== undefined && pointer.ts < state.newestSeen) {
    throw new VsyncError('VAULT_ROLLBACK', `latest names ${pointer.ts}, but this machine has seen ${state.newestSeen}`);
  }
  const ts = options.at ?? pointer.ts;

  const key = versionKey(repo, env, ts);
  step(3, `downloading version ${ts} (${key})`);
  let envelope: Buffer;
  try {
    envelope = (await download)!.body;
  } catch (err) {
    if (!isVsyncError(err, 'STORAGE_NOT_FOUND')) throw err;
    const why = options.at === undefined ? `latest names ${ts}, but ${vault.storage.describe(key)} does not exist` : vault.storage.describe(key);
    throw new VsyncError('VAULT_VERSION_NOT_FOUND', why, { cause: err });
  }

  step(4, 'decrypting');
  const plaintext = decryptEnvelope(aesKey, envelope);
  step(5, 'verifying manifest ts');
  const sealed = unseal(plaintext);
  if (sealed.ts !== ts) {
    throw new VsyncError('VAULT_SEAL_MISMATCH', `asked for ${ts}, the bundle is sealed ${sealed.ts}`);
  }
  if (local && !options.force && local.digest !== syncedHere(state, ref.root, { pointer, folderDigest: local.digest })?.digest) {
    throw new VsyncError('VAULT_UNPUSHED_CHANGES', `${vault.vaultFolder}/ differs from the version this machine last synced; backup: ${local.backup}`);
  }

  step(6, `unzipping into ${ref.root}`);
  // Bundles are deterministic, so a folder that zips to exactly the pulled bytes already holds this version:
  // there is nothing to swap, and a pull that changes nothing writes nothing but its backup.
  const digest = local?.zip.equals(sealed.payload) ? local.digest : await replaceFolder(vault, sealed.payload, state, { ts, etag: pointer.etag });
  const next = afterSync(state, ref.root, { ts, etag: pointer.etag, digest }, newer(pointer.ts, ts)!);
  if (JSON.stringify(next) !== JSON.stringify(state)) await writeLocalState(vault.stateFile, next);
  return { repo, env, version: ts, ...(local ? { backup: local.backup } : {}), folder: ref.root };
}

/** Extracts `zip` beside the vault folder and swaps it in, with a pending record first; returns its digest. */
async function replaceFolder(vault: OpenVault, zip: Buffer, state: LocalState, sync: { ts: string; etag: string }): Promise<string> {
  const staging = await makeStaging(vault.folder);
  try {
    await unzipToStaging(zip, staging, vault.vaultFolder);
    const digest = await stagingDigest(staging);
    await writeLocalState(vault.stateFile, beginSync(state, vault.ref.root, { ...sync, digest }));
    await swapIn(vault.folder, staging);
    return digest;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
