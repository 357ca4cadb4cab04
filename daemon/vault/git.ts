// Asking git about a working folder. A "no" from git (exit 1, or 128 "not a git repository") is an answer
// and resolves undefined; git missing or refusing the folder is REPO_UNKNOWN, never a silent guess.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { VsyncError } from '../../shared/errors.js';
import { isErrno } from '../fs/errno.js';

const run = promisify(execFile);

export async function git(cwd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', args, { cwd, timeout: 10_000 });
    return stdout.trim();
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string };
    if (e.code === 1 || (e.code === 128 && /not a git repository/i.test(e.stderr ?? ''))) return undefined;
    // spawn says ENOENT both for a missing git and for a missing working folder; tell them apart.
    const why = isErrno(err, 'ENOENT')
      ? existsSync(cwd)
        ? 'git is not installed'
        : 'the folder does not exist'
      : (e.stderr ?? String(err)).trim().split('\n')[0];
    throw new VsyncError('REPO_UNKNOWN', `git ${args.join(' ')} in ${cwd}: ${why}`, { cause: err });
  }
}

/**
 * Whether git ignores `path` (relative to `cwd`) by any of its rules; false outside a checkout or without git.
 * --no-index: a tracked file still counts as matched, so what matters is what the rules say.
 */
export async function ignoredByGit(cwd: string, path: string): Promise<boolean> {
  return (await git(cwd, ['check-ignore', '-q', '--no-index', '--', path]).catch(() => undefined)) !== undefined;
}
