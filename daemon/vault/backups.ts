// Encrypted backups of a vault folder, written before each pull replaces it (docs/FORMAT.md §10):
// `<config>/backups/<repo>/<env>-<ts>.zip.enc`, an unsealed RQE1 envelope under the vault key. The two
// newest per (repo, env) are kept, and a folder identical to the newest backup is not written again: with
// only two kept, repeated pulls of an unchanged folder would otherwise rotate away the one backup that holds
// edits never pushed.
import { mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { backupFolder, type Env } from '../../shared/paths.js';
import { decryptEnvelope, encryptEnvelope } from '../crypto/envelope.js';
import { formatTimestamp, nextTimestamp } from '../crypto/timestamp.js';
import { writeFileExclusive } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import type { BackupsResult } from '../../shared/api.js';

export const BACKUPS_KEPT = 2;

export type Backup = BackupsResult['backups'][number];

const NAME = /^(.+)-(\d{8}-\d{6})\.zip\.enc$/;

export async function listBackups(repo: string, env: string, environment: Env): Promise<Backup[]> {
  const folder = backupFolder(repo, environment);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    // No backups yet. A folder that cannot be read is the file system refusing: said, not taken for empty.
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
    throw err;
  }
  const found: Backup[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m || m[1] !== env) continue;
    const info = await stat(join(folder, name)).catch(() => undefined);
    if (info?.isFile()) found.push({ ts: m[2]!, path: join(folder, name), size: info.size });
  }
  return found.sort((a, b) => (a.ts < b.ts ? 1 : -1));
}

/**
 * Writes the backup and prunes older ones; returns its path. Never overwrites an earlier backup. When the
 * newest backup already holds exactly `zip` (bundles are deterministic, so equal bytes are equal folders),
 * returns that one instead of writing a copy. `spare` names a backup the pruning must keep for now: the one
 * a restore is about to put back (restore.ts prunes once it is in place).
 */
export async function writeBackup(
  aesKey: Buffer,
  zip: Buffer,
  repo: string,
  env: string,
  environment: Env,
  now: Date,
  options: { readonly spare?: string } = {},
): Promise<string> {
  const folder = backupFolder(repo, environment);
  const newest = (await listBackups(repo, env, environment))[0];
  if (newest && (await holds(newest.path, aesKey, zip))) return newest.path;
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const envelope = encryptEnvelope(aesKey, zip);
  let ts = formatTimestamp(now);
  for (;;) {
    const path = join(folder, `${env}-${ts}.zip.enc`);
    if (await writeFileExclusive(path, envelope, 0o600)) break;
    ts = nextTimestamp(ts, now); // two pulls in one second
  }
  await pruneBackups(repo, env, environment, options.spare);
  return join(folder, `${env}-${ts}.zip.enc`);
}

/** Removes all but the BACKUPS_KEPT newest backups of (repo, env), never `spare`. */
export async function pruneBackups(repo: string, env: string, environment: Env, spare?: string): Promise<void> {
  for (const old of (await listBackups(repo, env, environment)).slice(BACKUPS_KEPT)) {
    if (old.path !== spare) await unlink(old.path).catch(() => undefined);
  }
}

/** Whether the backup at `path` decrypts to `zip`. One that does not decrypt (damaged, other key) does not. */
async function holds(path: string, aesKey: Buffer, zip: Buffer): Promise<boolean> {
  try {
    return decryptEnvelope(aesKey, await readFile(path)).equals(zip);
  } catch {
    return false;
  }
}
