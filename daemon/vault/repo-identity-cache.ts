// Resolving a repo's identity asks git twice (two child processes, ~10 ms each), on every call. The agent
// remembers the answer per working folder and trusts it while the files it came from are unchanged: the
// repo's `.vsync`, its `.git` entry and `.git/config` (where `origin` lives). Checking is three stats.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveRepoIdentity, type RepoIdentity } from './repo-identity.js';

const MAX_ENTRIES = 256;

async function stampOf(root: string): Promise<string> {
  const parts = await Promise.all(
    ['.vsync', '.git', join('.git', 'config')].map((name) =>
      stat(join(root, name)).then(
        (s) => `${s.ino}:${s.mtimeMs}:${s.size}`,
        () => '-',
      ),
    ),
  );
  return parts.join('|');
}

export class RepoIdentityCache {
  private readonly byCwd = new Map<string, { identity: RepoIdentity; stamp: string }>();

  async resolve(cwd: string): Promise<RepoIdentity> {
    const cached = this.byCwd.get(cwd);
    if (cached && (await stampOf(cached.identity.root)) === cached.stamp) return cached.identity;
    const identity = await resolveRepoIdentity(cwd);
    // Stamped after resolving: a change during resolution is at worst seen on the next call.
    const stamp = await stampOf(identity.root);
    if (this.byCwd.size >= MAX_ENTRIES) this.byCwd.delete(this.byCwd.keys().next().value!);
    this.byCwd.set(cwd, { identity, stamp });
    return identity;
  }
}
