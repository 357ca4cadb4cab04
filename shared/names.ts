// Env and repo names (docs/FORMAT.md §8). They become S3 keys, keychain accounts and local paths, so they
// are checked before any of those is built from them.
import { VsyncError } from './errors.js';

export const ENV_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
export const REPO_NAME = /^[a-z0-9_][a-z0-9._]{0,99}$/;
export const REPO_NAME_MAX = 100;

export function assertEnvName(name: string): void {
  if (!ENV_NAME.test(name)) {
    throw new VsyncError('NAME_INVALID', `env ${JSON.stringify(name.slice(0, 80))}`, {
      hint: 'an env name starts with a-z and holds only a-z, 0-9, "_" and "-" (at most 64 characters), like dev or production',
    });
  }
}

export function assertRepoName(name: string): void {
  if (!REPO_NAME.test(name)) {
    throw new VsyncError('NAME_INVALID', `repo ${JSON.stringify(name.slice(0, 120))}`, {
      hint: 'a repo name holds only a-z, 0-9, "." and "_", does not start with ".", at most 100 characters; set one with a .vsync file (repo=<name>) at the top of the repo',
    });
  }
}

/**
 * A repo name from a remote URL or a folder name (docs/FORMAT.md §8). Returns undefined when nothing
 * usable is left.
 */
export function normaliseRepoName(raw: string): string | undefined {
  let text = raw
    .trim()
    .toLowerCase()
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  if (/[:/]/.test(text)) {
    const scheme = /^[a-z][a-z0-9+.-]*:\/\//.exec(text);
    if (scheme) {
      text = text.slice(scheme[0].length); // user@host:port/owner/name
      text = text.slice(text.indexOf('/') + 1);
    } else if (/^[^/]*:/.test(text)) {
      text = text.slice(text.indexOf(':') + 1); // scp form: user@host:owner/name
    }
    // The last two path segments name the repo on every forge: owner/name.
    text = text.split('/').filter(Boolean).slice(-2).join('/');
  }
  const name = text
    .replace(/[/-]/g, '_')
    .replace(/[^a-z0-9._]/g, '')
    .replace(/^[.]+/, '')
    .slice(0, REPO_NAME_MAX);
  return REPO_NAME.test(name) ? name : undefined;
}
