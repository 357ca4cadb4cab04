// One watched vault: pushes on save, and with `follow` pulls what teammates push. A state machine around
// the vault service, driven by the folder watcher, its own timers and the event hub:
//
//   a change → wait until the folder has been quiet for `debounceMs` → push (if the folder differs from what
//   this checkout last synced) → idle. Changes during a push → exactly one more push after it.
//   conflict (the remote moved) → no pushes until the user pulls or forces: a manual push or pull of this
//   vault ends it. waiting (keys locked, folder gone) → goes on when a command unlocks the key or the
//   folder comes back. failed → a passing failure (the store unreachable) retries with backoff; any other
//   waits for the next change.
//
// Idle, it costs nothing but the watcher's inotify watches and, with `follow`, one timer per period.
import type { WatchEntry, WatchState } from '../../shared/api.js';
import type { VsyncError, ErrorCode } from '../../shared/errors.js';
import type { AgentEvent } from '../../shared/events.js';
import type { EventHub } from '../vault/event-hub.js';
import type { KeyRing } from '../vault/key-ring.js';
import type { FollowOutcome, VaultService } from '../vault/vault-service.js';
import { FolderWatcher } from './folder-watcher.js';
import { toVsyncError } from '../../shared/error-conversion.js';

export interface WatchSettings {
  readonly debounceMs: number;
  readonly followEveryMs: number;
  /** The first retry of a push that failed for a passing reason waits this long; each next one twice that. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

export const DEFAULT_WATCH_SETTINGS: WatchSettings = { debounceMs: 500, followEveryMs: 30_000, retryBaseMs: 2_000, retryMaxMs: 300_000 };

export interface VaultWatchDeps {
  readonly service: VaultService;
  readonly events: EventHub;
  readonly keys: Pick<KeyRing, 'onUnlock'>;
  readonly settings: WatchSettings;
  /** Where a failure nobody asked about goes (the agent's log). */
  readonly log: (message: string) => void;
}

export interface WatchedVault {
  readonly repo: string;
  readonly env: string;
  readonly root: string;
  readonly vaultFolder: string;
}

// Failures that pass by themselves: worth trying again without anyone touching anything.
const PASSING: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['STORAGE_TRANSIENT', 'KEYCHAIN_UNAVAILABLE']);

export class VaultWatch {
  private state: WatchState = 'idle';
  private failure: { code: string; message: string } | undefined;
  private lastVersion: string | undefined;
  private folder: FolderWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private followTimer: NodeJS.Timeout | undefined;
  private retries = 0;
  /** The `failed` state came from --follow (not a push), so the next good read of the pointer ends it. */
  private followFailed = false;
  private pushing: Promise<void> | undefined;
  private following: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** The remote version whose divergence was last reported, so each is reported once. */
  private reportedDivergence: string | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    readonly vault: WatchedVault,
    private follow: boolean,
    private readonly deps: VaultWatchDeps,
  ) {}

  async start(): Promise<void> {
    const { vault, deps } = this;
    this.folder = await FolderWatcher.start({
      root: vault.root,
      vaultFolder: vault.vaultFolder,
      onChange: () => this.changed(),
      onError: (error) => deps.log(`watching ${vault.repo}/${vault.env} in ${vault.root}: ${error.message}`),
    });
    this.unsubscribe.push(
      deps.events.subscribe((event) => this.heard(event)),
      deps.keys.onUnlock((account) => {
        if (account === `${vault.repo}/${vault.env}` && this.failure?.code === 'KEY_LOCKED') this.changed();
      }),
    );
    if (this.follow) this.scheduleFollow();
    // Edits made while nobody watched (the agent was down) are pushed now.
    this.changed();
  }

  /** Turns --follow on or off for a watch already running. */
  setFollow(follow: boolean): void {
    if (follow === this.follow) return;
    this.follow = follow;
    clearTimeout(this.followTimer);
    this.followTimer = undefined;
    if (follow) this.scheduleFollow();
  }

  /** Stops watching; waits for a push already running (it is never cut short). */
  async stop(): Promise<void> {
    this.closed = true;
    for (const timer of [this.debounce, this.retry, this.followTimer]) clearTimeout(timer);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.folder?.close();
    await Promise.all([this.pushing, this.following]);
  }

  entry(): WatchEntry {
    const { settings } = this.deps;
    return {
      ...this.vault,
      follow: this.follow,
      state: this.state,
      ...(this.failure ?? {}),
      ...(this.lastVersion ? { lastVersion: this.lastVersion } : {}),
      debounceMs: settings.debounceMs,
      followEverySeconds: settings.followEveryMs / 1000,
    };
  }

  /** Something moved in the folder: (re)start the quiet period. */
  private changed(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.settled(), this.deps.settings.debounceMs);
  }

  private settled(): void {
    this.debounce = undefined;
    if (this.closed || this.state === 'conflict') return; // a conflict waits for the user
    if (this.pushing) {
      this.again = true; // at most one more, carrying everything that changed meanwhile
      return;
    }
    this.pushing = this.pushLoop().finally(() => (this.pushing = undefined));
  }

  private async pushLoop(): Promise<void> {
    do {
      this.again = false;
      clearTimeout(this.retry);
      this.retry = undefined;
      try {
        const pushed = await this.deps.service.autoPush(this.vault.root, this.vault.env, (error) => this.retryDelay(error));
        this.retries = 0;
        if (pushed) this.lastVersion = pushed.version;
        this.settle('idle');
      } catch (err) {
        this.pushFailed(err);
      }
    } while (this.again && !this.closed && this.state !== 'conflict' && this.state !== 'waiting');
  }

  /** The delay before retrying after `error`, if it is worth retrying; the service puts it in the event. */
  private retryDelay(error: VsyncError): number | undefined {
    if (this.closed || !PASSING.has(error.code)) return undefined;
    const { retryBaseMs, retryMaxMs } = this.deps.settings;
    return Math.min(retryMaxMs, retryBaseMs * 2 ** this.retries);
  }

  private pushFailed(err: unknown): void {
    const error = toVsyncError(err, (bug) => this.deps.log(`${this.vault.repo}/${this.vault.env}: unexpected: ${String(bug)}`));
    const { events } = this.deps;
    const ref = { repo: this.vault.repo, env: this.vault.env, root: this.vault.root };
    // Said once: more saves while still locked or still without a folder repeat nothing.
    const repeated = this.failure?.code === error.code;
    if (error.code === 'VAULT_CONFLICT') {
      // --follow may have met the same remote version first, while this push was already on its way: said once.
      const told = this.reportedDivergence !== undefined;
      this.settle('conflict', error);
      if (!told) events.emit({ type: 'conflict', ...ref, code: error.code, message: error.message });
    } else if (error.code === 'KEY_LOCKED' || error.code === 'VAULT_FOLDER_MISSING') {
      this.settle('waiting', error);
      if (!repeated) events.emit({ type: 'waiting', ...ref, code: error.code, message: error.message });
    } else {
      // The service announced it (push-failed, with the same retry delay); the log keeps it too.
      this.settle('failed', error);
      this.followFailed = false; // this failure is the push's: only a push ends it
      this.deps.log(`push on save of ${ref.repo}/${ref.env} in ${ref.root} failed: ${error.code}: ${error.message}`);
      const delay = this.retryDelay(error);
      if (delay !== undefined && !this.closed) {
        this.retries++;
        this.retry = setTimeout(() => this.settled(), delay);
      }
    }
  }

  private scheduleFollow(): void {
    clearTimeout(this.followTimer);
    if (this.closed || !this.follow) return;
    this.followTimer = setTimeout(() => {
      this.following = this.followOnce().finally(() => {
        this.following = undefined;
        this.scheduleFollow();
      });
    }, this.deps.settings.followEveryMs);
  }

  private async followOnce(): Promise<void> {
    const { service, events } = this.deps;
    const ref = { repo: this.vault.repo, env: this.vault.env, root: this.vault.root };
    let outcome: FollowOutcome | undefined;
    try {
      outcome = await service.follow(ref.root, ref.env, (version) => events.emit({ type: 'remote-moved', ...ref, version }));
    } catch (err) {
      const error = toVsyncError(err, (bug) => this.deps.log(`${this.vault.repo}/${this.vault.env}: unexpected: ${String(bug)}`));
      if (error.code === 'KEY_LOCKED') {
        if (this.failure?.code !== 'KEY_LOCKED') events.emit({ type: 'waiting', ...ref, code: error.code, message: error.message });
        this.settle('waiting', error);
      } else {
        // A failed pull announced itself (pull-failed); a failed pointer read is tried again next period.
        this.settle('failed', error);
        this.followFailed = true;
        this.deps.log(`following ${ref.repo}/${ref.env} in ${ref.root}: ${error.code}: ${error.message}`);
      }
      return;
    }
    if (this.followFailed && this.state === 'failed') this.settle('idle');
    this.followFailed = false;
    if (outcome?.kind === 'pulled') {
      this.lastVersion = outcome.version;
      this.reportedDivergence = undefined;
      this.settle('idle');
    } else if (outcome?.kind === 'diverged' && outcome.version !== this.reportedDivergence) {
      this.reportedDivergence = outcome.version;
      if (this.state === 'conflict') return; // a push on save met it first and said so
      const message = `latest is ${outcome.version}, and ${this.vault.vaultFolder}/ holds edits never pushed${outcome.differs}`;
      this.settle('conflict', { code: 'VAULT_UNPUSHED_CHANGES', message });
      events.emit({ type: 'remote-moved', ...ref, version: outcome.version });
      events.emit({ type: 'conflict', ...ref, code: 'VAULT_UNPUSHED_CHANGES', message, remote: outcome.version });
    }
  }

  /**
   * Its own pushes and pulls show as `pushing`; a push or pull of this vault by hand ends a conflict or a
   * failure: look at the folder again.
   */
  private heard(event: AgentEvent): void {
    if (!('root' in event) || event.root !== this.vault.root || event.env !== this.vault.env) return;
    if ((event.type === 'push-started' || event.type === 'pull-started') && event.trigger !== 'manual') {
      this.settle('pushing');
      return;
    }
    // Settled as the event goes out, so that whoever sees it and asks `vsync status` sees the same.
    if ((event.type === 'push-finished' || event.type === 'pull-finished') && event.trigger !== 'manual') {
      this.lastVersion = event.version;
      this.reportedDivergence = undefined; // in step with the remote again: a later divergence is news
      this.settle('idle');
      return;
    }
    if ((event.type !== 'push-finished' && event.type !== 'pull-finished') || event.trigger !== 'manual') return;
    this.reportedDivergence = undefined;
    if (this.state !== 'idle' && this.state !== 'pushing') {
      this.settle('idle');
      this.changed();
    }
  }

  private settle(state: WatchState, failure?: { code: string; message: string }): void {
    this.state = state;
    this.failure = failure ? { code: failure.code, message: failure.message } : undefined;
  }
}
