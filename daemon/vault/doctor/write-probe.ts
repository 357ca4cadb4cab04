// Does the store really enforce conditional writes? Some S3-compatible servers accept If-None-Match and
// If-Match on PUT and ignore them; on such a store two machines pushing at once can overwrite each other's
// version pointer unnoticed, and nothing in a push's own requests shows it. So this asks the store directly,
// on a scratch object of its own under the vault's prefix, and removes it afterwards:
//   1. put-if-absent A        must succeed (it is a fresh random key)
//   2. put-if-absent B        must be refused: the object exists
//   3. put-if-match C, current ETag   must succeed (what every push does to `latest`)
//   4. put-if-match D, step 1's ETag  must be refused: that ETag is stale now
// Five small requests (six with the clock reading), made by `vsync doctor` and by the first push to each store.
import { randomBytes } from 'node:crypto';
import { type VsyncError, isVsyncError } from '../../../shared/errors.js';
import type { Storage, WriteResult } from '../../storage/storage.js';
import { toVsyncError } from '../../../shared/error-conversion.js';

/** Where the probe writes: beside the vault's objects, in a folder no other part of vsync reads or lists. */
export function scratchKey(repo: string, env: string): string {
  // Not `.doctor`: a key segment may not start with a dot (storage.ts).
  return `${repo}/${env}/_doctor/${randomBytes(8).toString('hex')}`;
}

export interface WriteProbe {
  readonly key: string;
  /** Step 2: refused (`enforced`) or not. */
  readonly ifNoneMatch: 'enforced' | 'ignored';
  /** Step 4 refused (`enforced`) or not; `refused-current` when step 3 was already refused. */
  readonly ifMatch: 'enforced' | 'ignored' | 'refused-current';
  /** When asked for: the store's clock at step 1 (the object's Last-Modified), and ours around it. */
  readonly clock?: { readonly store: Date; readonly before: Date; readonly after: Date };
  /** The scratch object could not be removed; why. */
  readonly leftover?: VsyncError;
}

const body = (step: number): Buffer => Buffer.from(`vsync doctor: scratch object, write ${step}\n`, 'utf8');

/**
 * The four steps on `key`; with `now` (this machine's clock), the store's clock too. A step that fails for
 * another reason than its condition throws what the store threw, after the scratch object is removed.
 */
export async function probeWrites(storage: Storage, key: string, now?: () => Date): Promise<WriteProbe> {
  const before = now?.();
  const first = await storage.putIfAbsent(key, body(1));
  const after = now?.();
  let outcome: Omit<WriteProbe, 'leftover'>;
  try {
    const clock = before && after ? { store: (await storage.head(key)).lastModified, before, after } : undefined;
    const second = await refusedOr(storage.putIfAbsent(key, body(2)));
    const replaced = await refusedOr(storage.putIfMatch(key, body(3), (second ?? first).etag));
    let ifMatch: WriteProbe['ifMatch'] = 'refused-current';
    if (replaced) ifMatch = (await refusedOr(storage.putIfMatch(key, body(4), first.etag))) ? 'ignored' : 'enforced';
    outcome = { key, ifNoneMatch: second ? 'ignored' : 'enforced', ifMatch, ...(clock ? { clock } : {}) };
  } catch (err) {
    await storage.delete(key).catch(() => undefined);
    throw err;
  }
  try {
    await storage.delete(key);
    return outcome;
  } catch (err) {
    return { ...outcome, leftover: toVsyncError(err) };
  }
}

/** The write's result, or undefined when the store refused it on its condition. */
async function refusedOr(write: Promise<WriteResult>): Promise<WriteResult | undefined> {
  try {
    return await write;
  } catch (err) {
    if (isVsyncError(err, 'STORAGE_PRECONDITION_FAILED')) return undefined;
    throw err;
  }
}

/** Both conditions held as S3 defines them. */
export function enforced(probe: WriteProbe): boolean {
  return probe.ifNoneMatch === 'enforced' && probe.ifMatch === 'enforced';
}
