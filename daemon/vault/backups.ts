// Encrypted backups of a vault folder, written before each pull replaces it (docs/FORMAT.md §10):
// `<config>/backups/<repo>/<env>-<ts>.zip.enc`, an unsealed RQE1 envelope under the vault key. The two
// newest per (repo, env) are kept, and a folder identical to the newest backup is not written again: with
// only two kept, repeated pulls of an unchanged folder would otherwise rotate away the one backup that holds
// edits never pushed.
import { link, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { backupFolder, type Env } from '../../shared/paths.js';
import { formatTimestamp, nextTimestamp } from '../crypto/timestamp.js';
import { syncFolder, tempOwner, tempPathFor } from '../fs/atomic-write.js';
import { isRunning } from '../fs/process-alive.js';
import { isErrno } from '../fs/errno.js';
import { encryptToFile, envelopeDigest, sameZip, type ZipDigest } from './version-file.js';
import type { BackupsResult } from '../../shared/api.js';
import { readFolder, type FolderRead } from '../bundle/zip-folder.js';
import { span } from '../trace/span.js';
import type { OpenVault } from './vault.js';
import { folderExists } from './vault-folder.js';
import { makeFolders } from '../fs/make-folders.js';

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

export interface WrittenBackup {
  readonly path: string;
  /** The zip the backup holds, as it streamed by: bundles are deterministic, so equal digests, equal folders. */
  readonly zip: ZipDigest;
}

/** The vault folder as a pull or a restore finds it, read once (readFolder); undefined when there is no folder. */
export async function readVaultFolder(vault: OpenVault): Promise<FolderRead | undefined> {
  if (!(await folderExists(vault.folder))) return undefined;
  return span('folder.read', () => readFolder(vault.ref.root, vault.vaultFolder, vault.limits));
}

/** The backup of that read (writeBackup); undefined when it holds no file: an empty folder has no backup. */
export async function backUpRead(
  aesKey: Buffer,
  vault: OpenVault,
  read: FolderRead,
  environment: Env,
  now: Date,
  options: { readonly spare?: string } = {},
): Promise<WrittenBackup | undefined> {
  if (read.files === 0) return undefined;
  const { repo, env } = vault.ref;
  return span('backup.write', () => writeBackup(aesKey, read, repo, env, environment, now, options));
}

/** A folder to back up: its zip, built when asked, and the digest of what it holds (tree-digest.ts). */
export interface BackupSource {
  zip(): Readable;
  readonly digest: string;
}

/**
 * What this agent knows of the backups it wrote or compared, by path: the file as it then was (device, inode,
 * size, mtime), the zip it holds and the digest of the folder it was made from. A backup that is no longer
 * that file (changed by anyone since) is decrypted to be compared, as one never seen is.
 */
const known = new Map<string, { identity: string; zip: ZipDigest; folder: string }>();

async function identityOf(path: string): Promise<string | undefined> {
  const info = await stat(path, { bigint: true }).catch(() => undefined);
  return info && `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}`;
}

async function knownAs(path: string): Promise<{ zip: ZipDigest; folder: string } | undefined> {
  const entry = known.get(path);
  return entry && entry.identity === (await identityOf(path)) ? entry : undefined;
}

async function remember(path: string, zip: ZipDigest, folder: string): Promise<void> {
  const identity = await identityOf(path);
  if (identity !== undefined) known.set(path, { identity, zip, folder });
}

/**
 * Writes the backup of `source` and prunes older ones; returns its path and the zip's digest. Never
 * overwrites an earlier backup. The envelope is streamed into a temp file beside the backups (nothing is
 * held in memory) and linked into place under its name, so a backup is never seen half-written. When the
 * newest backup already holds exactly that folder, that one is returned instead of a copy: known to this
 * agent (it wrote or compared that very file, for that folder digest), nothing is even zipped; otherwise
 * the temp file is written, compared with it, and dropped. `spare` names a backup the pruning must keep
 * for now: the one a restore is about to put back (restore.ts prunes once it is in place).
 */
export async function writeBackup(
  aesKey: Buffer,
  source: BackupSource,
  repo: string,
  env: string,
  environment: Env,
  now: Date,
  options: { readonly spare?: string } = {},
): Promise<WrittenBackup> {
  const folder = backupFolder(repo, environment);
  await makeFolders(folder, 0o700);
  // Operations on one vault never overlap in the agent (vault-service.ts), so the newest backup read here
  // is still the newest once the temp file is written.
  const newest = (await listBackups(repo, env, environment))[0];
  const seen = newest && (await knownAs(newest.path));
  if (newest && seen?.folder === source.digest) return { path: newest.path, zip: seen.zip };
  const temp = tempPathFor(join(folder, `${env}.zip.enc`));
  try {
    const written = await encryptToFile(aesKey, source.zip(), temp, { durable: true });
    // Equal zips make equal-sized envelopes: a backup of another size is not decrypted to be compared.
    if (newest && newest.size === written.size) {
      if (seen ? sameZip(seen.zip, written.zip) : await holds(newest.path, aesKey, written.zip)) {
        await remember(newest.path, written.zip, source.digest);
        return { path: newest.path, zip: written.zip };
      }
    }
    let ts = formatTimestamp(now);
    for (; ; ts = nextTimestamp(ts, now) /* two pulls in one second */) {
      try {
        await link(temp, join(folder, `${env}-${ts}.zip.enc`));
        break;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
    }
    await syncFolder(folder);
    const path = join(folder, `${env}-${ts}.zip.enc`);
    await remember(path, written.zip, source.digest);
    await pruneBackups(repo, env, environment, options.spare);
    return { path, zip: written.zip };
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Removes all but the BACKUPS_KEPT newest backups of (repo, env), never `spare`, and the temp files of
 * backups a killed agent was writing (ciphertext, as large as a vault: a disk leak, not a secret leak).
 */
export async function pruneBackups(repo: string, env: string, environment: Env, spare?: string): Promise<void> {
  for (const old of (await listBackups(repo, env, environment)).slice(BACKUPS_KEPT)) {
    if (old.path === spare) continue;
    known.delete(old.path);
    await unlink(old.path).catch(() => undefined);
  }
  const folder = backupFolder(repo, environment);
  for (const name of await readdir(folder).catch(() => [])) {
    const pid = tempOwner(name, `${env}.zip.enc`);
    if (pid !== undefined && pid !== process.pid && !isRunning(pid)) await unlink(join(folder, name)).catch(() => undefined);
  }
}

/** Whether the backup at `path` decrypts to the zip `zip` describes. One that does not decrypt (damaged, other key) does not. */
async function holds(path: string, aesKey: Buffer, zip: ZipDigest): Promise<boolean> {
  try {
    return sameZip(await envelopeDigest(aesKey, path, false), zip);
  } catch {
    return false;
  }
}
