// pull <env> [--at <ts>]: the product page's six steps. The folder is backed up first; the version is
// checked (GCM tag, then the seal against the pointer, then the anti-rollback floor) before a byte of it is
// written; it is extracted into a staging folder and swapped in, so the folder is old or new, never a mix.
//
// A pull can be cancelled (its client went away, the agent is stopping: OperationGuard): every store call
// ends at once, and the local steps check at their boundaries. Just before the swap it checks again, that
// this agent still holds its lock, and that the floor has not moved past the version since it was read: a
// pull that hung on its download and is released late never installs what a newer pull already replaced.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { Progress } from '../../shared/progress.js';
import { unzipWithDigest } from '../bundle/unzip-to-staging.js';
import type { ZipInput } from '../bundle/zip-source.js';
import { FUTURE_SKEW_MS, isFromFuture, parseTimestamp } from '../crypto/timestamp.js';
import { backUpFolder } from './backups.js';
import { afterSync, beginSync, floorOf, floorPast, readLocalState, syncedHere, writeLocalState, type LocalState } from './local-state.js';
import { checkMayReplaceFolder, checkNotCancelled, type OperationGuard } from './operation-guard.js';
import { pointerKey, versionKey } from './remote-layout.js';
import { settleLater } from './settle-later.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { DEFAULT_MAX_VERSION_BYTES, VERSION_CAP_VARIABLE } from './version-cap.js';
import { makeStaging, recoverSwap, swapIn, type FolderCheck } from './vault-folder.js';
import { asSeen, assertAsSeen } from './folder-as-seen.js';
import { IN_MEMORY_BYTES, decryptToFile, decryptToMemory, sameZip, type ZipDigest } from './version-file.js';
import { withWorkFolder } from './work-folder.js';
import { span } from '../trace/span.js';
import type { PullResult } from '../../shared/api.js';

/** A downloaded version once its tag verified: the zip (in memory when small, else a work file), its seal, its digest. */
interface Pulled {
  readonly source: ZipInput;
  readonly ts: string | undefined;
  readonly zip: ZipDigest;
}

export interface PullOptions {
  /** A version by name: also how to go back to an older version on purpose. */
  readonly at?: string;
  /** Replace local edits that were never pushed (they are in the backup). */
  readonly force?: boolean;
}

export async function pull(deps: VaultDeps & OperationGuard, ref: VaultRef, options: PullOptions, progress: Progress): Promise<PullResult> {
  if (options.at !== undefined) parseTimestamp(options.at);
  const vault = await span('vault.open', () => openVault(deps, ref));
  await recoverSwap(vault.folder);
  // A large download is decrypted into a file in a work folder (work-folder.ts, version-file.ts). A pull that
  // ends before its download does (refused at step 2, a failed backup) stops the download too.
  return withWorkFolder(deps.environment, async (work) => {
    const downloading = new AbortController();
    try {
      return await pullInto(deps, vault, work, downloading.signal, options, progress);
    } finally {
      downloading.abort(new VsyncError('AGENT_OPERATION_CANCELLED', 'the pull this download was for has ended'));
    }
  });
}

async function pullInto(
  deps: VaultDeps & OperationGuard,
  vault: OpenVault,
  work: () => Promise<string>,
  signal: AbortSignal,
  options: PullOptions,
  progress: Progress,
): Promise<PullResult> {
  const { ref } = vault;
  const { repo, env } = ref;
  const step = (n: number, text: string) => progress({ kind: 'step', n, of: 6, text });
  const latest = pointerKey(repo, env);
  const now = deps.now();
  const maxBytes = deps.maxVersionBytes ?? DEFAULT_MAX_VERSION_BYTES;
  // The pointer and the version it names are fetched while the folder is backed up (steps 2 and 3 overlap
  // step 1); nothing is judged or extracted before the backup is done, and a local failure is reported
  // first. A `latest` from the future is not even downloaded: step 2 refuses it. The download is capped by
  // the size the store declares, and cut off if it sends more (storage.ts ReadOptions). It is decrypted as
  // it arrives, into memory when small, else into a private file outside the checkout, which holds the zip
  // once the GCM tag verified (version-file.ts); each attempt (a transfer the store cut short is retried)
  // starts again from nothing, in its own file.
  const pointerRead = settleLater(readPointer(vault));
  const keyRead = settleLater(vault.aesKey());
  let attempts = 0;
  const download = settleLater(
    pointerRead
      .then((pointer) => options.at ?? (pointer && !isFromFuture(pointer.ts, now) ? pointer.ts : undefined))
      .then(async (ts) => {
        if (ts === undefined) return undefined;
        const aesKey = await keyRead;
        return vault.storage.download(
          versionKey(repo, env, ts),
          async (body, info): Promise<Pulled> => {
            if (info.size <= IN_MEMORY_BYTES) {
              const { bytes, ...opened } = await decryptToMemory(aesKey, body, true);
              return { source: bytes, ...opened };
            }
            const path = join(await work(), `version-${++attempts}.zip`);
            return { source: { path }, ...(await decryptToFile(aesKey, body, path, true)) };
          },
          { maxBytes, signal },
        );
      }),
  );
  const aesKey = await keyRead;
  const state = await span('state.read', () => readLocalState(vault.stateFile));

  checkNotCancelled(deps);
  step(1, `backing up local ${vault.vaultFolder}/ (if any)`);
  const found = await backUpFolder(aesKey, vault, deps.environment, deps.now());
  const seen = found?.digest; // the folder's digest as judged and backed up; undefined: there was none
  const local = found?.backup && { zip: found.backup.zip, digest: found.digest, backup: found.backup.path };
  if (local) progress({ kind: 'detail', text: `→ ${local.backup}` });

  checkNotCancelled(deps);
  step(2, `reading pointer ${vault.storage.describe(latest)}`);
  const pointer = await pointerRead;
  if (!pointer) throw new VsyncError('VAULT_EMPTY', `${vault.storage.describe(latest)} does not exist`);
  const ahead = `more than ${FUTURE_SKEW_MS / 3_600_000} h after this machine's clock (${formatClock(now)})`;
  if (options.at === undefined && isFromFuture(pointer.ts, now)) {
    throw new VsyncError('VAULT_VERSION_FROM_FUTURE', `latest names ${pointer.ts}, ${ahead}; nothing was downloaded`);
  }
  const floor = floorOf(state, now);
  if (options.at === undefined && floor !== undefined && pointer.ts < floor) {
    throw new VsyncError('VAULT_ROLLBACK', `latest names ${pointer.ts}, but this machine has seen ${floor}`);
  }
  const ts = options.at ?? pointer.ts;
  // Asked for by name, as a rollback is: pulled, but said out loud, and never made the floor (afterSync).
  if (isFromFuture(ts, now))
    progress({ kind: 'warning', text: `version ${ts} is named ${ahead}; pulled because it was asked for by name` });

  const key = versionKey(repo, env, ts);
  step(3, `downloading version ${ts} (${key})`);
  let pulled: Pulled;
  try {
    pulled = (await download)!;
  } catch (err) {
    if (isVsyncError(err, 'STORAGE_OBJECT_TOO_LARGE')) {
      throw new VsyncError('VAULT_VERSION_TOO_LARGE', `${err.detail ?? key} (${VERSION_CAP_VARIABLE}=${maxBytes}); nothing was written`, {
        cause: err,
      });
    }
    if (isVsyncError(err, 'STORAGE_NOT_FOUND')) {
      const why =
        options.at === undefined ? `latest names ${ts}, but ${vault.storage.describe(key)} does not exist` : vault.storage.describe(key);
      throw new VsyncError('VAULT_VERSION_NOT_FOUND', why, { cause: err });
    }
    // Decrypting and unsealing ran with the download; their failures belong to the steps that name them.
    if (isVsyncError(err, 'DECRYPT_FAILED', 'ENVELOPE_TRUNCATED', 'ENVELOPE_UNKNOWN_FORMAT')) step(4, 'decrypting');
    if (isVsyncError(err, 'SEAL_INVALID')) {
      step(4, 'decrypting');
      step(5, 'verifying manifest ts');
    }
    throw err;
  }

  step(4, 'decrypting');
  step(5, 'verifying manifest ts');
  if (pulled.ts !== ts) {
    throw new VsyncError('VAULT_SEAL_MISMATCH', `asked for ${ts}, the bundle is sealed ${pulled.ts}`);
  }
  if (local && !options.force && local.digest !== syncedHere(state, ref.root, { pointer, folderDigest: local.digest })?.digest) {
    throw new VsyncError(
      'VAULT_UNPUSHED_CHANGES',
      `${vault.vaultFolder}/ differs from the version this machine last synced; backup: ${local.backup}`,
    );
  }

  step(6, `unzipping into ${ref.root}`);
  await checkMayReplaceFolder(deps, vault.folder);
  // Read again, not the state read before the download: another pull may have raised the floor since.
  const past = options.at === undefined ? await span('state.read', () => floorPast(vault.stateFile, ts, now)) : undefined;
  if (past !== undefined) {
    throw new VsyncError(
      'VAULT_ROLLBACK',
      `this pull was installing ${ts}, but this machine has since seen ${past}; the folder was left as it was`,
    );
  }
  // Bundles are deterministic, so a folder that zips to exactly the pulled bytes already holds this version:
  // there is nothing to swap, and a pull that changes nothing writes nothing but its backup.
  const digest =
    local && sameZip(local.zip, pulled.zip)
      ? local.digest
      : await replaceFolder(deps, vault, pulled.source, state, { ts, etag: pointer.etag }, now, asSeen(ref.root, seen, vault.limits));
  const next = afterSync(state, ref.root, { ts, etag: pointer.etag, digest }, newerPlausible(pointer.ts, ts, now), now);
  if (JSON.stringify(next) !== JSON.stringify(state)) await span('state.write', () => writeLocalState(vault.stateFile, next, now));
  return { repo, env, version: ts, ...(local ? { backup: local.backup } : {}), folder: ref.root };
}

/** Extracts the zip into a staging folder beside the vault folder and swaps it in, with a pending record first; returns its digest. */
async function replaceFolder(
  guard: OperationGuard,
  vault: OpenVault,
  zip: ZipInput,
  state: LocalState,
  sync: { ts: string; etag: string },
  now: Date,
  unchanged: FolderCheck,
): Promise<string> {
  const staging = await makeStaging(vault.folder);
  try {
    const { digest } = await span('version.unzip', () => unzipWithDigest(zip, staging, vault.vaultFolder, vault.limits));
    // The extraction took a while: the last word before anything the user sees changes.
    await checkMayReplaceFolder(guard, vault.folder);
    await assertAsSeen(vault.folder, unchanged);
    await span('state.write', () => writeLocalState(vault.stateFile, beginSync(state, vault.ref.root, { ...sync, digest }), now));
    await span('folder.swap', () => swapIn(vault.folder, staging, unchanged));
    return digest;
  } finally {
    // A staging folder that cannot be removed must not turn a done swap into a failure, nor hide the error that
    // brought us here: the next operation on this vault, or the agent's start, clears what is left.
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The later of the pointer's version and the pulled one that is not from the future: what the floor may rise to. */
function newerPlausible(a: string, b: string, now: Date): string | undefined {
  const candidates = [a, b].filter((ts) => !isFromFuture(ts, now));
  return candidates.sort().pop();
}

/** The clock as a timestamp would name it, or its ISO text where a timestamp cannot (JS dates beyond 9999). */
function formatClock(now: Date): string {
  return Number.isNaN(now.getTime()) ? 'an invalid date' : now.toISOString();
}
