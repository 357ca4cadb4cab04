// One vault, opened for an operation: its names, config, store, folder and local state, with the
// dependencies the agent wires in (daemon/main.ts). The domain knows the Storage and Keychain interfaces,
// never an adapter: `storageFor` turns a config into a store.
import { join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { assertEnvName, assertRepoName } from '../../shared/names.js';
import { configFile, type Env } from '../../shared/paths.js';
import { parseTimestamp } from '../crypto/timestamp.js';
import { resolveBundleLimits, type BundleLimits } from '../bundle/limits.js';
import type { Keychain } from '../keychain/keychain.js';
import type { Storage, StoredObject } from '../storage/storage.js';
import { readConfig, vaultFolderOf, type Config } from './config.js';
import type { KeySource } from './key-ring.js';
import type { AuthorOf } from './authorship.js';
import type { RotationCheckpoint } from './key-rotate.js';
import { stateFile } from './local-state.js';
import { pointerKey } from './remote-layout.js';
import { assertVaultPathSafe } from './vault-path.js';
import { MAX_POINTER_BYTES } from './version-cap.js';

export interface VaultDeps {
  readonly storageFor: (config: Config) => Storage;
  readonly keychain: Keychain;
  readonly keys: KeySource;
  /** HOME and the XDG variables that place configs, state and backups. */
  readonly environment: Env;
  readonly now: () => Date;
  /** The largest version object a pull downloads (VSYNC_MAX_VERSION_BYTES); DEFAULT_MAX_VERSION_BYTES when absent. */
  readonly maxVersionBytes?: number;
  /** The agent's bundle caps (VSYNC_MAX_BUNDLE_ENTRIES, …) where they differ from limits.ts's defaults. */
  readonly bundleLimits?: Partial<BundleLimits>;
  /** Who pushes (authorship.ts), for each version's log entry; without it a push writes none. */
  readonly author?: AuthorOf | undefined;
  /** Tests only: called between a key rotation's steps (key-rotate.ts), to kill the agent there. */
  readonly rotationCheckpoint?: RotationCheckpoint;
}

/** Which vault: a repo name, an env, and the repo's root folder on this machine. */
export interface VaultRef {
  readonly repo: string;
  readonly env: string;
  readonly root: string;
}

export interface OpenVault {
  readonly ref: VaultRef;
  readonly config: Config;
  readonly configFile: string;
  readonly storage: Storage;
  /** The vault folder relative to the repo root (`infra/vault/dev`), and absolute. */
  readonly vaultFolder: string;
  readonly folder: string;
  readonly stateFile: string;
  /** The bundle caps for this vault: the defaults, then the agent's environment, then the config's `limits`. */
  readonly limits: BundleLimits;
  aesKey(): Promise<Buffer>;
}

export function assertRef(ref: VaultRef): void {
  assertRepoName(ref.repo);
  assertEnvName(ref.env);
}

export async function openVault(deps: VaultDeps, ref: VaultRef): Promise<OpenVault> {
  assertRef(ref);
  const file = configFile(ref.repo, ref.env, deps.environment);
  const config = await readConfig(file);
  const vaultFolder = vaultFolderOf(config, ref.env);
  await assertVaultPathSafe(ref.root, vaultFolder);
  return {
    ref,
    config,
    configFile: file,
    storage: deps.storageFor(config),
    vaultFolder,
    folder: join(ref.root, ...vaultFolder.split('/')),
    stateFile: stateFile(ref.repo, ref.env, deps.environment),
    limits: resolveBundleLimits({ ...deps.bundleLimits, ...config.limits }),
    aesKey: () => deps.keys.aesKey(ref.repo, ref.env, config.encryption.salt, config.encryption.keyCheck),
  };
}

export interface Pointer {
  readonly ts: string;
  readonly etag: string;
}

/** The remote `latest`, or undefined before the first push. Junk in it is VAULT_POINTER_INVALID. */
export async function readPointer(vault: OpenVault): Promise<Pointer | undefined> {
  const key = pointerKey(vault.ref.repo, vault.ref.env);
  const stored = await unlessAbsent(capped(vault, key, vault.storage.get(key, { maxBytes: MAX_POINTER_BYTES })));
  return stored === null ? undefined : parsePointer(vault, key, stored);
}

/**
 * The remote `latest` when its ETag is no longer `etag` (one conditional request; the body only comes back
 * when it changed); `'unchanged'` when it still is; undefined when there is none.
 */
export async function readPointerIfChanged(vault: OpenVault, etag: string): Promise<Pointer | 'unchanged' | undefined> {
  const key = pointerKey(vault.ref.repo, vault.ref.env);
  const stored = await unlessAbsent(capped(vault, key, vault.storage.getIfChanged(key, etag, { maxBytes: MAX_POINTER_BYTES })));
  if (stored === null) return undefined;
  return stored === undefined ? 'unchanged' : parsePointer(vault, key, stored);
}

/** A pointer read, with a `latest` too large to be one reported as the junk it is, not read into memory. */
async function capped<T>(vault: OpenVault, key: string, read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (cause) {
    if (!isVsyncError(cause, 'STORAGE_OBJECT_TOO_LARGE')) throw cause;
    throw new VsyncError('VAULT_POINTER_INVALID', `${vault.storage.describe(key)} is larger than ${MAX_POINTER_BYTES} bytes`, { cause });
  }
}

/** The read's result, or null when the object does not exist. */
async function unlessAbsent<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (err) {
    if (isVsyncError(err, 'STORAGE_NOT_FOUND')) return null;
    throw err;
  }
}

function parsePointer(vault: OpenVault, key: string, stored: StoredObject): Pointer {
  const ts = stored.body.toString('latin1').trim();
  try {
    parseTimestamp(ts);
  } catch (cause) {
    throw new VsyncError('VAULT_POINTER_INVALID', `${vault.storage.describe(key)} holds ${JSON.stringify(ts.slice(0, 40))}`, { cause });
  }
  return { ts, etag: stored.etag };
}
