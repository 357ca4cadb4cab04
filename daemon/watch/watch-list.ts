// The agent's own small file of watched vaults (`${XDG_STATE_HOME:-~/.local/state}/vsync/watches.json`),
// so that watching resumes when the agent restarts. One entry per checkout and env.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { VsyncError } from '../../shared/errors.js';
import { stateRoot, type Env } from '../../shared/paths.js';
import { describeIssues } from '../../shared/validation.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import { makeFolders } from '../fs/make-folders.js';

const WatchSpecSchema = z.strictObject({
  /** The checkout's repo root (absolute). */
  root: z
    .string()
    .min(1)
    .refine((p) => p.startsWith('/'), 'must be an absolute path'),
  env: z.string().min(1).max(64),
  follow: z.boolean(),
});
export type WatchSpec = z.infer<typeof WatchSpecSchema>;

const WatchListSchema = z.strictObject({ version: z.literal(1), watches: z.array(WatchSpecSchema) });

export function watchListFile(environment: Env): string {
  return join(stateRoot(environment), 'watches.json');
}

export async function readWatchList(file: string): Promise<WatchSpec[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  const damaged = (detail: string, cause?: unknown) =>
    new VsyncError('CONFIG_INVALID', `${file}: ${detail}`, {
      cause,
      hint: `remove ${file} and turn watching on again (vsync watch <env>)`,
    });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw damaged('not JSON', cause);
  }
  const parsed = WatchListSchema.safeParse(json);
  if (!parsed.success) throw damaged(describeIssues(parsed.error));
  return parsed.data.watches;
}

export async function writeWatchList(file: string, watches: readonly WatchSpec[]): Promise<void> {
  await makeFolders(dirname(file), 0o700);
  await writeFileAtomic(file, `${JSON.stringify({ version: 1, watches }, null, 2)}\n`, 0o600);
}
