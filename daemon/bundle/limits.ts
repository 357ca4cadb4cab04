// Caps on what a bundle may hold. A vault folder is a handful of small secret files, so the defaults are
// generous for that and still small enough that a hostile or damaged archive cannot fill a disk or memory.
// zipFolder and unzipToStaging apply the same caps, so we never push an archive we would refuse to pull.

import { VsyncError } from '../../shared/errors.js';
import { CENTRAL_HEADER_BYTES, END_RECORD_BYTES, LOCAL_HEADER_BYTES } from './zip-records.js';

export interface BundleLimits {
  /** Most entries (files, and folders when an archive lists them) one archive may hold. */
  readonly maxEntries: number;
  /** Most bytes one file may hold once extracted. */
  readonly maxEntryBytes: number;
  /** Most bytes all files together may hold once extracted. */
  readonly maxTotalBytes: number;
}

export const defaultBundleLimits: BundleLimits = Object.freeze({
  maxEntries: 1000,
  maxEntryBytes: 16 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
});

/**
 * Where each cap is raised: the agent's environment (every vault it serves) or a vault config's `limits`
 * (that vault, which wins). Errors name them, so a vault that outgrew a default says what to change.
 */
export const CAP_SETTINGS = Object.freeze({
  maxEntries: 'VSYNC_MAX_BUNDLE_ENTRIES',
  maxEntryBytes: 'VSYNC_MAX_FILE_BYTES',
  maxTotalBytes: 'VSYNC_MAX_BUNDLE_BYTES',
} as const) satisfies Readonly<Record<keyof BundleLimits, string>>;

/** A cap as an error states it: its value and where it is set, e.g. `1000 (VSYNC_MAX_BUNDLE_ENTRIES, or limits.maxEntries in the vault's config)`. */
export function capText(limits: BundleLimits, cap: keyof BundleLimits): string {
  return `${limits[cap]} (${CAP_SETTINGS[cap]}, or limits.${cap} in the vault's config)`;
}

/** The defaults with any per-call overrides applied; a cap that is not a positive safe integer is a bug. */
export function resolveBundleLimits(overrides?: Partial<BundleLimits>): BundleLimits {
  const limits = { ...defaultBundleLimits, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new VsyncError('INTERNAL', `bundle limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return limits;
}

// The longest entry name we accept, in UTF-8 bytes: Linux's PATH_MAX. Real vault paths are far shorter;
// the cap keeps the archive-size bound below meaningful.
export const MAX_NAME_BYTES = 4096;

/**
 * The largest archive that could hold content within the caps: every byte stored, plus deflate's worst-case
 * growth, plus per-entry headers with maximal names. Anything bigger is refused before it is parsed at all,
 * so a giant central directory cannot cost time or memory.
 */
export function maxArchiveBytes(limits: BundleLimits): number {
  const deflateGrowth = Math.ceil(limits.maxTotalBytes / 1024) + 64 * limits.maxEntries;
  const perEntryOverhead = LOCAL_HEADER_BYTES + CENTRAL_HEADER_BYTES + 2 * MAX_NAME_BYTES + 2 * 64; // names, small extras
  const endRecords = END_RECORD_BYTES + 56 + 20 + 0xffff; // and zip64 records, the longest comment
  return limits.maxTotalBytes + deflateGrowth + limits.maxEntries * perEntryOverhead + endRecords;
}
