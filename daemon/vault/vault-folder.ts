// Replacing a vault folder with a pulled one. The new folder is extracted beside the old one (same
// filesystem) and swapped in with two renames: old → `.vsync-old-…`, staging → the vault folder. A crash
// between the two leaves the old folder under its hidden name; recoverSwap() puts it back before the next
// operation, so the folder is always old or new and never a mix.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { treeDigest, type TreeFile } from '../bundle/tree-digest.js';
import { syncFolder } from '../fs/atomic-write.js';

/** treeDigest of a staging folder this process just filled (private to it: nothing else writes there). */
export async function stagingDigest(staging: string): Promise<string> {
  const files: TreeFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(join(dir, entry.name), name);
      else files.push({ name, data: await readFile(join(dir, entry.name)) });
    }
  };
  await walk(staging, '');
  return treeDigest(files);
}

export async function folderExists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** An empty staging folder beside `target`. */
export async function makeStaging(target: string): Promise<string> {
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  return mkdtemp(join(dirname(target), `.vsync-staging-${basename(target)}-`));
}

// Exact names, so that recovering `prod` never touches `prod-eu`'s leftovers: env names may hold `-`.
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const oldName = (base: string) => new RegExp(`^\\.vsync-old-${escape(base)}-[0-9a-f]{8}$`);
const stagingName = (base: string) => new RegExp(`^\\.vsync-staging-${escape(base)}-[A-Za-z0-9]{6}$`);

export async function swapIn(target: string, staging: string): Promise<void> {
  const parent = dirname(target);
  const old = join(parent, `.vsync-old-${basename(target)}-${randomBytes(4).toString('hex')}`);
  const hadOld = await folderExists(target);
  if (hadOld) await rename(target, old);
  try {
    await rename(staging, target);
  } catch (err) {
    if (hadOld) await rename(old, target); // never leave the vault folder missing
    throw err;
  }
  await syncFolder(parent);
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/** Undoes a swap that a crash cut short, and clears staging folders left by failed pulls. */
export async function recoverSwap(target: string): Promise<void> {
  const parent = dirname(target);
  const names = await readdir(parent).catch(() => [] as string[]);
  const olds = names.filter((n) => oldName(basename(target)).test(n));
  if (olds.length > 0 && !(await folderExists(target))) {
    await rename(join(parent, olds.shift()!), target);
  }
  for (const n of [...olds, ...names.filter((n) => stagingName(basename(target)).test(n))]) {
    await rm(join(parent, n), { recursive: true, force: true });
  }
}
