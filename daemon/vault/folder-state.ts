// Whether a checkout's vault folder holds edits this machine never pushed. A push on save asks before it
// pushes (a folder the agent itself just pulled into is not a change), and --follow asks before it pulls
// (a teammate's version never replaces unpushed edits on its own).
import { readFolder, type FolderRead } from '../bundle/zip-folder.js';
import { readLocalState, syncedHere, type SyncRecord } from './local-state.js';
import type { OpenVault } from './vault.js';
import { folderExists } from './vault-folder.js';

export interface FolderState {
  readonly exists: boolean;
  /** The folder differs from the version this checkout last synced; with nothing synced yet, it holds files. */
  readonly unpushed: boolean;
  readonly synced?: SyncRecord | undefined;
  /** The read it was judged by, when the folder exists: what a push on save then pushes. */
  readonly read?: FolderRead;
}

/** Throws what readFolder throws for a folder no push would take (a fifo in it, a file too large). */
export async function readFolderState(vault: OpenVault): Promise<FolderState> {
  const state = await readLocalState(vault.stateFile);
  if (!(await folderExists(vault.folder))) return { exists: false, unpushed: false, synced: state.synced?.[vault.ref.root] };
  const read = await readFolder(vault.ref.root, vault.vaultFolder, vault.limits);
  const synced = syncedHere(state, vault.ref.root, { folderDigest: read.digest });
  return { exists: true, unpushed: synced ? synced.digest !== read.digest : read.files > 0, synced, read };
}
