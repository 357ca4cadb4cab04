// init <env>: a new key in the keychain, a salt, the config file, the vault folder. It never replaces an
// existing key or config, and on any failure leaves the keychain and the disk as they were.
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { configFile, defaultStoreRoot } from '../../shared/paths.js';
import { describeIssues } from '../../shared/validation.js';
import { deriveKey } from '../crypto/kdf.js';
import { generateKey, generateSalt } from '../crypto/key.js';
import { keyCheck } from '../crypto/key-check.js';
import { keychainAccount } from '../keychain/keychain.js';
import { checkStoreFolder } from '../fs/store-folder.js';
import { makeFolders } from '../fs/make-folders.js';
import { objectExists } from '../storage/storage.js';
import { pointerKey } from './remote-layout.js';
import { ConfigSchema, vaultFolderOf, writeConfig, type Config } from './config.js';
import { assertRef, type VaultDeps, type VaultRef } from './vault.js';
import { assertVaultPathSafe } from './vault-path.js';
import { ignoreVaultInGit } from './gitignore-file.js';
import { declareRepo } from './repo-identity.js';
import type { InitResult } from '../../shared/api.js';

// The result is the wire contract's (shared/api.ts), not a shape of the domain's own.
export type { InitResult };

export interface InitOptions {
  /** The directory store's folder (absolute); default `${XDG_DATA_HOME:-~/.local/share}/vsync/store`. */
  readonly store?: string;
  /** An S3 bucket instead of the directory store. */
  readonly bucket?: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly prefix?: string;
  readonly forcePathStyle?: boolean;
  /** Write `.vsync` naming `ref.repo` (`init --repo`, where the checkout has none). */
  readonly declareRepo?: boolean;
}

function storeSettings(options: InitOptions, deps: VaultDeps): Pick<Config, 's3' | 'store'> {
  if (options.bucket !== undefined) {
    if (options.store !== undefined) throw new VsyncError('USAGE', 'give --store (a local folder) or --bucket (S3), not both');
    return {
      s3: {
        bucket: options.bucket,
        ...(options.region !== undefined ? { region: options.region } : {}),
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
        ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
      },
    };
  }
  if (options.endpoint !== undefined || options.region !== undefined || options.prefix !== undefined) {
    throw new VsyncError('USAGE', '--endpoint, --region and --prefix go with --bucket');
  }
  const root = options.store ?? defaultStoreRoot(deps.environment);
  if (!isAbsolute(root)) throw new VsyncError('USAGE', `--store must be an absolute folder: ${root}`);
  return { store: { kind: 'dir', root } };
}

/** VAULT_EXISTS's detail: what this machine holds of the vault already. */
async function whatExists(deps: VaultDeps, ref: VaultRef, file: string): Promise<string> {
  const key = await deps.keychain.get(keychainAccount(ref.repo, ref.env)).then(
    () => `its key is in ${deps.keychain.name}`,
    () => `no key for it in ${deps.keychain.name}`,
  );
  return `${ref.repo}/${ref.env} has a config here (${file}) and ${key}`;
}

export async function init(deps: VaultDeps, ref: VaultRef, options: InitOptions): Promise<InitResult> {
  assertRef(ref);
  const file = configFile(ref.repo, ref.env, deps.environment);
  const settings = storeSettings(options, deps);
  if (await stat(file).catch(() => undefined)) throw new VsyncError('VAULT_EXISTS', await whatExists(deps, ref, file));
  if (settings.store !== undefined) await checkStoreFolder(settings.store.root);

  const account = keychainAccount(ref.repo, ref.env);
  // A read-only source (VSYNC_KEY on a headless machine) brings its own key, which init adopts; a
  // keychain gets a new key, and never over one it already holds.
  const adopted = deps.keychain.writable ? undefined : await deps.keychain.get(account);
  if (adopted === undefined) {
    try {
      await deps.keychain.get(account);
      throw new VsyncError('VAULT_KEY_EXISTS', `service tools.vsync, account ${account}`);
    } catch (err) {
      if (!isVsyncError(err, 'KEYCHAIN_NOT_FOUND')) throw err;
    }
  }

  const key = adopted ?? generateKey();
  const salt = generateSalt();
  const aesKey = await deriveKey(key, salt);
  const config: Config = { version: 1, ...settings, encryption: { salt, keyCheck: keyCheck(aesKey) } };
  // Validate before touching the keychain, so bad options change nothing at all.
  const parsed = ConfigSchema.safeParse(config);
  if (!parsed.success)
    throw new VsyncError('CONFIG_INVALID', describeIssues(parsed.error), { hint: 'check --bucket, --endpoint, --region and --prefix' });

  // Everything that can fail without leaving a trace goes first; then the key, then the config, and the
  // key is taken back if the config cannot be written.
  const storage = deps.storageFor(parsed.data);
  // A teammate's vault already in the store: a new key here could never open its versions, and the first
  // push would fork it. Only a pointer found counts; a store out of reach is push's to report.
  const pointer = pointerKey(ref.repo, ref.env);
  if (await objectExists(storage, pointer).catch(() => false)) throw new VsyncError('VAULT_EXISTS_IN_STORE', storage.describe(pointer));
  const vaultFolder = vaultFolderOf(parsed.data, ref.env);
  await assertVaultPathSafe(ref.root, vaultFolder);
  await makeFolders(join(ref.root, ...vaultFolder.split('/')), 0o700);
  if (adopted === undefined) await deps.keychain.set(account, key);
  try {
    await writeConfig(file, parsed.data);
  } catch (err) {
    if (adopted === undefined) await deps.keychain.delete(account).catch(() => undefined);
    throw err;
  }
  // Derived once (~0.2 s of CPU): the vault's first push uses this key instead of deriving it again.
  deps.keys.adopt?.(ref.repo, ref.env, salt, aesKey);

  // The vault is made; what follows protects it and is reported, never undone for: a .gitignore that
  // cannot be written is the user's to fix (a warning), not a reason to take back a working vault.
  const warnings: string[] = [];
  let repoFile: string | undefined;
  if (options.declareRepo) {
    repoFile = await declareRepo(ref.root, ref.repo).catch((err: unknown) => {
      warnings.push(
        `could not write ${join(ref.root, '.vsync')} (${(err as Error).message}): write the line repo=${ref.repo} there and commit it`,
      );
      return undefined;
    });
  }
  const gitignore = await ignoreVaultInGit(ref.root, vaultFolder);
  if (gitignore.problem !== undefined)
    warnings.push(`${gitignore.problem}; add the lines /${vaultFolder}/ and /.env to .gitignore yourself`);
  return {
    repo: ref.repo,
    env: ref.env,
    configFile: file,
    vaultFolder,
    store: storage.describe(`${ref.repo}/${ref.env}/`),
    ...(gitignore.problem === undefined ? { gitignore: { file: gitignore.file, added: gitignore.added } } : {}),
    ...(repoFile !== undefined ? { repoFile } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
