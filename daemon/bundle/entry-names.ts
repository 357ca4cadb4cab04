// What a safe entry name looks like. The same rules judge the names zipFolder writes and the names
// unzipToStaging accepts, so a folder we can push is always a bundle we can pull.
//
// Entry names are relative to the repo root with forward slashes (`infra/vault/dev/.env.dev`). A name that
// could mean something else on some file system or to some extractor is refused rather than repaired:
// repairing (stripping `../`, turning `\` into `/`) is how zip-slip bugs are born.

import { posix } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { MAX_NAME_BYTES } from './limits.js';

// What Linux file systems hold: NAME_MAX bytes per name (one segment), and PATH_MAX bytes per path given to
// a system call, its terminating NUL included. (macOS counts 255 UTF-16 units, never fewer than 255 bytes' worth.)
export const NAME_MAX_BYTES = 255;
export const PATH_MAX_BYTES = 4096 - 1;

/**
 * Why `name` (relative, `/`-separated) cannot be created under `root` on this machine, if it cannot: a
 * segment longer than NAME_MAX_BYTES, or `root/name` longer than PATH_MAX_BYTES. Judged before anything is
 * written, so the file system's own ENAMETOOLONG never stops an extraction half way.
 */
export function lengthProblem(name: string, root?: string): string | undefined {
  for (const segment of name.split('/')) {
    const bytes = Buffer.byteLength(segment, 'utf8');
    if (bytes > NAME_MAX_BYTES) return `a part of it is ${bytes} bytes (a file system holds at most ${NAME_MAX_BYTES})`;
  }
  if (root === undefined) return undefined;
  const bytes = Buffer.byteLength(root, 'utf8') + 1 + Buffer.byteLength(name, 'utf8');
  if (bytes > PATH_MAX_BYTES) return `it would be a path of ${bytes} bytes under ${root} (at most ${PATH_MAX_BYTES})`;
  return undefined;
}

/** Why `name` (an entry name without a folder's trailing slash) is not a safe relative path, if it is not. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  const long = lengthProblem(name);
  if (long !== undefined) return long;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // NUL ends the name early for C APIs; other control characters let a name forge lines in logs and output.
    if (c < 0x20 || c === 0x7f) return 'the name holds a NUL byte or another control character';
  }
  // U+FFFD is what undecodable bytes turn into; a name we cannot decode exactly we cannot write back exactly.
  if (name.includes('\ufffd') || Buffer.from(name, 'utf8').toString('utf8') !== name) {
    return 'the name is not valid UTF-8';
  }
  // Windows extractors treat a backslash as a separator, which would smuggle `..\` past the segment checks.
  if (name.includes('\\')) return 'the name holds a backslash';
  if (name.startsWith('/')) return 'the name is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'the name starts with a drive letter';
  for (const segment of name.split('/')) {
    if (segment === '') return 'the name has an empty segment (a doubled, leading or trailing slash)';
    if (segment === '.' || segment === '..') return 'the name has a "." or ".." segment';
  }
  return undefined;
}

/** A name as it may appear in an error: quoted and escaped, so odd characters are visible and harmless. */
export function showName(name: string): string {
  return JSON.stringify(name);
}

/**
 * The vault folder as entry names spell it: relative to the repo root, forward slashes, no trailing slash
 * (`./infra/vault/dev/` → `infra/vault/dev`). Refuses absolute paths, paths that leave the repo, and the repo
 * root itself (a pull swaps the whole vault folder, and that must never be the whole repo).
 */
export function vaultFolderPrefix(vaultFolder: string): string {
  const invalid = (why: string) =>
    new VsyncError('BUNDLE_SOURCE_INVALID', `vault folder ${showName(vaultFolder)}: ${why}`, {
      hint: 'files.vaultFolder is a folder inside the repo, relative to its root, like infra/vault/dev',
    });
  if (vaultFolder.startsWith('/') || /^[A-Za-z]:/.test(vaultFolder)) {
    throw invalid('must be relative to the repo root');
  }
  const prefix = posix.normalize(vaultFolder).replace(/\/+$/, '');
  if (prefix === '.' || prefix === '') throw invalid('must not be the repo root itself');
  const problem = nameProblem(prefix);
  if (problem !== undefined) throw invalid(problem);
  return prefix;
}

/**
 * The key under which two names clash on a case-insensitive or normalising file system (macOS, Windows):
 * `.ENV` and `.env`, or an é composed and decomposed. Such pairs are refused on both sides, because on those
 * machines one file would silently replace the other.
 */
export function collisionKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}
