// The agent's API as the server unit tests drive it: the real domain over the in-memory store and keychain,
// wired as daemon/main.ts wires it (watches, event hub, automatic keys), behind a fastify app that does not
// listen unless a test makes it. Everything it opens is closed by the test's teardowns.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../daemon/server/app.js';
import type { ServerLimits } from '../../daemon/server/server-limits.js';
import type { Storage } from '../../daemon/storage/storage.js';
import { EventHub } from '../../daemon/vault/event-hub.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import { VaultService } from '../../daemon/vault/vault-service.js';
import { DEFAULT_WATCH_SETTINGS } from '../../daemon/watch/vault-watch.js';
import { watchListFile } from '../../daemon/watch/watch-list.js';
import { Watches } from '../../daemon/watch/watches.js';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { tempBase } from './vault-fixture.js';

/** What a teardown is registered on: the file's `t` or a subtest's. */
export interface Teardowns {
  teardown(fn: () => unknown): void;
}

export const ACME_ORIGIN = 'git@github.com:Acme/web.git';

export interface AgentAppOptions {
  /** The agent's HOME, a folder under the base. Default `home`. */
  readonly home?: string;
  /** The store every vault resolves to. Default: one MemoryStorage, returned as `storage`. */
  readonly storage?: Storage;
  /** A fresh store for each vault resolved instead (nothing a request writes is read back). */
  readonly freshStorage?: boolean;
  readonly now?: () => Date;
  /** Default `/tmp/x.sock`: only named in answers, never listened on. */
  readonly socket?: string;
  /** Default: now. */
  readonly startedAt?: Date;
  readonly onShutdown?: () => void;
  readonly limits?: Partial<ServerLimits>;
}

/** A git checkout at `path` (made), with `origin` as its remote if given. */
export function checkout(path: string, origin?: string): string {
  mkdirSync(path, { recursive: true });
  execFileSync('git', ['init', '-q', path]);
  if (origin) execFileSync('git', ['-C', path, 'remote', 'add', 'origin', origin]);
  return path;
}

/** One agent with its HOME under `base` (several may share a base and a store, as teammates share a bucket). */
export function agentApp(t: Teardowns, base: string, options: AgentAppOptions = {}) {
  const keychain = new MemoryKeychain();
  const keys = new KeyRing(keychain);
  const storage = options.storage ?? new MemoryStorage();
  const events = new EventHub();
  const home = join(base, options.home ?? 'home');
  const environment = { HOME: home };
  const service = new VaultService(
    {
      storageFor: options.freshStorage ? () => new MemoryStorage() : () => storage,
      keychain,
      keys,
      environment,
      now: options.now ?? (() => new Date()),
    },
    { events, automaticKeys: keys.automatic() },
  );
  const watches = new Watches({
    service,
    events,
    keys,
    settings: DEFAULT_WATCH_SETTINGS,
    listFile: watchListFile(environment),
    log: () => undefined,
  });
  const app = buildApp({
    service,
    keys,
    watches,
    events,
    socket: options.socket ?? '/tmp/x.sock',
    startedAt: options.startedAt ?? new Date(),
    onShutdown: options.onShutdown ?? (() => undefined),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  t.teardown(() => watches.close());
  t.teardown(() => app.close());
  return { keychain, keys, storage, events, home, environment, service, watches, app };
}

export interface AppFixtureOptions extends AgentAppOptions {
  /** The checkout at `work/web`: its origin remote, or none. Default ACME_ORIGIN (vault `acme_web`). */
  readonly origin?: string | null;
}

/** A temporary base (removed at teardown) with a checkout at `repo`, and one agent over it. */
export function appFixture(t: Teardowns, prefix: string, options: AppFixtureOptions = {}) {
  const { base, cleanup } = tempBase(prefix);
  t.teardown(cleanup);
  const repo = checkout(join(base, 'work', 'web'), options.origin === undefined ? ACME_ORIGIN : (options.origin ?? undefined));
  return { base, repo, ...agentApp(t, base, options) };
}
