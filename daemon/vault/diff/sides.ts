// The two things a diff can read: the vault folder in this checkout, and a version in the store. Each comes
// back as Contents (compare.ts): every file hashed, dotenv files parsed and their values masked, nothing
// written anywhere but, for a large version, the operation's private work folder.
import type { ZipInput } from '../../bundle/zip-source.js';
import { bundleContents, folderContents } from '../../bundle/bundle-contents.js';
import { toContents, type Contents, type Masking } from './compare.js';
import { isDotenvFile } from './dotenv-file.js';
import type { OpenVault } from '../vault.js';
import { folderExists } from '../vault-folder.js';
import { fetchVersion, type FetchOptions } from '../version-fetch.js';

/** The vault folder as it is now; undefined when there is no folder. */
export async function folderSide(vault: OpenVault, masking: Masking): Promise<Contents | undefined> {
  if (!(await folderExists(vault.folder))) return undefined;
  return toContents(await folderContents(vault.ref.root, vault.vaultFolder, vault.limits, isDotenvFile), masking);
}

/** Version `ts`, fetched and checked (version-fetch.ts) with `aesKey`. */
export async function versionSide(
  vault: OpenVault,
  aesKey: Buffer,
  ts: string,
  options: FetchOptions,
  masking: Masking,
): Promise<Contents> {
  return zipSide(vault, await fetchVersion(vault, aesKey, ts, options), masking);
}

/** A verified bundle already in hand (a pull's download). */
export async function zipSide(vault: OpenVault, zip: ZipInput, masking: Masking): Promise<Contents> {
  return toContents(await bundleContents(zip, vault.vaultFolder, vault.folder, vault.limits, isDotenvFile), masking);
}
