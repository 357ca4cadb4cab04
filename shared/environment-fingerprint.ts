// The agent keeps the environment it started with. A command run after `export AWS_PROFILE=…` or
// `export VSYNC_KEY=…`, or with another HOME, would silently be served with the old one. So the client
// sends a fingerprint of the few variables the agent reads and keeps, with each request; the agent compares
// it with its own and refuses (AGENT_ENVIRONMENT_CHANGED, naming what differs) instead of guessing.
//
// Values never cross the socket: each is hashed (FNV-1a, 32 bits: this tells a changed value from an
// unchanged one between two processes of the same user, it protects nothing). The folders are compared as
// vsync resolves them, so HOME=/home/me with or without XDG_CONFIG_HOME=/home/me/.config is the same.
import { configRoot, defaultStoreRoot, type Env, stateRoot } from './paths.js';

/** The request header that carries the fingerprint; a request without it (an editor, a script) is not checked. */
export const ENVIRONMENT_HEADER = 'x-vsync-environment';

/** The folders vsync resolves from HOME and XDG_*, each an entry of its own. */
const FOLDERS: readonly (readonly [string, (env: Env) => string])[] = [
  ['config folder (HOME, XDG_CONFIG_HOME)', configRoot],
  ['state folder (HOME, XDG_STATE_HOME)', stateRoot],
  ['store folder (HOME, XDG_DATA_HOME)', defaultStoreRoot],
];

/** Credentials and their settings: the S3 client and the keychain read these once, when the agent starts. */
export function isCredentialName(name: string): boolean {
  return name === 'VSYNC_KEY' || name.startsWith('AWS_');
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** `name=hash` entries, sorted, joined by `,`: the folders always, credentials only where set. */
export function environmentFingerprint(env: Env): string {
  const entries = FOLDERS.map(([, resolve], i) => `${i}=${fnv1a(resolve(env))}`);
  for (const name of Object.keys(env).filter(isCredentialName).sort()) {
    const value = env[name];
    if (value !== undefined && value !== '') entries.push(`${name}=${fnv1a(value)}`);
  }
  return entries.join(',');
}

function entriesOf(fingerprint: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const entry of fingerprint.split(',')) {
    const at = entry.indexOf('=');
    if (at > 0) entries.set(entry.slice(0, at), entry.slice(at + 1));
  }
  return entries;
}

/**
 * What differs between the agent's fingerprint and a client's, by name (`AWS_PROFILE`, `VSYNC_KEY`, `config
 * folder (HOME, XDG_CONFIG_HOME)`). A credential counts only where the client sets it: an agent may hold
 * credentials the shell does not (VSYNC_KEY given to the agent alone), and uses them; what is refused is a
 * value the command brings that the agent would ignore. `credentials: false` leaves credentials out: an
 * agent a service manager started has the manager's environment, never a shell's, and a restart would not
 * change that.
 */
export function environmentDifferences(agent: string, client: string, options: { credentials: boolean }): string[] {
  const mine = entriesOf(agent);
  const theirs = entriesOf(client);
  const names = new Set([...mine.keys(), ...theirs.keys()]);
  const differing: string[] = [];
  for (const name of [...names].sort()) {
    const folder = /^\d+$/.test(name) ? FOLDERS[Number(name)]?.[0] : undefined;
    if (folder === undefined && !isCredentialName(name)) continue; // not ours to judge: a newer client's entry
    if (folder === undefined && (!options.credentials || !theirs.has(name))) continue;
    if (mine.get(name) !== theirs.get(name))
      differing.push(folder ?? `${name} (${mine.has(name) ? 'another value' : 'set here, not in the agent'})`);
  }
  return differing;
}
