// What the agent's routes and watchers call: finds the repo from the caller's working folder, runs one
// operation at a time per vault (a push and a pull of the same vault must not interleave; different vaults
// run in parallel), remembers the last operation on each vault for `vsync status`, and announces pushes and
// pulls on the event hub.
//
// Every queued operation has an AbortController: aborted when the caller's signal fires (the HTTP client
// went away: AGENT_OPERATION_CANCELLED) or when the agent abandons its operations at the shutdown deadline
// (abandonAll: AGENT_SHUTTING_DOWN). The operation's store is seen through that signal (signal-storage.ts),
// so the store call in flight ends at once and frees the vault's queue; the operation's local steps check
// it (operation-guard.ts), and a pull checks it with the agent lock just before it swaps.
import type {
  BackupsResult,
  DiffResult,
  EnvResult,
  KeyRotateResult,
  LogResult,
  OperationRecord,
  PullResult,
  PushResult,
  RestoreResult,
} from '../../shared/api.js';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import type { Trigger } from '../../shared/events.js';
import { assertEnvName, assertRepoName } from '../../shared/names.js';
import { silent, type Progress } from '../../shared/progress.js';
import type { Storage } from '../storage/storage.js';
import type { EventHub } from './event-hub.js';
import type { FolderRead } from '../bundle/zip-folder.js';
import { readFolderState } from './folder-state.js';
import { init, type InitOptions, type InitResult } from './init.js';
import { forget, type ForgetResult } from './forget.js';
import type { KeySource } from './key-ring.js';
import { exportKey, importShare, readShare, type KeyExportResult, type KeyImportResult } from './key-share.js';
import { readLocalState } from './local-state.js';
import { warnedOfGit } from './git-exposure.js';
import { pull, type PullOptions } from './pull.js';
import { push, pushFolder, type PushOptions } from './push.js';
import { span } from '../trace/span.js';
import { RepoIdentityCache } from './repo-identity-cache.js';
import { doctor, type DoctorReport } from './doctor/doctor.js';
import { WriteSafety } from './doctor/write-safety.js';
import { backups, restore, type RestoreOptions } from './restore.js';
import { showUse, use, type UseResult } from './use.js';
import { openVault, readPointer, readPointerIfChanged, type OpenVault, type VaultDeps, type VaultRef } from './vault.js';
import { versions, type VersionsResult } from './versions.js';
import { diff, type DiffOptions } from './diff/diff.js';
import { envValues, type EnvOptions } from './env-file.js';
import { log } from './log.js';
import { rotateKey, settleRotation } from './key-rotate.js';
import { stateFile } from './local-state.js';
import { folderAgainst } from './diff/difference.js';
import { toVsyncError } from '../../shared/error-conversion.js';
import { folderExists } from './vault-folder.js';
import { SignalStorage, withSignal } from '../storage/signal-storage.js';
import type { OperationGuard } from './operation-guard.js';

/** The agent's dependencies: the vault's, and whether this agent still holds its agent lock (main.ts). */
export interface ServiceDeps extends VaultDeps {
  readonly stillServing?: () => Promise<boolean>;
}

/** What one operation runs with: the dependencies as its signal sees them. */
type OperationDeps = VaultDeps & OperationGuard;

export interface ServiceOptions {
  /** Where pushes and pulls are announced (GET /v1/events). */
  readonly events?: EventHub;
  /** Keys for work the agent does on its own, which a `lock` stops (KeyRing.automatic()). */
  readonly automaticKeys?: KeySource;
}

/** How long an automatic push or pull that failed this way waits before it tries again, if it does. */
export type RetryDelay = (error: VsyncError) => number | undefined;

/** What --follow found: the teammate's version pulled, or the remote moved while the folder holds edits. */
export type FollowOutcome =
  | { readonly kind: 'pulled'; readonly version: string }
  | { readonly kind: 'diverged'; readonly version: string; readonly etag: string; readonly differs: string };

export class VaultService {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly records = new Map<string, { repo: string; env: string; last: OperationRecord }>();
  private readonly identities = new RepoIdentityCache();
  private readonly writeSafety = new WriteSafety();
  private readonly automatic: VaultDeps;
  private readonly inFlight = new Set<AbortController>();
  /** Set once the agent abandoned its operations: none starts after that. */
  private abandoned: VsyncError | undefined;

  constructor(
    readonly deps: ServiceDeps,
    private readonly options: ServiceOptions = {},
  ) {
    this.automatic = { ...deps, keys: options.automaticKeys ?? deps.keys };
  }

  /** The vault `env` of the repo that holds `cwd`. */
  async locate(cwd: string, env: string): Promise<VaultRef> {
    assertEnvName(env);
    const identity = await span('repo.identity', () => this.identities.resolve(cwd));
    return { repo: identity.repo, env, root: identity.root };
  }

  /** `signal`, here and below: the caller's (the HTTP client went away); the operation is cancelled when it fires. */
  async init(cwd: string, env: string, options: InitOptions & { repo?: string }, signal?: AbortSignal): Promise<InitResult> {
    const { repo, ...rest } = options;
    assertEnvName(env);
    const identity = await this.identities.resolve(cwd);
    let declareRepo = false;
    if (repo !== undefined) {
      assertRepoName(repo);
      if (identity.source === '.vsync' && identity.repo !== repo) {
        throw new VsyncError('USAGE', `--repo ${repo}, but ${identity.root}/.vsync names this repo ${identity.repo}`, {
          hint: `drop --repo to use ${identity.repo}, or edit .vsync (every teammate must use the same name)`,
        });
      }
      declareRepo = identity.source !== '.vsync';
    } else if (!identity.inGit && identity.source !== '.vsync') {
      // A folder's own name would differ on the next machine: outside git, the name must be given.
      throw new VsyncError('REPO_NOT_GIT', identity.root);
    }
    const ref: VaultRef = { repo: repo ?? identity.repo, env, root: identity.root };
    return this.queued('init', ref.repo, ref.env, (deps) => init(deps, ref, { ...rest, declareRepo }), { signal });
  }

  push(cwd: string, env: string, options: PushOptions, progress: Progress, signal?: AbortSignal): Promise<PushResult> {
    // Only a push whose progress someone reads warns of a store that ignores conditional writes (once per
    // store): one answered as plain JSON, like a push on save, would spend the warning on no one.
    const warned: PushOptions =
      // Judged once per store, not per operation: the probe goes to the store under the operation's view.
      progress === silent ? options : { ...options, storeWarning: (storage, ref) => this.writeSafety.warning(unwrapped(storage), ref) };
    return this.run(
      'push',
      cwd,
      env,
      (ref, deps) => this.announced('push', ref, 'manual', () => warnedOfGit(deps, ref, progress, () => push(deps, ref, warned, progress))),
      { signal },
    );
  }

  pull(cwd: string, env: string, options: PullOptions, progress: Progress, signal?: AbortSignal): Promise<PullResult> {
    return this.run(
      'pull',
      cwd,
      env,
      (ref, deps) =>
        this.announced('pull', ref, 'manual', () => warnedOfGit(deps, ref, progress, () => pull(deps, ref, options, progress))),
      { signal },
    );
  }

  async versions(cwd: string, env: string): Promise<VersionsResult> {
    return versions(this.deps, await this.settledRef(cwd, env));
  }

  /**
   * doctor: every check's outcome, failures included (only a bad env name is thrown). Not queued: it reads
   * the config, the keychain and the store, and writes only a scratch object of its own.
   */
  async doctor(cwd: string, env: string | undefined): Promise<DoctorReport> {
    if (env !== undefined) assertEnvName(env);
    return doctor(this.deps, env, (named) => this.locate(cwd, named));
  }

  /** Read-only, like versions: not queued (a diff during a pull reads the folder before or after its swap). */
  async diff(cwd: string, env: string, options: DiffOptions): Promise<DiffResult> {
    return diff(this.deps, await this.settledRef(cwd, env), options);
  }

  /** log: the newest versions with who and what. Read-only, like versions. */
  async log(cwd: string, env: string, limit: number | undefined): Promise<LogResult> {
    return log(this.deps, await this.settledRef(cwd, env), { limit });
  }

  /** run: one env file's variables. Read-only, like diff. */
  async env(cwd: string, env: string, options: EnvOptions): Promise<EnvResult> {
    return envValues(this.deps, await this.settledRef(cwd, env), options);
  }

  /** Read-only, like versions: not queued, so it never waits behind a pull and is not recorded for status. */
  async backups(cwd: string, env: string): Promise<BackupsResult> {
    return backups(this.deps, await this.locate(cwd, env));
  }

  restore(cwd: string, env: string, options: RestoreOptions, progress: Progress, signal?: AbortSignal): Promise<RestoreResult> {
    return this.run('restore', cwd, env, (ref, deps) => restore(deps, ref, options, progress), { signal });
  }

  async use(cwd: string, env: string | undefined): Promise<UseResult> {
    if (env === undefined) return showUse((await this.identities.resolve(cwd)).root);
    return this.run('use', cwd, env, (ref, deps) => use(deps, ref));
  }

  /** forget: the config, the key (backed up first) and the sync record go; the folder and the store stay. */
  forget(cwd: string, env: string): Promise<ForgetResult> {
    return this.run('forget', cwd, env, (ref, deps) => forget(deps, ref));
  }

  /** key rotate: a new key, latest re-encrypted under it, then made current here (key-rotate.ts). */
  rotateKey(cwd: string, env: string, progress: Progress, signal?: AbortSignal): Promise<KeyRotateResult> {
    return this.run('key rotate', cwd, env, (ref, deps) => rotateKey(deps, ref, progress), { signal });
  }

  /** key export: a share file of this vault's key and config; `out` defaults to a file in `cwd`. */
  exportKey(cwd: string, env: string, options: { out?: string; passphrase?: string }): Promise<KeyExportResult> {
    return this.run('key export', cwd, env, (ref) => exportKey(this.deps, ref, { ...options, folder: cwd }));
  }

  /**
   * key import: the vault is the one the share file names, whatever `cwd` is, queued like any operation on
   * it. `checkoutRepo` is set when `cwd` is in a checkout of another repo, where the import will not be found.
   */
  async importKey(cwd: string, file: string, passphrase: string): Promise<KeyImportResult & { checkoutRepo?: string }> {
    const share = await readShare(file, passphrase); // the slow derivations, before the queue
    const result = await this.queued('key import', share.repo, share.env, (deps) => importShare(deps, share));
    // A folder outside any checkout is named after itself: only a checkout's own name is worth a warning.
    const checkout = await this.identities.resolve(cwd).catch(() => undefined);
    const elsewhere = checkout !== undefined && checkout.source !== 'folder' && checkout.repo !== share.repo;
    return { ...result, ...(elsewhere ? { checkoutRepo: checkout.repo } : {}) };
  }

  /**
   * A push on save: pushes the vault folder of the checkout at `root` when it differs from what this
   * checkout last synced, and does nothing (undefined) when it does not, as after the agent's own pull.
   * Never unlocks a key `lock` dropped (KEY_LOCKED); a folder that is gone is VAULT_FOLDER_MISSING.
   */
  autoPush(root: string, env: string, retry: RetryDelay): Promise<PushResult | undefined> {
    return this.run(
      'push',
      root,
      env,
      async (ref, deps) => {
        let vault: OpenVault | undefined;
        let read: FolderRead | undefined;
        try {
          vault = await openVault(deps, ref);
          const local = await readFolderState(vault);
          if (!local.exists) throw new VsyncError('VAULT_FOLDER_MISSING', `${vault.vaultFolder}/ in ${ref.root}`);
          if (!local.unpushed) return undefined;
          read = local.read;
        } catch (err) {
          // A folder renamed or deleted while it was being read is a missing folder too, not a failed push; one that
          // cannot even be looked at is not taken for missing, and keeps its own error.
          const missing =
            !isVsyncError(err, 'VAULT_FOLDER_MISSING') && vault && !(await folderExists(vault.folder).catch(() => true))
              ? new VsyncError('VAULT_FOLDER_MISSING', `${vault.vaultFolder}/ in ${ref.root} (gone while it was read)`, { cause: err })
              : err;
          // Not a push yet, but one that cannot happen (a fifo in the folder, the config gone): announced as one.
          if (!isVsyncError(missing, 'VAULT_FOLDER_MISSING')) this.announceFailure('push', ref, 'watch', missing, retry);
          throw missing;
        }
        await vault.aesKey(); // a locked key stops it here, before anything is announced
        this.options.events?.emit({ type: 'change-seen', ...ref });
        // One config read and one folder read: the push takes the vault and the read that decided it.
        const opened = vault;
        return this.announced('push', ref, 'watch', () => pushFolder(deps, opened, read, {}, silent), retry);
      },
      { automatic: true },
    );
  }

  /**
   * --follow: one conditional read of `latest`. When a version this checkout does not hold is there, pulls
   * it (with the usual backup), unless the folder holds unpushed edits: then it touches nothing and says so.
   * Undefined when the remote has not moved, or when the folder this checkout synced has been removed. `onMoved` hears of the new version before the pull starts.
   */
  follow(root: string, env: string, onMoved: (version: string) => void): Promise<FollowOutcome | undefined> {
    return this.run(
      'pull',
      root,
      env,
      async (ref, deps) => {
        const vault = await openVault(deps, ref);
        const synced = (await readLocalState(vault.stateFile)).synced?.[ref.root];
        const remote = synced ? await readPointerIfChanged(vault, synced.etag) : await readPointer(vault);
        if (remote === undefined || remote === 'unchanged') return undefined;
        if (synced && remote.etag === synced.etag) return undefined;
        const local = await readFolderState(vault);
        // A folder this checkout synced and the user then removed is theirs to bring back, not ours.
        if (synced && !local.exists) return undefined;
        if (local.unpushed) {
          // A locked key still lets the divergence be told, only not what differs.
          const key = await vault.aesKey().catch(() => undefined);
          const differs = key ? await folderAgainst(deps, vault, key, remote.ts) : '';
          return { kind: 'diverged', version: remote.ts, etag: remote.etag, differs };
        }
        await vault.aesKey();
        onMoved(remote.ts);
        const pulled = await this.announced('pull', ref, 'follow', () => pull(deps, ref, {}, silent));
        return { kind: 'pulled', version: pulled.version };
      },
      { automatic: true },
    );
  }

  /**
   * At the shutdown deadline: cancels every operation running or queued with `reason` (AGENT_SHUTTING_DOWN)
   * and refuses any later one, so that nothing this agent started completes after it said it stopped.
   */
  abandonAll(reason: VsyncError): void {
    this.abandoned ??= reason;
    for (const controller of this.inFlight) controller.abort(reason);
  }

  /** Operations running or waiting in a queue now. */
  inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Vaults this agent has worked on, with the last operation on each, in name order. */
  vaults(): Array<{ repo: string; env: string; last: OperationRecord }> {
    return [...this.records.values()].sort((a, b) => `${a.repo}/${a.env}`.localeCompare(`${b.repo}/${b.env}`));
  }

  /** `op` between a `<kind>-started` event and a `-finished` or `-failed` one. */
  private async announced<T extends { version: string }>(
    kind: 'push' | 'pull',
    ref: VaultRef,
    trigger: Trigger,
    op: () => Promise<T>,
    retry?: RetryDelay,
  ): Promise<T> {
    const events = this.options.events;
    events?.emit({ type: `${kind}-started`, ...ref, trigger });
    try {
      const result = await op();
      events?.emit({ type: `${kind}-finished`, ...ref, trigger, version: result.version });
      return result;
    } catch (err) {
      this.announceFailure(kind, ref, trigger, err, retry);
      throw err;
    }
  }

  private announceFailure(kind: 'push' | 'pull', ref: VaultRef, trigger: Trigger, err: unknown, retry?: RetryDelay): void {
    const failure = toVsyncError(err);
    const retryInMs = kind === 'push' ? retry?.(failure) : undefined;
    const detail = { ...ref, trigger, code: failure.code, message: failure.message };
    this.options.events?.emit(
      kind === 'push' ? { type: 'push-failed', ...detail, ...(retryInMs ? { retryInMs } : {}) } : { type: 'pull-failed', ...detail },
    );
  }

  /**
   * Runs `op` in the vault's queue, after settling a key rotation this machine left unfinished (key-rotate.ts:
   * `key rotate` settles its own); records it for `status` unless it found nothing to do (undefined).
   */
  private async run<T>(
    operation: string,
    cwd: string,
    env: string,
    op: (ref: VaultRef, deps: OperationDeps) => Promise<T>,
    how: QueueOptions = {},
  ): Promise<T> {
    return span(`operation.${operation}`, async () => {
      const ref = await this.locate(cwd, env);
      return this.queued(
        operation,
        ref.repo,
        ref.env,
        async (deps) => {
          if (operation !== 'key rotate') await this.settleRotation(ref, deps);
          return op(ref, deps);
        },
        how,
      );
    });
  }

  /** The vault for a read-only operation (not queued), once a rotation left unfinished is settled in the queue. */
  private async settledRef(cwd: string, env: string): Promise<VaultRef> {
    const ref = await this.locate(cwd, env);
    if (await this.rotationPending(ref)) await this.queued('key rotate', ref.repo, ref.env, (deps) => this.settleRotation(ref, deps));
    return ref;
  }

  private async rotationPending(ref: VaultRef): Promise<boolean> {
    const state = await readLocalState(stateFile(ref.repo, ref.env, this.deps.environment)).catch(() => undefined);
    return state?.rotation !== undefined;
  }

  /** A store out of reach leaves it for a later operation: this one goes on (and says KEY_ROTATED or works). */
  private async settleRotation(ref: VaultRef, deps: OperationDeps): Promise<void> {
    if (!(await this.rotationPending(ref))) return;
    await settleRotation(deps, await openVault(deps, ref)).catch((err: unknown) => {
      if (!isVsyncError(err, 'STORAGE_TRANSIENT')) throw err;
    });
  }

  /** The dependencies one operation runs with: its store calls end when `signal` fires. */
  private operationDeps(signal: AbortSignal, automatic: boolean): OperationDeps {
    const base = automatic ? this.automatic : this.deps;
    return { ...base, storageFor: (config) => withSignal(base.storageFor(config), signal), signal, stillServing: this.deps.stillServing };
  }

  private async queued<T>(
    operation: string,
    repo: string,
    env: string,
    op: (deps: OperationDeps) => Promise<T>,
    how: QueueOptions = {},
  ): Promise<T> {
    const account = `${repo}/${env}`;
    const controller = new AbortController();
    const cancel = () => controller.abort(how.signal?.reason);
    if (this.abandoned) controller.abort(this.abandoned);
    else if (how.signal?.aborted) cancel();
    else how.signal?.addEventListener('abort', cancel, { once: true });
    this.inFlight.add(controller);
    const previous = this.queues.get(account) ?? Promise.resolve();
    // A cancelled operation leaves the queue at once, even while it waits for the one before it; the next
    // one in the queue still waits for both (the tail), so two operations never overlap on one vault.
    const current = untilAborted(
      previous.catch(() => undefined),
      controller.signal,
    ).then(() => {
      controller.signal.throwIfAborted();
      return op(this.operationDeps(controller.signal, how.automatic ?? false));
    });
    const tail = Promise.allSettled([previous, current]);
    this.queues.set(account, tail);
    const at = this.deps.now().toISOString();
    try {
      const result = await current;
      if (result === undefined) return result;
      const version = (result as { version?: unknown }).version;
      this.records.set(account, { repo, env, last: { operation, at, ok: true, ...(typeof version === 'string' ? { version } : {}) } });
      return result;
    } catch (err) {
      this.records.set(account, { repo, env, last: { operation, at, ok: false, code: toVsyncError(err).code } });
      throw err;
    } finally {
      how.signal?.removeEventListener('abort', cancel);
      this.inFlight.delete(controller);
      if (this.queues.get(account) === tail) void tail.then(() => this.queues.get(account) === tail && this.queues.delete(account));
    }
  }
}

interface QueueOptions {
  /** The caller's signal: the operation is cancelled with its reason. */
  readonly signal?: AbortSignal | undefined;
  /** Work the agent does on its own (push on save, --follow): with the keys a `lock` stops. */
  readonly automatic?: boolean;
}

/** `wait`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted(wait: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    void wait.then(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    });
  });
}

/** The store under an operation's view, for what is judged once per store. */
function unwrapped(storage: Storage): Storage {
  return storage instanceof SignalStorage ? storage.inner : storage;
}
