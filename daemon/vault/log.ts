// log <env>: the newest versions, newest first, each with who pushed it, from which machine, and what it
// changed against the version before it, values masked. Who and what come from each version's log entry
// (version-meta.ts), so no version is downloaded; a version without one (pushed by the upstream tool or an
// older vsync) is read itself, checked as a pull checks it, for what it holds, and shows who as unknown. A
// version under a key this machine does not hold (before a rotation, or after one it has not taken in) can
// say neither. Read-only.
import type { FileChange, LogEntry, LogResult } from '../../shared/api.js';
import { isVsyncError } from '../../shared/errors.js';
import { mapAtMost } from '../bundle/at-most.js';
import { compareContents, type Contents, type Masking } from './diff/compare.js';
import { vaultMasking } from './diff/compare.js';
import { versionSide } from './diff/sides.js';
import { summarise } from './diff/summary.js';
import { openVault, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { metaContents, readMeta } from './version-meta.js';
import { storedVersions } from './versions.js';
import { withWorkFolder } from './work-folder.js';
import type { FetchOptions } from './version-fetch.js';

export const DEFAULT_LOG_LIMIT = 20;
/** Versions read at once: each is a request or two, and a version without an entry a download. */
const READERS = 4;

/** What is known of one version. */
interface Described {
  readonly entry: LogEntry['entry'];
  readonly by?: string;
  readonly machine?: { id: string; name?: string };
  readonly reencrypted?: string;
  /** What it holds; undefined when it cannot be read (another key). */
  readonly contents?: Contents;
}

const NOTHING: Contents = new Map();

export async function log(deps: VaultDeps, ref: VaultRef, options: { limit?: number | undefined }): Promise<LogResult> {
  const limit = options.limit ?? DEFAULT_LOG_LIMIT;
  const vault = await openVault(deps, ref);
  const aesKey = await vault.aesKey();
  const { location, pointer, entries } = await storedVersions(vault);
  const shown = entries.slice(0, limit);
  // One more than shown: what the oldest shown changed is said against it.
  const read = entries.slice(0, limit + 1);
  const masking = vaultMasking(aesKey, false);
  const described = await withWorkFolder(deps.environment, (work) =>
    mapAtMost(READERS, read, ({ ts }) => describe(vault, aesKey, ts, { maxBytes: deps.maxVersionBytes, work }, masking)),
  );
  return {
    repo: ref.repo,
    env: ref.env,
    location,
    ...(pointer ? { latest: pointer.ts } : {}),
    entries: shown.map((version, i) => {
      const self = described[i]!;
      // The oldest version of all is measured against nothing: everything in it was added.
      const before = i + 1 < entries.length ? described[i + 1]?.contents : NOTHING;
      const changes: FileChange[] | undefined = self.contents && before && compareContents(before, self.contents, masking);
      return {
        ...version,
        entry: self.entry,
        ...(self.by !== undefined ? { by: self.by } : {}),
        ...(self.machine ? { machine: self.machine } : {}),
        ...(self.reencrypted ? { reencrypted: self.reencrypted } : {}),
        ...(changes ? { changes, summary: summarise(changes) } : {}),
      };
    }),
    more: entries.length - shown.length,
  };
}

async function describe(vault: OpenVault, aesKey: Buffer, ts: string, fetch: FetchOptions, masking: Masking): Promise<Described> {
  const { repo, env } = vault.ref;
  let meta: Awaited<ReturnType<typeof readMeta>>;
  try {
    meta = await readMeta(vault.storage, repo, env, aesKey, ts);
  } catch (err) {
    if (isVsyncError(err, 'DECRYPT_FAILED')) return { entry: 'other-key' };
    throw err;
  }
  if (meta !== undefined && meta !== 'invalid') {
    return {
      entry: 'ok',
      by: meta.by,
      machine: { id: meta.machine.id, ...(meta.machine.name !== undefined ? { name: meta.machine.name } : {}) },
      ...(meta.reencrypted ? { reencrypted: meta.reencrypted } : {}),
      contents: metaContents(meta),
    };
  }
  const entry = meta === undefined ? 'missing' : 'invalid';
  try {
    return { entry, contents: await versionSide(vault, aesKey, ts, fetch, masking) };
  } catch (err) {
    // Under another key (fetchVersion names it, where the store's key history can tell which).
    if (isVsyncError(err, 'DECRYPT_FAILED', 'KEY_RETIRED', 'KEY_ROTATED')) return { entry: meta === undefined ? 'other-key' : entry };
    // A version that cannot be read is shown without what it changed, not allowed to hide the rest.
    if (isVsyncError(err)) return { entry };
    throw err;
  }
}
