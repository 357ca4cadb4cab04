// The vault's key history (docs/FORMAT.md §15): the `keys` object beside `latest`, written by `key rotate`,
// listing each key the vault has had by its key check (§2: an HMAC under the derived key, which says nothing
// of the key) and the first version under it. It lets anyone tell "this machine's key is not the vault's
// any more" (KEY_ROTATED: ask for a new share file) and "this version is under an earlier key"
// (KEY_RETIRED) from altered data (DECRYPT_FAILED), which AES-GCM alone reports the same way. It holds no
// secret and is plain JSON; someone who can write the store can damage it, which only ever makes a reader
// fall back to DECRYPT_FAILED, never read data under a wrong key.
import { z } from 'zod';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/validation.js';
import type { StoredObject } from '../storage/storage.js';
import { keysKey } from './remote-layout.js';
import type { OpenVault } from './vault.js';

/** A few hundred bytes per rotation; this bounds what a hostile store can make the agent hold. */
export const MAX_KEY_HISTORY_BYTES = 64 * 1024;

const Check = z.string().regex(/^[A-Za-z0-9+/]{22}==$/, 'must be a 24-character key check');
const Timestamp = z.string().regex(/^\d{8}-\d{6}$/);

export const KeyHistorySchema = z
  .looseObject({
    version: z.literal(1),
    keys: z
      .array(z.looseObject({ check: Check, since: Timestamp.nullable() }))
      .min(1)
      .max(1000),
  })
  .refine((h) => h.keys.every((k, i) => (i === 0 ? k.since === null : k.since !== null && (i === 1 || k.since > h.keys[i - 1]!.since!))), {
    message: 'keys must start with one "since": null and then name strictly later versions',
  });
export type KeyHistory = z.infer<typeof KeyHistorySchema>;

export interface StoredHistory {
  readonly history: KeyHistory;
  readonly etag: string;
}

/** The history, or undefined when the vault never rotated (or its history cannot be read: see the header). */
export async function readKeyHistory(vault: OpenVault): Promise<StoredHistory | undefined> {
  let stored: StoredObject;
  try {
    stored = await vault.storage.get(keysKey(vault.ref.repo, vault.ref.env), { maxBytes: MAX_KEY_HISTORY_BYTES });
  } catch (err) {
    if (isVsyncError(err, 'STORAGE_NOT_FOUND', 'STORAGE_OBJECT_TOO_LARGE')) return undefined;
    throw err;
  }
  return { history: parseKeyHistory(stored.body), etag: stored.etag };
}

export function parseKeyHistory(body: Buffer): KeyHistory {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw new VsyncError('VAULT_KEYS_INVALID', 'not JSON', { cause });
  }
  const parsed = KeyHistorySchema.safeParse(json);
  if (!parsed.success) throw new VsyncError('VAULT_KEYS_INVALID', describeIssues(parsed.error));
  return parsed.data;
}

/** The history after a rotation to `check` from version `since` on; `current` is the key check before it. */
export function rotated(history: KeyHistory | undefined, current: string, check: string, since: string): KeyHistory {
  const keys = history?.keys ?? [{ check: current, since: null }];
  if (keys.some((k) => k.check === check)) return { version: 1, keys };
  return { version: 1, keys: [...keys, { check, since }] };
}

/** Index in the history of the key version `ts` is under. */
function keyIndexOf(history: KeyHistory, ts: string): number {
  let index = 0;
  for (const [i, key] of history.keys.entries()) if (key.since !== null && key.since <= ts) index = i;
  return index;
}

/** Where version `ts` stands against the key check `mine`: under it, an earlier key, a later one, or unknown. */
export function keyOfVersion(
  history: KeyHistory | undefined,
  ts: string,
  mine: string | undefined,
): 'mine' | 'earlier' | 'later' | undefined {
  if (!history || mine === undefined) return undefined;
  const own = history.keys.findIndex((k) => k.check === mine);
  const at = keyIndexOf(history, ts);
  if (history.keys[at]!.check === mine) return 'mine';
  // A key the history does not list is older than all it lists (it was never rotated to).
  return own === -1 || at > own ? 'later' : 'earlier';
}

/** Whether this machine's key is no longer the vault's current key. */
export function isRotatedPast(history: KeyHistory | undefined, mine: string | undefined): boolean {
  return history !== undefined && mine !== undefined && history.keys.at(-1)!.check !== mine;
}

/**
 * A DECRYPT_FAILED on version `ts`, told apart by the key history when it can be: KEY_ROTATED (the vault moved
 * to a later key than this machine's), KEY_RETIRED (the version is under an earlier key). Otherwise `err`.
 */
export async function explainDecryptFailure(vault: OpenVault, ts: string, err: unknown): Promise<unknown> {
  if (!isVsyncError(err, 'DECRYPT_FAILED')) return err;
  const mine = vault.config.encryption.keyCheck;
  const stored = await readKeyHistory(vault).catch(() => undefined);
  const where = keyOfVersion(stored?.history, ts, mine);
  if (where === 'later') {
    return new VsyncError('KEY_ROTATED', `version ${ts} of ${vault.ref.repo}/${vault.ref.env} is under a later key than this machine's`, {
      cause: err,
    });
  }
  if (where === 'earlier') {
    return new VsyncError('KEY_RETIRED', `version ${ts} is under an earlier key of ${vault.ref.repo}/${vault.ref.env}`, { cause: err });
  }
  return err;
}
