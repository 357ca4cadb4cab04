// At agent start, before the socket answers: versions a killed agent was pushing or pulling are removed
// from the work folder (work-folder.ts), and every checkout this machine knows has its vault folder's
// swap repaired (vault-folder.ts recoverSwap). A pull cut short between its two renames (SIGKILL, power
// loss) left the folder under `.vsync-old-…`; the user's editor, build or `git status` should find it back
// as soon as the agent is up again, not only at the next vsync command on that vault.
//
// The checkouts known are the roots in each local state file (`<state>/<repo>/<env>.json`: synced and
// pending, local-state.ts) and the watch list. Nothing here is fatal: a vault whose config is gone, a root
// that moved, a folder the file system refuses, is logged and left for the next operation on it, which
// reports it as a coded error.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { toVsyncError } from '../../shared/error-conversion.js';
import { isVsyncError } from '../../shared/errors.js';
import { ENV_NAME, REPO_NAME } from '../../shared/names.js';
import { configFile, stateRoot, type Env } from '../../shared/paths.js';
import { isErrno } from '../fs/errno.js';
import { readWatchList, watchListFile } from '../watch/watch-list.js';
import { readConfig, vaultFolderOf, type Config } from './config.js';
import { readLocalState } from './local-state.js';
import { resolveRepoIdentity } from './repo-identity.js';
import { assertVaultPathSafe } from './vault-path.js';
import { recoverSwap } from './vault-folder.js';
import { clearWorkFolders } from './work-folder.js';

export interface Checkout {
  readonly repo: string;
  readonly env: string;
  readonly root: string;
}

export interface RepairLog {
  info(message: string): void;
  warn(message: string): void;
}

/** Repairs every known checkout; resolves when all were tried. Never throws. */
export async function repairCheckouts(environment: Env, log: RepairLog): Promise<void> {
  try {
    const { cleared, stuck } = await clearWorkFolders(environment);
    for (const path of cleared) log.info(`startup repair: removed ${path}, left by a push or pull cut short`);
    for (const { path, error } of stuck) log.warn(`startup repair: could not remove ${path}: ${describe(error)}`);
  } catch (err) {
    log.warn(`startup repair: could not clear the work folder: ${describe(err)}`);
  }
  let checkouts: Checkout[];
  try {
    checkouts = await knownCheckouts(environment, log);
  } catch (err) {
    log.warn(`startup repair: could not list the checkouts this machine knows: ${describe(err)}`);
    return;
  }
  for (const checkout of checkouts) {
    try {
      await repairOne(checkout, environment, log);
    } catch (err) {
      log.warn(`startup repair of ${checkout.repo}/${checkout.env} in ${checkout.root}: ${describe(err)}`);
    }
  }
}

/** The (repo, env, root) triples in the local state files and the watch list, each once. */
export async function knownCheckouts(environment: Env, log: RepairLog): Promise<Checkout[]> {
  const found = new Map<string, Checkout>();
  const add = (c: Checkout) => found.set(JSON.stringify([c.repo, c.env, c.root]), c);
  const root = stateRoot(environment);
  for (const repo of (await names(root)).filter((n) => REPO_NAME.test(n))) {
    for (const file of await names(join(root, repo))) {
      const env = /^(.+)\.json$/.exec(file)?.[1];
      if (env === undefined || !ENV_NAME.test(env)) continue;
      try {
        const state = await readLocalState(join(root, repo, file));
        for (const r of new Set([...Object.keys(state.synced ?? {}), ...Object.keys(state.pending ?? {})])) add({ repo, env, root: r });
      } catch (err) {
        log.warn(`startup repair: skipping ${join(root, repo, file)}: ${describe(err)}`);
      }
    }
  }
  try {
    for (const spec of await readWatchList(watchListFile(environment))) {
      try {
        add({ repo: (await resolveRepoIdentity(spec.root)).repo, env: spec.env, root: spec.root });
      } catch (err) {
        log.warn(`startup repair: skipping watched ${spec.root} (${spec.env}): ${describe(err)}`);
      }
    }
  } catch (err) {
    log.warn(`startup repair: skipping the watch list: ${describe(err)}`);
  }
  return [...found.values()];
}

async function repairOne(checkout: Checkout, environment: Env, log: RepairLog): Promise<void> {
  const { repo, env, root } = checkout;
  let config: Config;
  try {
    config = await readConfig(configFile(repo, env, environment));
  } catch (err) {
    if (isVsyncError(err, 'CONFIG_NOT_FOUND')) return; // a vault this machine has left
    throw err;
  }
  const vaultFolder = vaultFolderOf(config, env);
  // The same checks as any operation: a vault folder path through a symbolic link is not followed.
  await assertVaultPathSafe(root, vaultFolder);
  const folder = join(root, ...vaultFolder.split('/'));
  const result = await recoverSwap(folder);
  if (result.restored) log.warn(`startup repair: ${folder} was left as ${result.restored} by a pull cut short; put back`);
  for (const path of result.cleared) log.info(`startup repair: removed leftover ${path}`);
  for (const { path, error } of result.stuck) log.warn(`startup repair: could not remove leftover ${path}: ${describe(error)}`);
}

/** Entries of a folder; none when it does not exist. */
async function names(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
    throw err;
  }
}

function describe(err: unknown): string {
  const e = toVsyncError(err, () => undefined);
  return e.code === 'INTERNAL' ? `INTERNAL: ${(err as Error)?.message ?? String(err)}` : `${e.code}: ${e.message}`;
}
