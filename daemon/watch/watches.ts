// Every vault this agent watches: turning watching on and off (POST /v1/watch, /v1/unwatch), the list
// (GET /v1/watch, `vsync status`), and the file that brings them back when the agent restarts.
import { existsSync } from 'node:fs';
import type { UnwatchResult, WatchEntry } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import type { EventHub } from '../vault/event-hub.js';
import type { KeyRing } from '../vault/key-ring.js';
import { openVault } from '../vault/vault.js';
import type { VaultService } from '../vault/vault-service.js';
import { VaultWatch, type WatchSettings } from './vault-watch.js';
import { readWatchList, writeWatchList, type WatchSpec } from './watch-list.js';

export interface WatchesDeps {
  readonly service: VaultService;
  readonly events: EventHub;
  readonly keys: Pick<KeyRing, 'onUnlock'>;
  readonly settings: WatchSettings;
  /** watch-list.ts's file. */
  readonly listFile: string;
  readonly log: (message: string) => void;
}

const idOf = (root: string, env: string) => `${root}\0${env}`;

export class Watches {
  private readonly running = new Map<string, VaultWatch>();
  // Listed in the file but not startable now (repo or config gone): kept there for the next start.
  private readonly dormant = new Map<string, WatchSpec>();
  // watch and unwatch one at a time: two `vsync watch` at once must not start two watchers.
  private turn: Promise<unknown> = Promise.resolve();
  private closing = false;

  constructor(private readonly deps: WatchesDeps) {}

  /**
   * Starts every watch in the list file. One that cannot start (its repo or config gone) is logged and
   * stays in the file, to start again once it can; the others start regardless.
   */
  restore(): Promise<void> {
    return this.inTurn(async () => {
      for (const spec of await readWatchList(this.deps.listFile)) {
        // A checkout that is gone cannot be watched, nor unwatched from inside it: it leaves the list.
        if (!existsSync(spec.root)) {
          this.deps.log(`no longer watching ${spec.env} in ${spec.root}: the folder is gone`);
          continue;
        }
        await this.startWatch(spec).catch((err: unknown) => {
          this.dormant.set(idOf(spec.root, spec.env), spec);
          this.deps.log(`not watching ${spec.env} in ${spec.root} for now: ${(err as Error).message}`);
        });
      }
    });
  }

  /** Watches the vault `env` of the checkout holding `cwd` (CONFIG_NOT_FOUND when it was never set up). */
  watch(cwd: string, env: string, follow: boolean): Promise<WatchEntry> {
    return this.inTurn(async () => {
      const ref = await this.deps.service.locate(cwd, env);
      const id = idOf(ref.root, env);
      const existing = this.running.get(id);
      if (existing) existing.setFollow(follow);
      else await this.startWatch({ root: ref.root, env, follow });
      this.dormant.delete(id);
      await this.save();
      if (!existing) this.deps.events.emit({ type: 'watch-started', ...ref, follow });
      return this.running.get(id)!.entry();
    });
  }

  unwatch(cwd: string, env: string): Promise<UnwatchResult> {
    return this.inTurn(async () => {
      const ref = await this.deps.service.locate(cwd, env);
      const id = idOf(ref.root, env);
      const watch = this.running.get(id);
      const wasDormant = this.dormant.delete(id);
      this.running.delete(id);
      if (watch || wasDormant) await this.save();
      if (watch) {
        await watch.stop();
        this.deps.events.emit({ type: 'watch-stopped', ...ref });
      }
      return { ...ref, stopped: watch !== undefined || wasDormant };
    });
  }

  list(): WatchEntry[] {
    return [...this.running.values()]
      .map((w) => w.entry())
      .sort((a, b) => `${a.repo}/${a.env}\0${a.root}`.localeCompare(`${b.repo}/${b.env}\0${b.root}`));
  }

  /**
   * Stops every watcher (the list file keeps them for the next start), after any watch or unwatch under
   * way; later ones are refused, so no watcher can start after this.
   */
  close(): Promise<void> {
    this.closing = true;
    return this.take(async () => {
      const all = [...this.running.values()];
      this.running.clear();
      await Promise.all(all.map((w) => w.stop()));
    });
  }

  private async startWatch(spec: WatchSpec): Promise<void> {
    const { service } = this.deps;
    const ref = await service.locate(spec.root, spec.env);
    // Two entries naming one checkout (`/a/repo` and `/a/repo/`) are one watch, not two.
    if (this.running.has(idOf(ref.root, ref.env))) return;
    const vault = await openVault(service.deps, ref); // CONFIG_NOT_FOUND for an env never initialised
    const watch = new VaultWatch({ ...ref, vaultFolder: vault.vaultFolder }, spec.follow, this.deps);
    await watch.start();
    this.running.set(idOf(ref.root, ref.env), watch);
  }

  /** Writes the list file as it is now (callers hold the turn, so writes never overlap). */
  private save(): Promise<void> {
    const running = [...this.running.values()].map((w) => ({ root: w.vault.root, env: w.vault.env, follow: w.entry().follow }));
    return writeWatchList(this.deps.listFile, [...running, ...this.dormant.values()]);
  }

  /** watch, unwatch and restore, one at a time, and none once close() has been asked for. */
  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    const guarded = async (): Promise<T> => {
      if (this.closing) throw new VsyncError('AGENT_SHUTTING_DOWN', 'no watching starts or stops now');
      return work();
    };
    return this.take(guarded);
  }

  private take<T>(work: () => Promise<T>): Promise<T> {
    const next = this.turn.then(work, work);
    this.turn = next.catch(() => undefined);
    return next;
  }
}
