// `mkdir -p`, one folder at a time. Node's `mkdir(path, { recursive: true })` never returns on procfs (tried:
// /proc/self/r/stg/versions spins at full CPU, and an agent stuck in it ignores SIGTERM), so a store folder
// under /proc in an old config would hang the agent. Here each step is one mkdir(2), and the walk up is
// bounded by the path's depth.
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isErrno } from './errno.js';

/** Makes `folder` and its missing parents; returns the first folder it made (as mkdir -p would), or undefined. */
export async function makeFolders(folder: string, mode: number): Promise<string | undefined> {
  const missing: string[] = [];
  for (let dir = folder; ; dir = dirname(dir)) {
    try {
      await stat(dir);
      break;
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || dirname(dir) === dir) throw err;
      missing.push(dir);
    }
  }
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
