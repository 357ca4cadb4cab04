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
 * `<state>/.outgoing`: versions being pushed, sealed and encrypted, until their upload ends (a dot name, so
 * no repo's state folder can be it). Never beside the vault folder: a push writes nothing in the checkout.
 */
export function outgoingFolder(env: Env = process.env): string {
  return join(stateRoot(env), '.outgoing');
}

/** Encrypted pre-pull backups of one repo (docs/FORMAT.md §10). */
export function backupFolder(repo: string, env: Env = process.env): string {
  return join(configRoot(env), 'backups', repo);
}
