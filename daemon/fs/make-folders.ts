// `mkdir -p`, one folder at a time. Node's `mkdir(path, { recursive: true })` never returns on procfs (tried:
// /proc/self/r/stg/versions spins at full CPU, and an agent stuck in it ignores SIGTERM), so a store folder
// under /proc in an old config would hang the agent. Here each step is one mkdir(2), and the walk up is
// bounded by the path's depth.
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isErrno } from './errno.js';

/**
 * `folder` and those of its parents that do not exist, deepest first (none when `folder` exists); throws the
 * first error other than ENOENT (ENOTDIR: a file on the way; EACCES).
 */
export async function missingFolders(folder: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = folder; ; dir = dirname(dir)) {
    try {
      await stat(dir);
      return missing;
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || dirname(dir) === dir) throw err;
      missing.push(dir);
    }
  }
}

/** Makes `folder` and its missing parents; returns the first folder it made (as mkdir -p would), or undefined. */
export async function makeFolders(folder: string, mode: number): Promise<string | undefined> {
  const missing = await missingFolders(folder);
  let first: string | undefined;
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, { mode });
      first ??= dir;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err; // made meanwhile by another writer: go on
    }
  }
  return first;
}
