// Where the per-(repo, env) key text lives. Adapters: the OS keychain (os-keychain.ts) and a read-only
// environment source for headless machines (env-keychain.ts). The account names one vault: `<repo>/<env>`.

export const KEYCHAIN_SERVICE = 'tools.vsync';

export function keychainAccount(repo: string, env: string): string {
  return `${repo}/${env}`;
}

export interface Keychain {
  /** A short name for logs and `vsync doctor` ("secret-service", "env:VSYNC_KEY", ...). */
  readonly name: string;
  /** False for sources that only provide keys (VSYNC_KEY): init then adopts the key instead of making one. */
  readonly writable: boolean;
  /**
   * The key text stored for this account.
   * Throws VsyncError KEYCHAIN_NOT_FOUND when there is none, KEYCHAIN_UNAVAILABLE when the keychain
   * cannot be reached at all.
   */
  get(account: string): Promise<string>;
  /**
   * Stores the key text, replacing any previous one (callers that must not replace check with get first).
   * Throws KEYCHAIN_UNAVAILABLE, or KEYCHAIN_READ_ONLY for sources that never write.
   */
  set(account: string, key: string): Promise<void>;
  /**
   * Removes the key. Throws KEYCHAIN_NOT_FOUND when there was none, KEYCHAIN_UNAVAILABLE, KEYCHAIN_READ_ONLY.
   */
  delete(account: string): Promise<void>;
}
