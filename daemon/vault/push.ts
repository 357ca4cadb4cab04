// push <env>: the product page's five steps. The version is written put-if-absent; `latest` moves only if
// it is still where this machine last synced it (put-if-match), so two teammates can never silently
// overwrite each other's push.
import { join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { Progress } from '../../shared/progress.js';
import { readFolder, type FolderRead } from '../bundle/zip-folder.js';
import { FUTURE_SKEW_MS, isFromFuture, nextTimestamp } from '../crypto/timestamp.js';
import { objectExists, type Storage } from '../storage/storage.js';
import { afterSync, beginSync, floorOf, newer, readLocalState, syncedHere, writeLocalState } from './local-state.js';
import { checkNotCancelled, type OperationGuard } from './operation-guard.js';
import { pointerKey, versionKey } from './remote-layout.js';
import { settleLater } from './settle-later.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { recoverSwap } from './vault-folder.js';
import { sealVersion } from './version-file.js';
import { withWorkFolder } from './work-folder.js';
import { folderAgainst } from './diff/difference.js';
import { toContents } from './diff/compare.js';
import { vaultMasking } from './diff/compare.js';
import { metaOf, writeMeta } from './version-meta.js';
import { isRotatedPast, readKeyHistory } from './key-history.js';
import { toVsyncError } from '../../shared/error-conversion.js';
import { span } from '../trace/span.js';
import type { PushResult } from '../../shared/api.js';

export interface PushOptions {
  /** Replace the remote latest even if it moved since this machine last synced. */
  readonly force?: boolean;
  /** A warning to show before uploading, if any: a store that ignores conditional writes (doctor/write-safety.ts). */
  readonly storeWarning?: (storage: Storage, ref: VaultRef) => Promise<string | undefined>;
}

export async function push(deps: VaultDeps & OperationGuard, ref: VaultRef, options: PushOptions, progress: Progress): Promise<PushResult> {
  return pushFolder(deps, await span('vault.open', () => openVault(deps, ref)), undefined, options, progress);
}

/**
 * push, for a caller that has already opened the vault and read its folder to decide to push (a push on
 * save): that read is what is pushed, unless a swap cut short had to be put right first.
 */
export async function pushFolder(
  deps: VaultDeps & OperationGuard,
  vault: OpenVault,
  read: FolderRead | undefined,
  options: PushOptions,
  progress: Progress,
): Promise<PushResult> {
  const { ref } = vault;
  const { repo, env } = ref;
  const recovered = await recoverSwap(vault.folder);
  const step = (n: number, text: string) => progress({ kind: 'step', n, of: 5, text });

  step(1, `zipping ${vault.vaultFolder}/`);
  // The pointer read goes out while the folder is read; a local failure is still the one reported.
  const remote = settleLater(readPointer(vault));
  const stateRead = settleLater(span('state.read', () => readLocalState(vault.stateFile)));
  // The new version is usually named for the second after this machine's floor (latest being what it last
  // pushed or pulled), so whether that name is taken is asked now too, and the answer used if it is the name.
  const guess = settleLater(
    stateRead.then((state) => {
      const now = deps.now();
      const ts = nextTimestamp(floorOf(state, now), now);
      return { ts, taken: settleLater(objectExists(vault.storage, versionKey(repo, env, ts))) };
    }),
  );
  const folder =
    read && recovered.restored === undefined
      ? read
      : await span('folder.read', () => readFolder(ref.root, vault.vaultFolder, vault.limits));
  const { digest } = folder;
  const aesKey = await span('key.unlock', () => vault.aesKey());
  const state = await stateRead;
  const pointer = await remote;
  const synced = syncedHere(state, ref.root, { pointer });
  const now = deps.now();
  // A latest from the future (more than a day ahead of this clock) is one no pull here takes, so this
  // machine cannot have synced with it, and replacing it is a decision a person makes: --force, as ever.
  const future = pointer && isFromFuture(pointer.ts, now) ? pointer.ts : undefined;
  // Over a remote this machine did not sync (a conflict, or --force): a vault rotated past this machine's key
  // is said as such, and never overwritten under the old key.
  if (pointer && (options.force || synced?.etag !== pointer.etag)) {
    const stored = await readKeyHistory(vault).catch(() => undefined);
    if (isRotatedPast(stored?.history, vault.config.encryption.keyCheck)) {
      throw new VsyncError('KEY_ROTATED', `${repo}/${env} now has a later key than this machine's; nothing was pushed`);
    }
  }
  if (pointer && !options.force && synced?.etag !== pointer.etag) {
    const differs = await folderAgainst(deps, vault, aesKey, pointer.ts);
    throw new VsyncError(
      'VAULT_CONFLICT',
      `the remote latest is ${pointer.ts}; this machine last synced ${synced?.ts ?? 'nothing'}${differs}`,
      {
        ...(future
          ? {
              hint: `latest names a version from the future, which pull refuses; if nobody meant it, replace it with \`vsync push --force ${env}\``,
            }
          : {}),
      },
    );
  }

  // Strictly after both the remote and anything this machine has seen, and past any orphaned version a
  // push that died before moving latest left behind; but never after a version from the future: stepping
  // past 99991231-235959 is impossible, and stepping past next year would name every later version after it.
  // The new version is then named by the clock, and still replaces that latest only by its ETag (If-Match).
  if (future) {
    const ahead = `more than ${FUTURE_SKEW_MS / 3_600_000} h after this machine's clock`;
    progress({
      kind: 'warning',
      text: `the remote latest names ${future}, ${ahead}: not stepped past; this version is named by the clock`,
    });
  }
  let ts = nextTimestamp(newer(future ? undefined : pointer?.ts, floorOf(state, now)), now);
  const guessed = await guess.catch(() => undefined);
  let taken = guessed?.ts === ts ? await guessed.taken : await objectExists(vault.storage, versionKey(repo, env, ts));
  while (taken) {
    ts = nextTimestamp(ts, deps.now());
    taken = await objectExists(vault.storage, versionKey(repo, env, ts));
  }

  // The zip is streamed through the seal and the encryption, into memory for a small vault, else into a file
  // in a work folder (work-folder.ts) that the store reads as it is written, or once it is: memory stays
  // bounded whatever the vault's size (sealVersion).
  return withWorkFolder(deps.environment, async (work) => {
    const key = versionKey(repo, env, ts);
    const warning = await options.storeWarning?.(vault.storage, ref);
    if (warning) progress({ kind: 'warning', text: warning });
    step(2, `sealing manifest ts=${ts}`);
    step(3, 'encrypting');
    const sealed = await sealVersion(aesKey, folder, ts, async () => join(await work(), `${ts}.enc`));
    // The log entry is made while the version uploads, and written beside the pointer's move.
    const author = deps.author;
    const entry =
      author &&
      settleLater(
        span('meta.make', async () => metaOf(ts, await author(ref.root), toContents(folder.listing(), vaultMasking(aesKey, false)))),
      );
    try {
      checkNotCancelled(deps);
      step(4, `uploading ${sealed.size} bytes → ${vault.storage.describe(key)}`);
      await Promise.all([vault.storage.putIfAbsent(key, sealed.body), sealed.written]);
    } catch (err) {
      // The writer, if it is still at work, stops before the work folder goes.
      sealed.stop();
      await sealed.written.catch(() => undefined);
      if (isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) {
        throw new VsyncError('VAULT_CONFLICT', `another push wrote version ${ts} at the same moment`, { cause: err });
      }
      throw err;
    }

    const latest = pointerKey(repo, env);
    step(5, `updating pointer → ${vault.storage.describe(latest)}`);
    // A cancelled push stops here: its version is uploaded but latest still names the one before.
    checkNotCancelled(deps);
    await span('state.write', () => writeLocalState(vault.stateFile, beginSync(state, ref.root, { ts, digest }), now));
    const logged = entry && settleLater(entry.then((meta) => writeMeta(vault.storage, repo, env, aesKey, meta)));
    let etag: string;
    try {
      const body = Buffer.from(ts, 'latin1');
      etag = (pointer ? await vault.storage.putIfMatch(latest, body, pointer.etag) : await vault.storage.putIfAbsent(latest, body)).etag;
    } catch (err) {
      if (isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) {
        const now = await readPointer(vault).catch(() => undefined);
        throw new VsyncError(
          'VAULT_CONFLICT',
          `latest moved to ${now?.ts ?? 'another version'} during this push; version ${ts} was uploaded but is not latest`,
          { cause: err },
        );
      }
      throw err;
    }

    await span('state.write', () => writeLocalState(vault.stateFile, afterSync(state, ref.root, { ts, etag, digest }, ts, now), now));
    // The version is pushed whatever becomes of its entry: `vsync log` shows one without an entry as unknown.
    const unlogged = await logged?.then(
      () => undefined,
      (err: unknown) => toVsyncError(err),
    );
    if (unlogged) progress({ kind: 'warning', text: `version ${ts} has no log entry (${unlogged.message})` });
    return { repo, env, version: ts, bytes: sealed.size, url: vault.storage.describe(key) };
  });
}
