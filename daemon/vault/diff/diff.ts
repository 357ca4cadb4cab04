// diff <env> [<from> [<to>]]: what differs between the vault folder here and a version, or between two
// versions, file by file and dotenv key by key, values masked (compare.ts). Read-only: nothing is written but
// a large version's zip in the operation's private work folder, removed before it answers.
import type { DiffResult, DiffSide } from '../../../shared/api.js';
import { VsyncError } from '../../../shared/errors.js';
import { parseTimestamp } from '../../crypto/timestamp.js';
import { readLocalState, syncedHere } from '../local-state.js';
import { openVault, readPointer, type OpenVault, type VaultDeps, type VaultRef } from '../vault.js';
import type { FetchOptions } from '../version-fetch.js';
import { withWorkFolder } from '../work-folder.js';
import { compareContents, type Contents, type Masking, vaultMasking } from './compare.js';
import { folderSide, versionSide } from './sides.js';

export interface DiffOptions {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly showValues?: boolean | undefined;
}

const NOTHING: Contents = new Map();

export async function diff(deps: VaultDeps, ref: VaultRef, options: DiffOptions): Promise<DiffResult> {
  if (options.to !== undefined && options.from === undefined) throw new VsyncError('USAGE', 'a diff with `to` needs `from`');
  for (const ts of [options.from, options.to]) if (ts !== undefined) parseTimestamp(ts);
  const vault = await openVault(deps, ref);
  const aesKey = await vault.aesKey();
  const masking = vaultMasking(aesKey, options.showValues ?? false);
  return withWorkFolder(deps.environment, async (work) => {
    const fetch: FetchOptions = { maxBytes: deps.maxVersionBytes, work };
    const [from, to] = await Promise.all([
      options.from !== undefined ? readVersion(vault, aesKey, options.from, fetch, masking) : baseline(vault, aesKey, fetch, masking),
      options.to !== undefined ? readVersion(vault, aesKey, options.to, fetch, masking) : readFolderSide(vault, masking),
    ]);
    const files = compareContents(from.contents, to.contents, masking);
    return { repo: ref.repo, env: ref.env, from: from.side, to: to.side, same: files.length === 0, files };
  });
}

interface Read {
  readonly side: DiffSide;
  readonly contents: Contents;
}

async function readVersion(vault: OpenVault, aesKey: Buffer, ts: string, fetch: FetchOptions, masking: Masking): Promise<Read> {
  return { side: { kind: 'version', ts }, contents: await versionSide(vault, aesKey, ts, fetch, masking) };
}

async function readFolderSide(vault: OpenVault, masking: Masking): Promise<Read> {
  const contents = await folderSide(vault, masking);
  return { side: { kind: 'folder', folder: `${vault.vaultFolder}/`, exists: contents !== undefined }, contents: contents ?? NOTHING };
}

/** What the folder is compared with by default: the version this checkout last synced, else latest, else nothing. */
async function baseline(vault: OpenVault, aesKey: Buffer, fetch: FetchOptions, masking: Masking): Promise<Read> {
  const synced = syncedHere(await readLocalState(vault.stateFile), vault.ref.root, {});
  const ts = synced?.ts ?? (await readPointer(vault))?.ts;
  return ts === undefined ? { side: { kind: 'none' }, contents: NOTHING } : readVersion(vault, aesKey, ts, fetch, masking);
}
