// What this machine remembers about each vault, beside (not inside) the shareable config: the remote state
// it last synced with, and the newest version it has seen (the anti-rollback floor, docs/FORMAT.md §5).
// `${XDG_STATE_HOME:-~/.local/state}/vsync/<repo>/<env>.json`, 0600.
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { VsyncError } from '../../shared/errors.js';
import { stateRoot, type Env } from '../../shared/paths.js';
import { describeIssues } from '../../shared/validation.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';

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
  newestSeen: Timestamp.optional(),
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
    throw new VsyncError('CONFIG_INVALID', `${file}: not JSON`, { cause, hint: `this machine's sync state is damaged; remove ${file} (the next push or pull will refuse until you pull or force)` });
  }
  const parsed = LocalStateSchema.safeParse(json);
  if (!parsed.success) {
    throw new VsyncError('CONFIG_INVALID', `${file}: ${describeIssues(parsed.error)}`, { hint: `this machine's sync state is damaged; remove ${file}` });
  }
  return parsed.data;
}

export async function writeLocalState(file: string, state: LocalState): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(LocalStateSchema.parse(state), null, 2)}\n`, 0o600);
}

const MAX_CHECKOUTS = 32;

/** This checkout's last sync; another clone's says nothing about this folder. */
export function syncedHere(state: LocalState, root: string): SyncRecord | undefined {
  return state.synced?.[root];
}

/** The state after a push or pull in `root`: its sync recorded, the newest version seen raised. */
export function afterSync(state: LocalState, root: string, sync: SyncRecord, seen: string): LocalState {
  const others = Object.entries(state.synced ?? {}).filter(([r]) => r !== root).slice(-(MAX_CHECKOUTS - 1));
  return { version: 1, synced: Object.fromEntries([...others, [root, sync]]), newestSeen: newer(state.newestSeen, seen)! };
}

/** The later of two timestamps (either may be missing). */
export function newer(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
