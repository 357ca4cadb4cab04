// Is a secret one `git add .` (or one commit) away from the repo's history? The vault folder and `.env` must
// be ignored by git and never tracked. Asked of git itself, in one child process, so every way of ignoring
// counts (a nested .gitignore, .git/info/exclude, core.excludesFile, a broader pattern like `.env*`).
// Each warning carries the exact command that fixes it.
import { configFile } from '../../shared/paths.js';
import { silent, type Progress } from '../../shared/progress.js';
import { readConfig, vaultFolderOf } from './config.js';
import { git, ignoredByGit } from './git.js';
import type { VaultDeps, VaultRef } from './vault.js';

export interface Exposure {
  /** False outside a checkout (or without git): nothing can be committed, and there are no warnings. */
  readonly inGit: boolean;
  readonly warnings: string[];
}

/**
 * The warnings for `vaultFolder` (relative to `root`, the git top level) and `root/.env`. Files git would
 * take are what is listed; `patterns` (doctor) also asks of a folder with no file yet, or no `.env`,
 * whether git would ignore one there.
 */
export async function gitExposure(root: string, vaultFolder: string, options: { patterns?: boolean } = {}): Promise<Exposure> {
  // -t tags each path: H tracked (cached), ? untracked and not ignored. Ignored files are not listed.
  const listed = await git(root, ['ls-files', '-z', '-t', '--cached', '--others', '--exclude-standard', '--', '.env', vaultFolder]).catch(
    () => undefined,
  );
  // Not a checkout, or no git: nothing can be committed by git here.
  if (listed === undefined) return { inGit: false, warnings: [] };
  const tracked = new Set<string>();
  const loose = new Set<string>();
  for (const entry of listed.split('\0')) {
    if (entry.length < 3) continue;
    const path = entry.slice(2);
    const what = path === '.env' ? '.env' : vaultFolder;
    if (entry.startsWith('H ')) tracked.add(what);
    else if (entry.startsWith('? ')) loose.add(what);
  }
  if (options.patterns) {
    for (const what of [vaultFolder, '.env']) {
      if (tracked.has(what) || loose.has(what)) continue;
      if (!(await ignoredByGit(root, what === '.env' ? '.env' : `${what}/`))) loose.add(what);
    }
  }
  const warnings: string[] = [];
  for (const what of [vaultFolder, '.env']) {
    const shown = what === '.env' ? '.env' : `${what}/`;
    if (tracked.has(what)) {
      warnings.push(
        `${shown} is tracked by git, so its secrets are in the history: \`git rm -r --cached --force -- ${what}\` (the files stay), commit, and change the secrets it held`,
      );
    } else if (loose.has(what)) {
      warnings.push(`${shown} is not ignored by git, so \`git add .\` would commit it: \`echo '/${shown}' >> .gitignore\``);
    }
  }
  return { inGit: true, warnings };
}

/**
 * `op` (a push or a pull someone watches), then git's warnings as progress warnings. Git is asked while `op`
 * runs, in its own process, so the operation waits for it only when git is the slower of the two. Nobody
 * reads a silent operation's warnings (a push on save, a JSON answer): git is not asked.
 */
export async function warnedOfGit<T>(deps: VaultDeps, ref: VaultRef, progress: Progress, op: () => Promise<T>): Promise<T> {
  if (progress === silent) return op();
  const warnings = readConfig(configFile(ref.repo, ref.env, deps.environment)).then(
    async (config) => (await gitExposure(ref.root, vaultFolderOf(config, ref.env))).warnings,
    () => [],
  );
  const result = await op();
  for (const text of await warnings) progress({ kind: 'warning', text });
  return result;
}
