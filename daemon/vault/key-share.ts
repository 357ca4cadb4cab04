// key export / key import: bringing a teammate in. Export writes the vault's key and config into a share
// file under a passphrase; import takes them into this machine's keychain and config folder.
//
// The agent does both ends itself (it holds the keychain): the client sends a path and gets back only the
// passphrase export made, so the key never crosses the socket. Import never replaces a key or a config that
// differs from the share's, and changes nothing when it refuses.
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { assertEnvName, assertRepoName } from '../../shared/names.js';
import { configFile } from '../../shared/paths.js';
import { deriveKey } from '../crypto/kdf.js';
import { assertKeyMatchesCheck } from '../crypto/key-check.js';
import { assertPassphrase, generatePassphrase } from '../crypto/passphrase.js';
import { writeFileExclusive } from '../fs/atomic-write.js';
import { errnoOf } from '../fs/errno.js';
import { keychainAccount, type Keychain } from '../keychain/keychain.js';
import { readConfig, writeConfig, type Config } from './config.js';
import { MAX_SHARE_FILE_BYTES, decodeShare, encodeShare, openShareFile, sealShareFile, type Share } from './share-file.js';
import { openVault, type VaultDeps, type VaultRef } from './vault.js';
import { MAX_KEY_HISTORY_BYTES, parseKeyHistory, type KeyHistory } from './key-history.js';
import { keysKey } from './remote-layout.js';
import type { Storage } from '../storage/storage.js';
import type { KeyExportResult, KeyImportResult } from '../../shared/api.js';

// The result is the wire contract's (shared/api.ts), not a shape of the domain's own.
export type { KeyExportResult, KeyImportResult };

export interface KeyExportOptions {
  /** Where to write (absolute); default `<folder>/<repo>-<env>.share`. */
  readonly out?: string;
  /** The folder a default `out` goes in: the caller's working folder. */
  readonly folder: string;
  /** The user's own passphrase; without one, export makes one and returns it. */
  readonly passphrase?: string;
}

export function defaultShareFileName(repo: string, env: string): string {
  return `${repo}-${env}.share`;
}

export async function exportKey(deps: VaultDeps, ref: VaultRef, options: KeyExportOptions): Promise<KeyExportResult> {
  const vault = await openVault(deps, ref);
  if (options.passphrase !== undefined) assertPassphrase(options.passphrase, true);
  const file = options.out ?? join(options.folder, defaultShareFileName(ref.repo, ref.env));
  // Said before the two derivations it would otherwise wait for; the link below is what guarantees it.
  if (
    await lstat(file).then(
      () => true,
      () => false,
    )
  )
    throw new VsyncError('SHARE_FILE_EXISTS', file);

  const key = await deps.keychain.get(keychainAccount(ref.repo, ref.env));
  // Derived from the very text being exported, not taken from the agent's cache: a share must never carry a
  // key that does not open this vault.
  assertKeyMatchesCheck(await deriveKey(key, vault.config.encryption.salt), vault.config.encryption.keyCheck);
  const passphrase = options.passphrase ?? generatePassphrase();
  const bytes = await sealShareFile(encodeShare({ repo: ref.repo, env: ref.env, key, config: vault.config }), passphrase);
  let written: boolean;
  try {
    // Through a temp file and link(2): never over an existing name (a symlink included), never half a file.
    written = await writeFileExclusive(file, bytes, 0o600);
  } catch (err) {
    throw new VsyncError('SHARE_FILE_UNWRITABLE', `${file} (${errnoOf(err) ?? String(err)})`, { cause: err });
  }
  if (!written) throw new VsyncError('SHARE_FILE_EXISTS', file);
  return { repo: ref.repo, env: ref.env, file, ...(options.passphrase === undefined ? { passphrase } : {}) };
}

/** Reads and decrypts a share file; every failure is a registry error and nothing is written. */
export async function readShare(file: string, passphrase: string): Promise<Share> {
  assertPassphrase(passphrase, false);
  let bytes: Buffer;
  try {
    // Non-blocking, so that a fifo given by mistake is refused instead of waiting for a writer forever.
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new VsyncError('SHARE_FILE_UNREADABLE', `${file} is not a regular file`);
      if (info.size > MAX_SHARE_FILE_BYTES) {
        throw new VsyncError('SHARE_FILE_INVALID', `${file} is ${info.size} bytes; a share file is a few hundred`);
      }
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (isVsyncError(err)) throw err;
    throw new VsyncError('SHARE_FILE_UNREADABLE', `${file} (${errnoOf(err) ?? String(err)})`, { cause: err });
  }
  return decodeShare(await openShareFile(bytes, passphrase));
}

/**
 * Stores the share's key and config unless this machine holds them already. Everything is checked before
 * anything is written; a config that cannot be written takes back the key stored just before it.
 */
export async function importShare(deps: VaultDeps, share: Share): Promise<KeyImportResult> {
  assertRepoName(share.repo);
  assertEnvName(share.env);
  const account = keychainAccount(share.repo, share.env);
  if (!deps.keychain.writable) {
    throw new VsyncError(
      'KEYCHAIN_READ_ONLY',
      `cannot store the key for "${account}": this agent takes its keys from the environment (${deps.keychain.name})`,
      {
        hint: 'import stores the key in the OS keychain: stop the agent (`vsync daemon stop`), unset every VSYNC_KEY variable, then import again',
      },
    );
  }
  // The share's own key and config must agree before they go anywhere.
  try {
    assertKeyMatchesCheck(await deriveKey(share.key, share.config.encryption.salt), share.config.encryption.keyCheck);
  } catch (err) {
    if (!isVsyncError(err, 'KEY_MISMATCH')) throw err;
    throw new VsyncError('SHARE_FILE_INVALID', "its key does not match its config's encryption.keyCheck", { cause: err });
  }

  const file = configFile(share.repo, share.env, deps.environment);
  const storage = deps.storageFor(share.config);
  const keyHere = await existingKey(deps.keychain, account);
  const configHere = await existingConfig(file);
  const differ = configHere === undefined ? [] : differences(configHere, share.config);
  // After a rotation (key-rotate.ts) the share carries the vault's later key: it replaces this machine's, and
  // only when the store's key history says so. Anything else that differs is refused, as ever.
  const rotation =
    (keyHere !== undefined && keyHere !== share.key) || differ.length > 0 ? await laterKey(storage, share, configHere) : false;
  if (!rotation && keyHere !== undefined && keyHere !== share.key) {
    throw new VsyncError(
      'SHARE_CONFLICT',
      `the keychain (${deps.keychain.name}) holds another key for account "${account}" of service tools.vsync`,
    );
  }
  if (!rotation && differ.length > 0)
    throw new VsyncError('SHARE_CONFLICT', `${file} differs from the share's config in ${differ.join(', ')}`);

  const replace = rotation ? { key: keyHere, config: configHere } : undefined;
  if (keyHere === undefined || replace) await deps.keychain.set(account, share.key);
  if (configHere === undefined || replace) {
    try {
      await writeConfig(file, share.config);
    } catch (err) {
      // Back to what was there: no key, or the key this machine had.
      if (replace?.key !== undefined) await deps.keychain.set(account, replace.key).catch(() => undefined);
      else if (keyHere === undefined) await deps.keychain.delete(account).catch(() => undefined);
      throw err;
    }
  }
  const outcome = (here: unknown) => (replace ? 'replaced' : here === undefined ? 'added' : 'present');
  return {
    repo: share.repo,
    env: share.env,
    configFile: file,
    store: storage.describe(`${share.repo}/${share.env}/`),
    keychain: deps.keychain.name,
    key: outcome(keyHere),
    config: outcome(configHere),
  };
}

/**
 * Whether the share carries a later key of the vault than this machine's config: its config differs from this
 * one in `encryption` alone, and the store's key history (key-history.ts) lists the share's key check after
 * this machine's (or lists it while this machine's predates the history).
 */
async function laterKey(storage: Storage, share: Share, here: Config | undefined): Promise<boolean> {
  if (here === undefined) return false;
  const differ = differences(here, share.config);
  if (differ.some((path) => !path.startsWith('encryption.'))) return false;
  let history: KeyHistory;
  try {
    history = parseKeyHistory((await storage.get(keysKey(share.repo, share.env), { maxBytes: MAX_KEY_HISTORY_BYTES })).body);
  } catch (err) {
    if (isVsyncError(err, 'STORAGE_NOT_FOUND', 'VAULT_KEYS_INVALID', 'STORAGE_OBJECT_TOO_LARGE')) return false;
    throw err;
  }
  const theirs = history.keys.findIndex((k) => k.check === share.config.encryption.keyCheck);
  const mine = history.keys.findIndex((k) => k.check === here.encryption.keyCheck);
  return theirs > mine && theirs !== -1;
}

async function existingKey(keychain: Keychain, account: string): Promise<string | undefined> {
  try {
    return await keychain.get(account);
  } catch (err) {
    if (isVsyncError(err, 'KEYCHAIN_NOT_FOUND')) return undefined;
    throw err;
  }
}

async function existingConfig(file: string): Promise<Config | undefined> {
  try {
    return await readConfig(file);
  } catch (err) {
    if (isVsyncError(err, 'CONFIG_NOT_FOUND')) return undefined;
    throw err;
  }
}

/** The dotted paths of the leaves where two configs differ (`encryption.salt`, `s3.bucket`), sorted. */
export function differences(a: unknown, b: unknown, path = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path || '(the whole config)'];
}
