// Where a vault's objects live in a store (docs/FORMAT.md §9). Names must be validated before they get here.
import { parseTimestamp } from '../crypto/timestamp.js';

export const pointerKey = (repo: string, env: string): string => `${repo}/${env}/latest`;
export const versionsPrefix = (repo: string, env: string): string => `${repo}/${env}/versions/`;
export const versionKey = (repo: string, env: string, ts: string): string => `${versionsPrefix(repo, env)}${ts}.enc`;
/** A version's log entry (version-meta.ts): who pushed it, from where, and what it holds, encrypted. */
export const logPrefix = (repo: string, env: string): string => `${repo}/${env}/log/`;
export const logKey = (repo: string, env: string, ts: string): string => `${logPrefix(repo, env)}${ts}.enc`;
/** The vault's key history (key-history.ts): which key check each run of versions is under. */
export const keysKey = (repo: string, env: string): string => `${repo}/${env}/keys`;

/** The timestamp a listed key names (`<prefix><ts>.enc`), or undefined for anything else found under the prefix. */
export function versionOfKey(key: string, prefix: string): string | undefined {
  if (!key.startsWith(prefix) || !key.endsWith('.enc')) return undefined;
  const ts = key.slice(prefix.length, -'.enc'.length);
  try {
    parseTimestamp(ts);
    return ts;
  } catch {
    return undefined;
  }
}
