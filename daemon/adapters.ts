// Which adapter serves which setting: the keychain for this process's environment, and a store for a
// vault's config. daemon/main.ts wires these into the agent; the benchmark's one-shot process (which
// measures what the agent saves) uses the same choices.
import type { Config } from './vault/config.js';
import { EnvKeychain } from './keychain/env-keychain.js';
import type { Keychain } from './keychain/keychain.js';
import { OsKeychain } from './keychain/os-keychain.js';
import { DirStorage } from './storage/dir-storage.js';
import { DEFAULT_RETRY, RetryingStorage, type RetryPolicy } from './storage/retrying-storage.js';
import { LazyStorage } from './storage/lazy-storage.js';
import { type S3Settings, s3Location } from './storage/s3-settings.js';
import type { Storage } from './storage/storage.js';
import { TracedStorage } from './storage/traced-storage.js';

/** Any VSYNC_KEY variable means a headless machine: keys come from the environment and nowhere else. */
export function keychainFor(env: NodeJS.ProcessEnv): Keychain {
  return Object.keys(env).some((k) => k === 'VSYNC_KEY' || k.startsWith('VSYNC_KEY_')) ? new EnvKeychain(env) : new OsKeychain();
}

/**
 * One store per distinct setting, reused across operations (S3 clients keep their connections warm), each
 * behind RetryingStorage with `retry` (what differs from DEFAULT_RETRY), each request a span (TracedStorage).
 */
export function storageFactory(retry: Partial<RetryPolicy> = {}): (config: Config) => Storage {
  const stores = new Map<string, Storage>();
  // One request may not take the whole call's budget: a stalled first attempt leaves time for a second.
  const requestTimeoutMs = Math.min(30_000, (retry.budgetMs ?? DEFAULT_RETRY.budgetMs) / 2);
  return (config) => {
    const id = JSON.stringify(config.s3 ?? config.store);
    let store = stores.get(id);
    if (!store) {
      const adapter = config.s3 ? lazyS3({ ...config.s3, requestTimeoutMs }) : new DirStorage(config.store!.root);
      store = new RetryingStorage(new TracedStorage(adapter), retry);
      stores.set(id, store);
    }
    return store;
  };
}

/** An S3 store whose SDK is loaded (by a dynamic import, which nothing else makes) at its first call. */
function lazyS3(settings: S3Settings): Storage {
  return new LazyStorage(
    (key) => s3Location(settings, key),
    async () => new (await import('./storage/s3-storage.js')).S3Storage(settings),
  );
}
