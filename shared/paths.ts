// Where vsync keeps things on this machine, after the XDG base directory spec. Functions of an environment
// object (not process.env directly) so tests and the agent can point them elsewhere.
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

function home(env: Env): string {
  return env.HOME || homedir();
}

/** `${XDG_CONFIG_HOME:-~/.config}/vsync`: configs, backups, local state. */
export function configRoot(env: Env = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(home(env), '.config'), 'vsync');
}

/** `${XDG_DATA_HOME:-~/.local/share}/vsync/store`: the embedded directory store's default root. */
export function defaultStoreRoot(env: Env = process.env): string {
  return join(env.XDG_DATA_HOME || join(home(env), '.local', 'share'), 'vsync', 'store');
}

/** The config file of one vault (docs/FORMAT.md §7). Names must be validated first. */
export function configFile(repo: string, env: string, environment: Env = process.env): string {
  return join(configRoot(environment), repo, `env_${env}`);
}

/** `${XDG_STATE_HOME:-~/.local/state}/vsync`: what this machine remembers (last sync, newest version seen). */
export function stateRoot(env: Env = process.env): string {
  return join(env.XDG_STATE_HOME || join(home(env), '.local', 'state'), 'vsync');
}

/**
 * `<state>/.work`: private folders for versions on their way (a push's sealed file, a pull's decrypted zip),
 * one per operation (daemon/vault/work-folder.ts). A dot name, so no repo's state folder can be it; never
 * beside the vault folder, so a version being pushed or pulled is never in the checkout, where `git add -A`
 * could take it.
 */
export function workFolder(env: Env = process.env): string {
  return join(stateRoot(env), '.work');
}

/** Encrypted pre-pull backups of one repo (docs/FORMAT.md §10). */
export function backupFolder(repo: string, env: Env = process.env): string {
  return join(configRoot(env), 'backups', repo);
}
