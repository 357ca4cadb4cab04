// One version from the store, for reading rather than installing (diff, run --latest, log): downloaded,
// decrypted, its GCM tag verified and its seal checked against the name it was asked by, with the download
// capped as a pull caps it. The zip comes back in memory when small, else in a file of the operation's work
// folder; with no work folder (run --latest: its values must never reach a disk) a larger one is refused.
import { join } from 'node:path';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { ZipInput } from '../bundle/zip-source.js';
import { explainDecryptFailure } from './key-history.js';
import { versionKey } from './remote-layout.js';
import type { OpenVault } from './vault.js';
import { DEFAULT_MAX_VERSION_BYTES, VERSION_CAP_VARIABLE } from './version-cap.js';
import { IN_MEMORY_BYTES, decryptToFile, decryptToMemory } from './version-file.js';

export interface FetchOptions {
  /** VaultDeps.maxVersionBytes. */
  readonly maxBytes?: number | undefined;
  /** The operation's work folder (work-folder.ts); without one, only a version of at most IN_MEMORY_BYTES is read. */
  readonly work?: () => Promise<string>;
}

/**
 * The zip of version `ts`. VAULT_VERSION_NOT_FOUND when the store has no such version; VAULT_VERSION_TOO_LARGE
 * past the cap (or past IN_MEMORY_BYTES without a work folder); VAULT_SEAL_MISMATCH when it is sealed with
 * another timestamp; the envelope's own errors (DECRYPT_FAILED, …) as they are.
 */
export async function fetchVersion(vault: OpenVault, aesKey: Buffer, ts: string, options: FetchOptions = {}): Promise<ZipInput> {
  const key = versionKey(vault.ref.repo, vault.ref.env, ts);
  const maxBytes = Math.min(options.maxBytes ?? DEFAULT_MAX_VERSION_BYTES, options.work ? Number.MAX_SAFE_INTEGER : IN_MEMORY_BYTES);
  let attempts = 0;
  let opened: { source: ZipInput; ts: string | undefined };
  try {
    opened = await vault.storage.download(
      key,
      async (body, info) => {
        if (info.size <= IN_MEMORY_BYTES || !options.work) {
          const { bytes, ts: sealed } = await decryptToMemory(aesKey, body, true);
          return { source: bytes, ts: sealed };
        }
        const path = join(await options.work(), `read-${++attempts}.zip`);
        return { source: { path }, ts: (await decryptToFile(aesKey, body, path, true)).ts };
      },
      { maxBytes },
    );
  } catch (err) {
    if (isVsyncError(err, 'STORAGE_NOT_FOUND'))
      throw new VsyncError('VAULT_VERSION_NOT_FOUND', vault.storage.describe(key), { cause: err });
    if (isVsyncError(err, 'STORAGE_OBJECT_TOO_LARGE')) {
      throw new VsyncError(
        'VAULT_VERSION_TOO_LARGE',
        `${err.detail ?? key} (${options.work ? VERSION_CAP_VARIABLE : 'read into memory only'}=${maxBytes})`,
        {
          cause: err,
          ...(options.work ? {} : { hint: 'a version this large is never held in memory whole: pull it, then use the vault folder' }),
        },
      );
    }
    throw await explainDecryptFailure(vault, ts, err);
  }
  if (opened.ts !== ts) throw new VsyncError('VAULT_SEAL_MISMATCH', `asked for ${ts}, the bundle is sealed ${opened.ts}`);
  return opened.source;
}
