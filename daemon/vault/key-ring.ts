// The agent's unlocked keys: each vault's AES key, derived once from the keychain's key text and kept in
// memory until it has been idle for `idleMs` or `lock()` drops every key. Derivation costs ~0.2 s of CPU,
// which is what the agent saves each command.
import { VsyncError } from '../../shared/errors.js';
import { keychainAccount, type Keychain } from '../keychain/keychain.js';
import { deriveKey } from '../crypto/kdf.js';
import { assertKeyMatchesCheck } from '../crypto/key-check.js';
import { type IdleTimers, nodeIdleTimers } from './idle-timers.js';

export const DEFAULT_KEY_IDLE_MS = 8 * 60 * 60 * 1000;

interface Held {
  readonly key: Buffer;
  readonly salt: string;
  timer: unknown;
}

/** Where the domain gets a vault's AES key (vault.ts): the ring itself, or its `automatic()` view. */
export interface KeySource {
  aesKey(repo: string, env: string, salt: string, keyCheck: string | undefined): Promise<Buffer>;
  /**
   * Holds a key a user's command has just derived from the key text it wrote (init), as if it had been read
   * and derived here, so the vault's first push does not derive it again. Absent where keys are only read.
   */
  adopt?(repo: string, env: string, salt: string, key: Buffer): void;
  /** Drops the vault's key from memory (`vsync forget`): the next use reads the keychain again. */
  forget?(repo: string, env: string): void;
}

export class KeyRing implements KeySource {
  private readonly held = new Map<string, Held>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  // Bumped by lock(): a derivation that started before a lock must not put its key back afterwards.
  private generation = 0;
  // After lock(), only a command the user runs may read the keychain again, one vault at a time; work the
  // agent does on its own (a push on save) waits for that instead of undoing the lock.
  private lockedByUser = false;
  private readonly reopened = new Set<string>();
  private readonly unlockListeners = new Set<(account: string) => void>();

  constructor(
    private readonly keychain: Keychain,
    private readonly idleMs: number = DEFAULT_KEY_IDLE_MS,
    private readonly timers: IdleTimers = nodeIdleTimers,
  ) {}

  /** The vault's AES key; KEY_MISMATCH when the config's keyCheck says the keychain holds another key. */
  async aesKey(repo: string, env: string, salt: string, keyCheck: string | undefined): Promise<Buffer> {
    const account = keychainAccount(repo, env);
    const held = this.held.get(account);
    if (held && held.salt === salt) {
      this.touch(account, held);
      assertKeyMatchesCheck(held.key, keyCheck);
      return held.key;
    }
    // Concurrent first uses (with the same salt) share one keychain read and one derivation.
    const id = `${account}\0${salt}`;
    const generation = this.generation;
    let derivation = this.pending.get(id);
    if (!derivation) {
      derivation = this.keychain.get(account).then((text) => deriveKey(text, salt));
      this.pending.set(id, derivation);
      derivation.finally(() => this.pending.delete(id)).catch(() => undefined);
    }
    const key = await derivation;
    assertKeyMatchesCheck(key, keyCheck);
    if (generation !== this.generation) return key; // locked meanwhile: use it for this call, keep nothing
    this.hold(account, key, salt);
    return key;
  }

  adopt(repo: string, env: string, salt: string, key: Buffer): void {
    this.hold(keychainAccount(repo, env), key, salt);
  }

  forget(repo: string, env: string): void {
    this.drop(keychainAccount(repo, env));
  }

  /** Keeps `key` for `account` until it idles out; a command's own key unlocks its vault after `lock()`. */
  private hold(account: string, key: Buffer, salt: string): void {
    this.drop(account);
    this.held.set(account, { key, salt, timer: this.expiry(account) });
    if (this.lockedByUser && !this.reopened.has(account)) {
      this.reopened.add(account);
      for (const listener of this.unlockListeners) listener(account);
    }
  }

  /**
   * The keys for work nobody asked for just now (pushes on save, pulls under --follow): the same keys, but
   * after `lock()` a vault's key is KEY_LOCKED until a command for that vault has unlocked it again.
   */
  automatic(): KeySource {
    return {
      aesKey: async (repo, env, salt, keyCheck) => {
        const account = keychainAccount(repo, env);
        if (this.lockedByUser && !this.reopened.has(account)) {
          throw new VsyncError('KEY_LOCKED', `${account} has been locked since \`vsync lock\``);
        }
        return this.aesKey(repo, env, salt, keyCheck);
      },
    };
  }

  /** Calls `listener(account)` when a command unlocks a vault that `lock()` had locked. Returns an unsubscribe. */
  onUnlock(listener: (account: string) => void): () => void {
    this.unlockListeners.add(listener);
    return () => this.unlockListeners.delete(listener);
  }

  /** Accounts (`<repo>/<env>`) whose keys are unlocked now. */
  unlocked(): string[] {
    return [...this.held.keys()].sort();
  }

  /** Drops every key now; returns how many were held. */
  lock(): number {
    this.generation++;
    this.lockedByUser = true;
    this.reopened.clear();
    const n = this.held.size;
    for (const account of [...this.held.keys()]) this.drop(account);
    return n;
  }

  private touch(account: string, held: Held): void {
    this.timers.clearTimeout(held.timer);
    held.timer = this.expiry(account);
  }

  private expiry(account: string): unknown {
    return this.timers.setTimeout(() => this.drop(account), this.idleMs);
  }

  private drop(account: string): void {
    const held = this.held.get(account);
    if (!held) return;
    this.timers.clearTimeout(held.timer);
    // Not zeroed: an operation in flight may still be using it, and the GC frees it after that.
    this.held.delete(account);
  }
}
