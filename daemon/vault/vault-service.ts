// What the agent's routes call: finds the repo from the caller's working folder, runs one operation at a
// time per vault (a push and a pull of the same vault must not interleave; different vaults run in
// parallel), and remembers the last operation on each vault for `vsync status`.
import type { OperationRecord } from '../../shared/api.js';
import { isVsyncError } from '../../shared/errors.js';
import { assertEnvName } from '../../shared/names.js';
import type { Progress } from '../../shared/progress.js';
import { init, type InitOptions, type InitResult } from './init.js';
import { pull, type PullOptions, type PullResult } from './pull.js';
import { push, type PushOptions, type PushResult } from './push.js';
import { RepoIdentityCache } from './repo-identity-cache.js';
import { showUse, use, type UseResult } from './use.js';
import type { VaultDeps, VaultRef } from './vault.js';
import { versions, type VersionsResult } from './versions.js';

export class VaultService {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly records = new Map<string, { repo: string; env: string; last: OperationRecord }>();
  private readonly identities = new RepoIdentityCache();

  constructor(readonly deps: VaultDeps) {}

  /** The vault `env` of the repo that holds `cwd`. */
  async locate(cwd: string, env: string): Promise<VaultRef> {
    assertEnvName(env);
    const identity = await this.identities.resolve(cwd);
    return { repo: identity.repo, env, root: identity.root };
  }

  init(cwd: string, env: string, options: InitOptions): Promise<InitResult> {
    return this.run('init', cwd, env, (ref) => init(this.deps, ref, options));
  }

  push(cwd: string, env: string, options: PushOptions, progress: Progress): Promise<PushResult> {
    return this.run('push', cwd, env, (ref) => push(this.deps, ref, options, progress));
  }

  pull(cwd: string, env: string, options: PullOptions, progress: Progress): Promise<PullResult> {
    return this.run('pull', cwd, env, (ref) => pull(this.deps, ref, options, progress));
  }

  async versions(cwd: string, env: string): Promise<VersionsResult> {
    return versions(this.deps, await this.locate(cwd, env));
  }

  async use(cwd: string, env: string | undefined): Promise<UseResult> {
    if (env === undefined) return showUse((await this.identities.resolve(cwd)).root);
    return this.run('use', cwd, env, (ref) => use(this.deps.environment, ref.repo, ref.env, ref.root));
  }

  /** Vaults this agent has worked on, with the last operation on each, in name order. */
  vaults(): Array<{ repo: string; env: string; last: OperationRecord }> {
    return [...this.records.values()].sort((a, b) => `${a.repo}/${a.env}`.localeCompare(`${b.repo}/${b.env}`));
  }

  private async run<T>(operation: string, cwd: string, env: string, op: (ref: VaultRef) => Promise<T>): Promise<T> {
    const ref = await this.locate(cwd, env);
    const account = `${ref.repo}/${ref.env}`;
    const previous = this.queues.get(account) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => op(ref));
    this.queues.set(account, current);
    const at = this.deps.now().toISOString();
    try {
      const result = await current;
      const version = (result as { version?: unknown }).version;
      this.records.set(account, { repo: ref.repo, env: ref.env, last: { operation, at, ok: true, ...(typeof version === 'string' ? { version } : {}) } });
      return result;
    } catch (err) {
      this.records.set(account, { repo: ref.repo, env: ref.env, last: { operation, at, ok: false, code: isVsyncError(err) ? err.code : 'INTERNAL' } });
      throw err;
    } finally {
      if (this.queues.get(account) === current) this.queues.delete(account);
    }
  }
}
