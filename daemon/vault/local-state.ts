// What this machine remembers about each vault, beside (not inside) the shareable config: the remote state
// it last synced with, and the newest version it has seen (the anti-rollback floor, docs/FORMAT.md §5).
// `${XDG_STATE_HOME:-~/.local/state}/vsync/<repo>/<env>.json`, 0600.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { VsyncError } from '../../shared/errors.js';
import { stateRoot, type Env } from '../../shared/paths.js';
import { describeIssues } from '../../shared/validation.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import { plausibleFloor } from '../crypto/timestamp.js';
import { makeFolders } from '../fs/make-folders.js';

const Timestamp = z.string().regex(/^\d{8}-\d{6}$/);

const SyncSchema = z.strictObject({
  ts: Timestamp,
  /** The pointer's ETag then: a push moves latest only if it is still this. */
  etag: z.string().min(1),
  /** The folder's tree digest then: a different digest now means unpushed edits. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
});

const LocalStateSchema = z.strictObject({
  version: z.literal(1),
  /**
   * Per checkout (the repo root's path): the remote as this checkout last left it in step with its folder,
   * after a push or a pull. Two clones of one repo on one machine are not each other's sync.
   */
  synced: z.record(z.string().min(1), SyncSchema).optional(),
  /**
   * Per checkout: a sync begun and not yet recorded, written just before the remote pointer moves (push,
   * no etag) or the folder is swapped (pull, with the pointer's etag). A crash between that change and
   * the record leaves this, and the next operation adopts it when the evidence says the change happened.
   */
  pending: z
    .record(z.string().min(1), z.strictObject({ ts: Timestamp, digest: SyncSchema.shape.digest, etag: z.string().min(1).optional() }))
    .optional(),
  newestSeen: Timestamp.optional(),
  /**
   * A key rotation this machine began (key-rotate.ts) and has not finished: the new key's salt and key check,
   * the version it re-encrypts (`from`) as `ts`, and the key check it replaces. The new key text waits in the
   * keychain beside the current one until the rotation is finished or undone.
   */
  rotation: z
    .strictObject({
      salt: z.string().min(1),
      keyCheck: z.string().regex(/^[A-Za-z0-9+/]{22}==$/),
      previous: z.string().regex(/^[A-Za-z0-9+/]{22}==$/),
      from: Timestamp,
      ts: Timestamp,
    })
    .optional(),
});

export type SyncRecord = z.infer<typeof SyncSchema>;
export type LocalState = z.infer<typeof LocalStateSchema>;

export function stateFile(repo: string, env: string, environment: Env): string {
  return join(stateRoot(environment), repo, `${env}.json`);
}

export async function readLocalState(file: string): Promise<LocalState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { version: 1 };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new VsyncError('CONFIG_INVALID', `${file}: not JSON`, {
      cause,
      hint: `this machine's sync state is damaged; remove ${file} (the next push or pull will refuse until you pull or force)`,
    });
  }
  const parsed = LocalStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new VsyncError('CONFIG_INVALID', `${file}: ${describeIssues(parsed.error)}`, {
      hint: `this machine's sync state is damaged; remove ${file}`,
    });
  }
  return parsed.data;
}

/**
 * Writes `state`. With `now`, the floor never goes down: the state was read at the start of an operation,
 * and a floor another operation raised since (another agent on this machine, one this agent abandoned) is
 * kept, unless it lies in the future at `now` (afterSync drops those). A damaged file is simply replaced.
 */
export async function writeLocalState(file: string, state: LocalState, now?: Date): Promise<void> {
  const onDisk = now === undefined ? undefined : floorOf(await readLocalState(file).catch(() => ({ version: 1 }) as LocalState), now);
  const floor = newer(state.newestSeen, onDisk);
  const kept: LocalState = floor === undefined ? state : { ...state, newestSeen: floor };
  await makeFolders(dirname(file), 0o700);
  await writeFileAtomic(file, `${JSON.stringify(LocalStateSchema.parse(kept), null, 2)}\n`, 0o600);
}

/**
 * The floor as the state file holds it now, if it has moved past `ts` since the operation read it: checked
 * just before a pull installs `ts`, so a pull that waited on a slow download never installs a version older
 * than one this machine has since seen.
 */
export async function floorPast(file: string, ts: string, now: Date): Promise<string | undefined> {
  const floor = floorOf(await readLocalState(file), now);
  return floor !== undefined && floor > ts ? floor : undefined;
}

const MAX_CHECKOUTS = 32;

export interface SyncEvidence {
  /** The remote pointer as read now. */
  readonly pointer?: { readonly ts: string; readonly etag: string } | undefined;
  /** The folder's tree digest now. */
  readonly folderDigest?: string | undefined;
}

/**
 * This checkout's last sync (another clone's says nothing about this folder). A pending sync that a crash
 * left unrecorded counts when the evidence shows it happened: the pointer names the pushed version, or the
 * folder holds the pulled files.
 */
export function syncedHere(state: LocalState, root: string, evidence: SyncEvidence): SyncRecord | undefined {
  const pending = state.pending?.[root];
  if (pending) {
    if (pending.etag === undefined && evidence.pointer?.ts === pending.ts) {
      return { ts: pending.ts, etag: evidence.pointer.etag, digest: pending.digest };
    }
    if (pending.etag !== undefined && evidence.folderDigest === pending.digest) {
      return { ts: pending.ts, etag: pending.etag, digest: pending.digest };
    }
  }
  return state.synced?.[root];
}

function withoutRoot<T>(record: Record<string, T> | undefined, root: string): Array<[string, T]> {
  return Object.entries(record ?? {})
    .filter(([r]) => r !== root)
    .slice(-(MAX_CHECKOUTS - 1));
}

/** The state to write just before the remote or the folder changes (see `pending`). */
export function beginSync(state: LocalState, root: string, pending: { ts: string; digest: string; etag?: string }): LocalState {
  return { ...state, pending: Object.fromEntries([...withoutRoot(state.pending, root), [root, pending]]) };
}

/**
 * The state after a push or pull in `root`: its sync recorded, nothing pending, the newest version seen
 * raised. Never to a version from the future (isFromFuture at `now`), and one already there (written before
 * this rule) is dropped: a floor no honest push can get past would refuse every later `latest`.
 */
export function afterSync(state: LocalState, root: string, sync: SyncRecord, seen: string | undefined, now: Date): LocalState {
  const pending = withoutRoot(state.pending, root);
  const newestSeen = newer(floorOf(state, now), plausibleFloor(seen, now));
  return {
    version: 1,
    synced: Object.fromEntries([...withoutRoot(state.synced, root), [root, sync]]),
    ...(pending.length ? { pending: Object.fromEntries(pending) } : {}),
    ...(newestSeen !== undefined ? { newestSeen } : {}),
    ...(state.rotation ? { rotation: state.rotation } : {}),
  };
}

/** The anti-rollback floor as it stands at `now`: newestSeen, unless it lies in the future (afterSync). */
export function floorOf(state: LocalState, now: Date): string | undefined {
  return plausibleFloor(state.newestSeen, now);
}

/** The later of two timestamps (either may be missing). */
export function newer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
