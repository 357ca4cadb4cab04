// pull <env> [--at <ts>]: the product page's six steps. The folder is backed up first; the version is
// checked (GCM tag, then the seal against the pointer, then the anti-rollback floor) before a byte of it is
// written; it is extracted into a staging folder while the backup is written, and swapped in once every check
// passed, so the folder is old or new, never a mix.
//
// A pull can be cancelled (its client went away, the agent is stopping: OperationGuard): every store call
// ends at once, and the local steps check at their boundaries. Just before the swap it checks again, that
// this agent still holds its lock, and that the floor has not moved past the version since it was read: a
// pull that hung on its download and is released late never installs what a newer pull already replaced.
import { join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { Progress } from '../../shared/progress.js';
import type { ZipInput } from '../bundle/zip-source.js';
import { FUTURE_SKEW_MS, isFromFuture, parseTimestamp } from '../crypto/timestamp.js';
import { backUpRead, readVaultFolder } from './backups.js';
import { afterSync, beginSync, floorOf, floorPast, readLocalState, syncedHere, writeLocalState, type LocalState } from './local-state.js';
import { checkMayReplaceFolder, checkNotCancelled, type OperationGuard } from './operation-guard.js';
import { pointerKey, versionKey } from './remote-layout.js';
import { settleLater } from './settle-later.js';
import { openVault, readPointer, type OpenVault, type Pointer, type VaultDeps, type VaultRef } from './vault.js';
import { DEFAULT_MAX_VERSION_BYTES, VERSION_CAP_VARIABLE } from './version-cap.js';
import { recoverSwap } from './vault-folder.js';
import { seenAs } from './folder-as-seen.js';
import { discardStaged, installStaged, stageFolder, type StagedFolder } from './staged-folder.js';
import { IN_MEMORY_BYTES, decryptToFile, decryptToMemory, sameZip, type ZipDigest } from './version-file.js';
import { withWorkFolder } from './work-folder.js';
import { folderAgainst } from './diff/difference.js';
import { explainDecryptFailure } from './key-history.js';
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
  const pointerRead = settleLater(readPointer(vault));
  const aesKey = await vault.aesKey();
  const state = await span('state.read', () => readLocalState(vault.stateFile));
  // The pointer is judged, and the version it names fetched, while the folder is backed up (steps 2 and 3
  // overlap step 1), but a local failure is reported first. A `latest` from the future, or behind this
  // machine's floor, is not even downloaded: step 2 refuses it. The download is capped by the size the store
  // declares, and cut off if it sends more (storage.ts ReadOptions). It is decrypted as it arrives, into
  // memory when small, else into a private file outside the checkout, which holds the zip once the GCM tag
  // verified (version-file.ts); each attempt (a transfer the store cut short is retried) starts again from
  // nothing, in its own file.
  const judged = settleLater(pointerRead.then((pointer) => judgePointer(vault, pointer, state, options.at, now)));
  let attempts = 0;
  const download = settleLater(
    judged.then(({ ts }) =>
      vault.storage.download(
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
      ),
    ),
  );

  checkNotCancelled(deps);
  step(1, `backing up local ${vault.vaultFolder}/ (if any)`);
  const read = await readVaultFolder(vault);
  const backingUp = settleLater(read ? backUpRead(aesKey, vault, read, deps.environment, deps.now()) : Promise.resolve(undefined));
  // The verified version is extracted into a staging folder while the backup is written: both are most of a
  // large pull, and neither touches the vault folder. Nothing is swapped in before every check below passed,
  // and the staging folder goes whatever happens. Not when the folder seems to hold that version already (the
  // version this checkout last synced, unchanged): the backup's zip will tell, and most likely nothing is written.
  let ended = false;
  let extracting: Promise<StagedFolder> | undefined;
  const staging = settleLater(
    Promise.all([judged, download]).then(([{ ts }, pulled]) => {
      const synced = syncedHere(state, ref.root, { folderDigest: read?.digest });
      const holdsIt = read !== undefined && synced?.ts === ts && synced.digest === read.digest;
      if (ended || pulled.ts !== ts || holdsIt) return undefined;
      extracting = stageFolder(vault, pulled.source);
      return extracting;
    }),
  );
  let staged: StagedFolder | undefined;
  try {
    const backup = await backingUp;
    if (backup) progress({ kind: 'detail', text: `→ ${backup.path}` });

    checkNotCancelled(deps);
    step(2, `reading pointer ${vault.storage.describe(latest)}`);
    const { pointer, ts } = await judged;
    // Asked for by name, as a rollback is: pulled, but said out loud, and never made the floor (afterSync).
    if (isFromFuture(ts, now)) {
      progress({ kind: 'warning', text: `version ${ts} is named ${aheadOf(now)}; pulled because it was asked for by name` });
    }

    const key = versionKey(repo, env, ts);
    step(3, `downloading version ${ts} (${key})`);
    let pulled: Pulled;
    try {
      pulled = await download;
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
      // Under a key this machine does not hold (a rotation): said as such, not as altered data.
      throw await explainDecryptFailure(vault, ts, err);
    }

    step(4, 'decrypting');
    step(5, 'verifying manifest ts');
    if (pulled.ts !== ts) {
      throw new VsyncError('VAULT_SEAL_MISMATCH', `asked for ${ts}, the bundle is sealed ${pulled.ts}`);
    }
    if (read && backup && !options.force && read.digest !== syncedHere(state, ref.root, { pointer, folderDigest: read.digest })?.digest) {
      const differs = await folderAgainst(deps, vault, aesKey, ts, pulled.source);
      throw new VsyncError(
        'VAULT_UNPUSHED_CHANGES',
        `${vault.vaultFolder}/ differs from the version this machine last synced; backup: ${backup.path}${differs}`,
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
    let digest: string;
    if (read && backup && sameZip(backup.zip, pulled.zip)) {
      digest = read.digest;
    } else {
      staged = (await staging) ?? (await stageFolder(vault, pulled.source));
      const sync = { ts, etag: pointer.etag, digest: staged.digest };
      const seen = seenAs(ref.root, read, vault.limits);
      await installStaged(deps, vault, staged, seen, () =>
        span('state.write', () => writeLocalState(vault.stateFile, beginSync(state, ref.root, sync), now)),
      );
      digest = staged.digest;
    }
    const next = afterSync(state, ref.root, { ts, etag: pointer.etag, digest }, newerPlausible(pointer.ts, ts, now), now);
    if (JSON.stringify(next) !== JSON.stringify(state)) await span('state.write', () => writeLocalState(vault.stateFile, next, now));
    return { repo, env, version: ts, ...(backup ? { backup: backup.path } : {}), folder: ref.root };
  } finally {
    // An extraction still running (the pull failed or was refused first) ends before its folder goes; one
    // not started by now never starts (a download still under way is stopped once this returns: pull()).
    ended = true;
    await discardStaged(await extracting?.catch(() => undefined));
    await discardStaged(staged);
  }
}

/**
 * Step 2: the version to pull, and the pointer read. VAULT_EMPTY without one; unless a version is asked for by
 * name, VAULT_VERSION_FROM_FUTURE for a `latest` from the future and VAULT_ROLLBACK for one older than this
 * machine's floor.
 */
function judgePointer(
  vault: OpenVault,
  pointer: Pointer | undefined,
  state: LocalState,
  at: string | undefined,
  now: Date,
): { pointer: Pointer; ts: string } {
  const latest = pointerKey(vault.ref.repo, vault.ref.env);
  if (!pointer) throw new VsyncError('VAULT_EMPTY', `${vault.storage.describe(latest)} does not exist`);
  if (at === undefined && isFromFuture(pointer.ts, now)) {
    throw new VsyncError('VAULT_VERSION_FROM_FUTURE', `latest names ${pointer.ts}, ${aheadOf(now)}; nothing was downloaded`);
  }
  const floor = floorOf(state, now);
  if (at === undefined && floor !== undefined && pointer.ts < floor) {
    throw new VsyncError('VAULT_ROLLBACK', `latest names ${pointer.ts}, but this machine has seen ${floor}`);
  }
  return { pointer, ts: at ?? pointer.ts };
}

const aheadOf = (now: Date) => `more than ${FUTURE_SKEW_MS / 3_600_000} h after this machine's clock (${formatClock(now)})`;

/** The later of the pointer's version and the pulled one that is not from the future: what the floor may rise to. */
function newerPlausible(a: string, b: string, now: Date): string | undefined {
  const candidates = [a, b].filter((ts) => !isFromFuture(ts, now));
  return candidates.sort().pop();
}

/** The clock as a timestamp would name it, or its ISO text where a timestamp cannot (JS dates beyond 9999). */
function formatClock(now: Date): string {
  return Number.isNaN(now.getTime()) ? 'an invalid date' : now.toISOString();
}
