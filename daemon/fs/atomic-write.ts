// Durable replacement of a file: write a temp file beside it, fsync, rename over the target, fsync the
// folder. A crash at any instant leaves the old file or the new one, never a torn one. Shared by the
// directory store and the vault's local files (config, state, backups).
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isErrno } from './errno.js';

/** A temp name in the target's folder (rename is only atomic within one filesystem). Dot-prefixed. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** The pid in a tempPathFor name for `target`'s base name, or undefined when `name` is not one. */
export function tempOwner(name: string, targetName: string): number | undefined {
  const prefix = `.${targetName}.tmp-`;
  if (!name.startsWith(prefix)) return undefined;
  const pid = /^(\d+)-[0-9a-f]{12}$/.exec(name.slice(prefix.length))?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/** Writes `data` to a new file at `path` (which must not exist) and fsyncs it. */
export async function writeNewFileSynced(path: string, data: Buffer | string, mode = 0o600): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename or link in `folder` durable. */
export async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `target` with `data` atomically and durably. */
export async function writeFileAtomic(target: string, data: Buffer | string, mode = 0o600): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await writeNewFileSynced(temp, data, mode);
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncFolder(dirname(target));
}

/**
 * Creates `target` with `data` only if it does not exist, atomically across processes: link(2) fails with
 * EEXIST when the name is taken, and readers never see a partly written file. Returns false when it existed.
 */
export async function writeFileExclusive(target: string, data: Buffer | string, mode = 0o600): Promise<boolean> {
  return fillFileExclusive(target, (handle) => handle.writeFile(data), mode);
}

/**
 * writeFileExclusive for bytes that do not fit in memory: `fill` writes the new file (a copy streamed from
 * another file) through its open handle, and the file is linked into place only once `fill` returned and it
 * was fsynced. When `fill` throws, nothing is created and the error passes through.
 */
export async function fillFileExclusive(target: string, fill: (handle: FileHandle) => Promise<void>, mode = 0o600): Promise<boolean> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await fill(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, target);
    } catch (err) {
      if (isErrno(err, 'EEXIST')) return false;
      throw err;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncFolder(dirname(target));
  return true;
}
