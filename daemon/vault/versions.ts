// versions <env>: every version in the store, newest first, marking the one latest names. Reads the config
// and the store only: no key is needed.
import { isVsyncError } from '../../shared/errors.js';
import { versionOfKey, versionsPrefix } from './remote-layout.js';
import { openVault, readPointer, type OpenVault, type Pointer, type VaultDeps, type VaultRef } from './vault.js';
import type { VersionsResult } from '../../shared/api.js';
import { keyOfVersion, readKeyHistory } from './key-history.js';

// The result is the wire contract's (shared/api.ts), not a shape of the domain's own.
export type { VersionsResult };

export async function versions(deps: VaultDeps, ref: VaultRef): Promise<VersionsResult> {
  const vault = await openVault(deps, ref);
  const [{ location, pointer, entries }, stored] = await Promise.all([
    storedVersions(vault),
    // A history that cannot be read only leaves the versions unmarked.
    readKeyHistory(vault).catch(() => undefined),
  ]);
  const mine = vault.config.encryption.keyCheck;
  return {
    repo: ref.repo,
    env: ref.env,
    location,
    ...(pointer ? { latest: pointer.ts } : {}),
    versions: entries.map((entry) => {
      const key = keyOfVersion(stored?.history, entry.ts, mine);
      return key === 'earlier' || key === 'later' ? { ...entry, key } : entry;
    }),
  };
}

export interface StoredVersions {
  /** Where they are, as a person reads it (`s3://bucket/repo/dev/versions/`). */
  readonly location: string;
  /** `latest`, unless it is missing or damaged. */
  readonly pointer: Pointer | undefined;
  /** Newest first. */
  readonly entries: Array<{ ts: string; size: number; latest: boolean }>;
}

/** The versions under `versions/` (anything else found there is not one) and the pointer, read together. */
export async function storedVersions(vault: OpenVault): Promise<StoredVersions> {
  const prefix = versionsPrefix(vault.ref.repo, vault.ref.env);
  const [listed, pointer] = await Promise.all([
    vault.storage.list(prefix),
    // A damaged pointer must not hide the list that helps repair it.
    readPointer(vault).catch((err) => {
      if (isVsyncError(err, 'VAULT_POINTER_INVALID')) return undefined;
      throw err;
    }),
  ]);
  const entries = listed
    .map((o) => ({ ts: versionOfKey(o.key, prefix), size: o.size }))
    .filter((o): o is { ts: string; size: number } => o.ts !== undefined)
    .sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0))
    .map((o) => ({ ...o, latest: o.ts === pointer?.ts }));
  return { location: vault.storage.describe(prefix), pointer, entries };
}
