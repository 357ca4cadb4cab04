// key rotate <env> (a member leaves): a new key and salt; the current latest re-encrypted under it as a new
// version; `latest` moved to that version with the usual compare-and-swap; only then the new key recorded in
// the store's key history (key-history.ts) and made current in this machine's config and keychain.
//
// Crash-safe at every step. Before anything in the store refers to the new key, its text is kept in the
// keychain beside the current one (account `<repo>/<env>.next`: no env name holds a dot) and the rotation is
// noted in this machine's state. The commit point is the pointer's move: killed before it, the old key is
// still the vault's key and the rotation is undone; killed after it, the new key is in the keychain and the
// rotation is finished. Either way the next operation on the vault (or running `key rotate` again) settles it
// (settleRotation), so no kill between two steps leaves this machine without a key that opens latest.
import { join } from 'node:path';
import type { KeyRotateResult } from '../../shared/api.js';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { Progress } from '../../shared/progress.js';
import { bundleContents } from '../bundle/bundle-contents.js';
import type { ZipInput } from '../bundle/zip-source.js';
import { deriveKey } from '../crypto/kdf.js';
import { objectExists } from '../storage/storage.js';
import { generateKey, generateSalt } from '../crypto/key.js';
import { keyCheck } from '../crypto/key-check.js';
import { nextTimestamp } from '../crypto/timestamp.js';
import { keychainAccount } from '../keychain/keychain.js';
import { writeConfig } from './config.js';
import { toContents } from './diff/compare.js';
import { vaultMasking } from './diff/compare.js';
import { isDotenvFile } from './diff/dotenv-file.js';
import { readKeyHistory, isRotatedPast, rotated } from './key-history.js';
import { floorOf, newer, readLocalState, writeLocalState, type LocalState } from './local-state.js';
import { checkNotCancelled, type OperationGuard } from './operation-guard.js';
import { keysKey, logKey, pointerKey, versionKey } from './remote-layout.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { fetchVersion } from './version-fetch.js';
import { sealZip } from './version-file.js';
import { metaOf, writeMeta } from './version-meta.js';
import { withWorkFolder } from './work-folder.js';

/** The points between a rotation's steps, in order: where a test kills the agent, or throws as a kill would. */
export const ROTATION_STEPS = [
  'pending-saved',
  'version-written',
  'latest-moved',
  'history-written',
  'config-written',
  'keychain-written',
] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** Called after each step (tests only: VaultDeps.rotationCheckpoint). */
export type RotationCheckpoint = (after: RotationStep) => Promise<void>;

type Rotation = NonNullable<LocalState['rotation']>;

/** Where the new key waits until the rotation is finished or undone. */
export function pendingAccount(repo: string, env: string): string {
  return `${keychainAccount(repo, env)}.next`;
}

export async function rotateKey(
  deps: VaultDeps & OperationGuard & { readonly rotationCheckpoint?: RotationCheckpoint },
  ref: VaultRef,
  progress: Progress,
): Promise<KeyRotateResult> {
  const step = (n: number, text: string) => progress({ kind: 'step', n, of: 5, text });
  const checkpoint = (after: RotationStep) => deps.rotationCheckpoint?.(after) ?? Promise.resolve();
  const { repo, env } = ref;
  if (!deps.keychain.writable) {
    throw new VsyncError(
      'KEYCHAIN_READ_ONLY',
      `the new key cannot be stored: this agent takes its keys from the environment (${deps.keychain.name})`,
      {
        hint: 'rotate on a machine whose agent uses the OS keychain; then give the new key to this one (`vsync key export`)',
      },
    );
  }
  let vault = await openVault(deps, ref);
  // One this machine began and did not finish is settled first (finished or undone), then this one runs.
  if (await settleRotation(deps, vault)) vault = await openVault(deps, ref);
  const oldKey = await vault.aesKey();
  const previous = vault.config.encryption.keyCheck ?? keyCheck(oldKey);

  const latest = pointerKey(repo, env);
  step(1, `reading pointer ${vault.storage.describe(latest)}`);
  const [pointer, stored] = await Promise.all([readPointer(vault), readKeyHistory(vault)]);
  if (!pointer)
    throw new VsyncError('VAULT_EMPTY', `${vault.storage.describe(latest)} does not exist: a vault never pushed has nothing to re-encrypt`);
  if (isRotatedPast(stored?.history, previous)) {
    throw new VsyncError('KEY_ROTATED', `${repo}/${env} was rotated past this machine's key by someone else; nothing changed`);
  }

  return withWorkFolder(deps.environment, async (work) => {
    step(2, `downloading version ${pointer.ts} (${versionKey(repo, env, pointer.ts)})`);
    const zip = await fetchVersion(vault, oldKey, pointer.ts, { maxBytes: deps.maxVersionBytes, work });
    const state = await readLocalState(vault.stateFile);
    const now = deps.now();
    let ts = nextTimestamp(newer(pointer.ts, floorOf(state, now)), now);
    while (await objectExists(vault.storage, versionKey(repo, env, ts))) ts = nextTimestamp(ts, deps.now());

    const key = generateKey();
    const salt = generateSalt();
    const aesKey = await deriveKey(key, salt);
    const rotation: Rotation = { salt, keyCheck: keyCheck(aesKey), previous, from: pointer.ts, ts };
    // Kept before anything in the store refers to the new key: from here on a kill leaves one key or the other.
    await deps.keychain.set(pendingAccount(repo, env), key);
    await writeLocalState(vault.stateFile, { ...state, rotation }, now);
    await checkpoint('pending-saved');

    const target = versionKey(repo, env, ts);
    step(3, `re-encrypting it as version ${ts} under a new key → ${vault.storage.describe(target)}`);
    const body = await sealZip(aesKey, zip, ts, async () => join(await work(), `${ts}.enc`));
    checkNotCancelled(deps);
    try {
      await vault.storage.putIfAbsent(target, body);
    } catch (err) {
      await undo(deps, vault, rotation, false);
      if (isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) {
        throw new VsyncError('VAULT_CONFLICT', `another push wrote version ${ts} at the same moment; nothing changed`, { cause: err });
      }
      throw err;
    }
    await writeEntry(deps, vault, aesKey, zip, rotation);
    await checkpoint('version-written');

    step(4, `updating pointer → ${vault.storage.describe(latest)}`);
    checkNotCancelled(deps);
    let etag: string;
    try {
      etag = (await vault.storage.putIfMatch(latest, Buffer.from(ts, 'latin1'), pointer.etag)).etag;
    } catch (err) {
      if (!isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) throw err; // settled by the next operation
      await undo(deps, vault, rotation, true);
      const moved = await readPointer(vault).catch(() => undefined);
      throw new VsyncError(
        'VAULT_CONFLICT',
        `latest moved to ${moved?.ts ?? 'another version'} during the rotation; nothing changed (the old key is still the key)`,
        {
          cause: err,
          hint: `pull what your teammate pushed, then run \`vsync key rotate ${env}\` again`,
        },
      );
    }
    await checkpoint('latest-moved');

    step(
      5,
      `recording the new key: ${vault.storage.describe(keysKey(repo, env))}, ${vault.configFile}, the keychain (${deps.keychain.name})`,
    );
    await finish(deps, vault, rotation, key, { ts, etag });
    return {
      repo,
      env,
      version: ts,
      from: pointer.ts,
      keychain: deps.keychain.name,
      keys: stored?.history.keys.length ? stored.history.keys.length + 1 : 2,
    };
  });
}

/**
 * A rotation this machine began and did not finish (its state says so), finished if it committed (the new key
 * is in the config, or in the store's key history, or `latest` names its version) and undone if not. True when
 * there was one. A store that cannot be reached leaves it for later: the error is thrown.
 */
export async function settleRotation(
  deps: VaultDeps & { readonly rotationCheckpoint?: RotationCheckpoint },
  vault: OpenVault,
): Promise<boolean> {
  const { rotation } = await readLocalState(vault.stateFile);
  if (!rotation) return false;
  const { repo, env } = vault.ref;
  const committed =
    vault.config.encryption.keyCheck === rotation.keyCheck ||
    (await readKeyHistory(vault).catch(() => undefined))?.history.keys.some((k) => k.check === rotation.keyCheck) ||
    (await readPointer(vault))?.ts === rotation.ts;
  if (!committed) {
    await undo(deps, vault, rotation, true);
    return true;
  }
  const key = await deps.keychain.get(pendingAccount(repo, env)).catch(async (err: unknown) => {
    // Only ever removed after the rotation was recorded as finished; the keychain entry may already hold it.
    if (!isVsyncError(err, 'KEYCHAIN_NOT_FOUND')) throw err;
    return deps.keychain.get(keychainAccount(repo, env));
  });
  const pointer = await readPointer(vault);
  await finish(deps, vault, rotation, key, pointer?.ts === rotation.ts ? { ts: pointer.ts, etag: pointer.etag } : undefined);
  return true;
}

/** Steps 5 on: the key history, the config, the keychain, the agent's key ring, this machine's state. */
async function finish(
  deps: VaultDeps & { readonly rotationCheckpoint?: RotationCheckpoint },
  vault: OpenVault,
  rotation: Rotation,
  key: string,
  moved: { ts: string; etag: string } | undefined,
): Promise<void> {
  const checkpoint = (after: RotationStep) => deps.rotationCheckpoint?.(after) ?? Promise.resolve();
  const { repo, env } = vault.ref;
  const aesKey = await deriveKey(key, rotation.salt);
  if (keyCheck(aesKey) !== rotation.keyCheck)
    throw new VsyncError('KEY_MISMATCH', `the new key kept for ${repo}/${env} is not the one this rotation made`);
  await recordInHistory(vault, rotation);
  await checkpoint('history-written');
  const config = { ...vault.config, encryption: { ...vault.config.encryption, salt: rotation.salt, keyCheck: rotation.keyCheck } };
  await writeConfig(vault.configFile, config);
  await checkpoint('config-written');
  await deps.keychain.set(keychainAccount(repo, env), key);
  await checkpoint('keychain-written');
  deps.keys.adopt?.(repo, env, rotation.salt, aesKey);
  // Every checkout of this machine that was in step with the version re-encrypted is in step with its copy.
  const state = await readLocalState(vault.stateFile);
  const synced = moved
    ? Object.fromEntries(
        Object.entries(state.synced ?? {}).map(([root, sync]) => [
          root,
          sync.ts === rotation.from ? { ...sync, ts: moved.ts, etag: moved.etag } : sync,
        ]),
      )
    : state.synced;
  const { rotation: _done, ...rest } = state;
  await writeLocalState(
    vault.stateFile,
    { ...rest, ...(synced ? { synced } : {}), newestSeen: newer(state.newestSeen, rotation.ts)! },
    deps.now(),
  );
  await deps.keychain.delete(pendingAccount(repo, env)).catch(() => undefined);
}

/** Adds the new key to the store's key history, with the usual compare-and-swap, again if another writer won. */
async function recordInHistory(vault: OpenVault, rotation: Rotation): Promise<void> {
  const key = keysKey(vault.ref.repo, vault.ref.env);
  for (let attempt = 1; ; attempt++) {
    const stored = await readKeyHistory(vault);
    const next = rotated(stored?.history, rotation.previous, rotation.keyCheck, rotation.ts);
    if (stored && next.keys.length === stored.history.keys.length) return;
    const body = Buffer.from(JSON.stringify(next), 'utf8');
    try {
      await (stored ? vault.storage.putIfMatch(key, body, stored.etag) : vault.storage.putIfAbsent(key, body));
      return;
    } catch (err) {
      if (!isVsyncError(err, 'STORAGE_PRECONDITION_FAILED') || attempt === 3) throw err;
    }
  }
}

/** Before the commit point: the new key and the note go, and the version written for it (if any) with its entry. */
async function undo(deps: VaultDeps, vault: OpenVault, rotation: Rotation, written: boolean): Promise<void> {
  const { repo, env } = vault.ref;
  if (written) {
    // Only this rotation's own version, never moved to: nobody else can have read it as latest.
    await vault.storage.delete(versionKey(repo, env, rotation.ts)).catch(() => undefined);
    await vault.storage.delete(logKey(repo, env, rotation.ts)).catch(() => undefined);
  }
  const { rotation: _undone, ...rest } = await readLocalState(vault.stateFile);
  await writeLocalState(vault.stateFile, rest, deps.now());
  await deps.keychain.delete(pendingAccount(repo, env)).catch(() => undefined);
}

/** The re-encrypted version's log entry: who rotated, and what it holds (the same as `from`), under the new key. */
async function writeEntry(deps: VaultDeps, vault: OpenVault, aesKey: Buffer, zip: ZipInput, rotation: Rotation): Promise<void> {
  if (!deps.author) return;
  try {
    const files = await bundleContents(zip, vault.vaultFolder, vault.folder, vault.limits, isDotenvFile);
    const meta = metaOf(rotation.ts, await deps.author(vault.ref.root), toContents(files, vaultMasking(aesKey, false)), rotation.from);
    await writeMeta(vault.storage, vault.ref.repo, vault.ref.env, aesKey, meta);
  } catch {
    // A version without an entry is still a version; log shows it as unknown.
  }
}
