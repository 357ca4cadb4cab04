// The two things a diff can read: the vault folder in this checkout, and a version in the store. Each comes
// back as Contents (compare.ts): every file hashed, dotenv files parsed, nothing written anywhere but, for a
// large version, the operation's private work folder.
import type { ZipInput } from '../../bundle/zip-source.js';
import { bundleContents, folderContents } from '../../bundle/bundle-contents.js';
import { toContents, type Contents } from './compare.js';
import { isDotenvFile } from './dotenv-file.js';
import type { OpenVault } from '../vault.js';
import { folderExists } from '../vault-folder.js';
import { fetchVersion, type FetchOptions } from '../version-fetch.js';

/** The vault folder as it is now; undefined when there is no folder. */
export async function folderSide(vault: OpenVault): Promise<Contents | undefined> {
  if (!(await folderExists(vault.folder))) return undefined;
  return toContents(await folderContents(vault.ref.root, vault.vaultFolder, vault.limits, isDotenvFile));
}

/** Version `ts`, fetched and checked (version-fetch.ts). */
export async function versionSide(vault: OpenVault, aesKey: Buffer, ts: string, options: FetchOptions): Promise<Contents> {
  return zipSide(vault, await fetchVersion(vault, aesKey, ts, options));
}

/** A verified bundle already in hand (a pull's download). */
export async function zipSide(vault: OpenVault, zip: ZipInput): Promise<Contents> {
  return toContents(await bundleContents(zip, vault.vaultFolder, vault.folder, vault.limits, isDotenvFile));
}
