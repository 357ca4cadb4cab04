// The rig of the push-on-save tests: Watches, VaultWatch and the VaultService together over the in-memory
// store and keychain, with real folders, the real folder watcher, real timers and a tiny debounce. The store
// can be held mid-upload or made to fail, so the state machine's edges are reached on purpose; a Recorder
// keeps every event the hub raises, each checked against the shared schema, and waits for them by predicate.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  Body,
  Consumer,
  ListedObject,
  ObjectHead,
  ReadOptions,
  Storage,
  StoredObject,
  WriteResult,
} from '../../daemon/storage/storage.js';
import { EventHub } from '../../daemon/vault/event-hub.js';
import { readFolderState } from '../../daemon/vault/folder-state.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { VaultService } from '../../daemon/vault/vault-service.js';
import { openVault, type VaultDeps, type VaultRef } from '../../daemon/vault/vault.js';
import type { WatchSettings } from '../../daemon/watch/vault-watch.js';
import { watchListFile } from '../../daemon/watch/watch-list.js';
import { Watches } from '../../daemon/watch/watches.js';
import { WatchEntrySchema, type WatchEntry } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { AgentEventSchema, type AgentEvent } from '../../shared/events.js';
import { configRoot } from '../../shared/paths.js';
import { silent } from '../../shared/progress.js';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { within } from './patience.js';
import type { TestContext } from './tap-types.js';
import { tempBase } from './vault-fixture.js';

export const DEBOUNCE_MS = 30;
const SETTINGS: WatchSettings = { debounceMs: DEBOUNCE_MS, followEveryMs: 3_600_000, retryBaseMs: 40, retryMaxMs: 2_000 };
/** Long enough for anything a change was going to set off to have started, and a small push to end. */
export const quiet = () => sleep(DEBOUNCE_MS * 4 + 280);
const ORIGIN = 'git@github.com:Acme/web.git'; // repo acme_web

/**
 * The shared MemoryStorage behind a door the test controls: every call counted, the next version upload
 * held until released, or the next few version uploads failing as an unreachable store would.
 */
export class TestStore implements Storage {
  readonly inner = new MemoryStorage();
  calls = 0;
  private transientLeft = 0;
  private held: { reached: () => void; released: Promise<void> } | undefined;

  holdNextUpload(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((resolve) => (reached = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.held = { reached, released };
    return { reached: reachedP, release };
  }

  failNextUploads(n: number): void {
    this.transientLeft = n;
  }

  async versions(): Promise<string[]> {
    return (await this.inner.list('acme_web/dev/versions/')).map((o) => o.key.slice('acme_web/dev/versions/'.length, -'.enc'.length));
  }

  async latest(): Promise<string> {
    return (await this.inner.get('acme_web/dev/latest')).body.toString();
  }

  describe(key: string): string {
    return this.inner.describe(key);
  }
  get(key: string): Promise<StoredObject> {
    this.calls++;
    return this.inner.get(key);
  }
  getIfChanged(key: string, etag: string): Promise<StoredObject | undefined> {
    this.calls++;
    return this.inner.getIfChanged(key, etag);
  }
  download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    this.calls++;
    return this.inner.download(key, consume, options);
  }
  head(key: string): Promise<ObjectHead> {
    this.calls++;
    return this.inner.head(key);
  }
  put(key: string, body: Buffer): Promise<WriteResult> {
    this.calls++;
    return this.inner.put(key, body);
  }
  async putIfAbsent(key: string, body: Body): Promise<WriteResult> {
    this.calls++;
    if (key.includes('/versions/')) {
      const held = this.held;
      if (held) {
        this.held = undefined;
        held.reached();
        await held.released;
      }
      if (this.transientLeft > 0) {
        this.transientLeft--;
        throw new VsyncError('STORAGE_TRANSIENT', `test: ${key} unreachable`);
      }
    }
    return this.inner.putIfAbsent(key, body);
  }
  putIfMatch(key: string, body: Buffer, etag: string): Promise<WriteResult> {
    this.calls++;
    return this.inner.putIfMatch(key, body, etag);
  }
  list(prefix: string): Promise<ListedObject[]> {
    this.calls++;
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    this.calls++;
    return this.inner.delete(key);
  }
}

/** Every event the hub raises, each checked against the shared schema, waited for by predicate. */
class Recorder {
  readonly events: AgentEvent[] = [];
  readonly invalid: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(hub: EventHub) {
    hub.subscribe((event) => {
      const parsed = AgentEventSchema.safeParse(event);
      if (!parsed.success) this.invalid.push(`${JSON.stringify(event)}: ${parsed.error.message}`);
      this.events.push(event);
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  get length(): number {
    return this.events.length;
  }

  types(from = 0): string[] {
    return this.events.slice(from).map((e) => ('trigger' in e ? `${e.type}:${e.trigger}` : e.type));
  }

  /** The `nth` event (1-based) from `from` on that matches. */
  waitFor(match: (e: AgentEvent) => boolean, { from = 0, nth = 1 }: { from?: number; nth?: number } = {}): Promise<AgentEvent> {
    const find = () => this.events.slice(from).filter(match)[nth - 1];
    return within(
      new Promise<AgentEvent>((resolve) => {
        const waiter = () => {
          const found = find();
          if (found) {
            this.waiters.delete(waiter);
            resolve(found);
          }
        };
        this.waiters.add(waiter);
        waiter();
      }),
      `waiting for an event; saw ${this.types(from).join(', ') || 'nothing'}`,
    );
  }
}

export const is = (type: AgentEvent['type'], trigger?: string) => (e: AgentEvent) =>
  e.type === type && (trigger === undefined || ('trigger' in e && e.trigger === trigger));

function gitCheckout(root: string): void {
  mkdirSync(root, { recursive: true });
  execFileSync('git', ['init', '-q', root]);
  execFileSync('git', ['-C', root, 'remote', 'add', 'origin', ORIGIN]);
}

/** Bob: another HOME and checkout of the same repo with the config shared, on the same store and key. */
export interface Teammate {
  readonly ref: VaultRef;
  save(text: string): void;
  push(): Promise<string>;
  pull(): Promise<string>;
}

export interface Rig {
  readonly base: string;
  readonly root: string;
  readonly store: TestStore;
  readonly hub: EventHub;
  readonly rec: Recorder;
  readonly ring: KeyRing;
  readonly service: VaultService;
  readonly watches: Watches;
  readonly listFile: string;
  readonly logs: string[];
  /** The watched vault's entry, as `vsync status` would show it when each line was logged. */
  readonly logged: Array<WatchEntry | undefined>;
  /** How many times the watched checkout's vault was opened (its config read): openVault asks storageFor once. */
  opens(): number;
  save(text: string): void;
  read(): string;
  entry(): WatchEntry | undefined;
  watch(follow?: boolean): Promise<WatchEntry>;
  /** Watches of the same service and list file, as after an agent restart; closed at teardown. */
  moreWatches(): Watches;
  teammate(): Teammate;
  /** Whether the watched folder differs from what this checkout last synced. */
  unpushed(): Promise<boolean>;
  /** Every event raised so far fit the schema. */
  eventsValid(t: TestContext): void;
}

export async function rig(t: TestContext, settings: Partial<WatchSettings> = {}): Promise<Rig> {
  const { base, cleanup } = tempBase('vsync-vault-watch-');
  const root = join(base, 'alice', 'web');
  gitCheckout(root);
  const keychain = new MemoryKeychain();
  const ring = new KeyRing(keychain);
  const store = new TestStore();
  const hub = new EventHub();
  const rec = new Recorder(hub);
  const environment = { HOME: join(base, 'alice', 'home') };
  let opens = 0;
  const deps: VaultDeps = {
    storageFor: () => {
      opens++;
      return store;
    },
    keychain,
    keys: ring,
    environment,
    now: () => new Date(),
  };
  const service = new VaultService(deps, { events: hub, automaticKeys: ring.automatic() });
  await service.init(root, 'dev', { store: join(base, 'unused-store') });
  const listFile = watchListFile(environment);
  const logs: string[] = [];
  const logged: Array<WatchEntry | undefined> = [];
  const all: Watches[] = [];
  const make = () => {
    const w = new Watches({
      service,
      events: hub,
      keys: ring,
      settings: { ...SETTINGS, ...settings },
      listFile,
      log: (message) => {
        logs.push(message);
        logged.push(watches.list()[0]);
      },
    });
    all.push(w);
    return w;
  };
  const watches = make();
  t.teardown(async () => {
    for (const w of all) await w.close();
    cleanup();
  });
  const envFile = join(root, 'infra', 'vault', 'dev', '.env.dev');
  let mates = 0;
  return {
    base,
    root,
    store,
    hub,
    rec,
    ring,
    service,
    watches,
    listFile,
    logs,
    logged,
    save: (text) => writeFileSync(envFile, text),
    read: () => readFileSync(envFile, 'utf8'),
    entry: () => watches.list().find((w) => w.root === root && w.env === 'dev'),
    watch: async (follow = false) => WatchEntrySchema.parse(await watches.watch(root, 'dev', follow)),
    moreWatches: make,
    teammate: () => {
      const home = join(base, `bob${++mates}`, 'home');
      const mateRoot = join(base, `bob${mates}`, 'web');
      gitCheckout(mateRoot);
      cpSync(join(configRoot(environment), 'acme_web'), join(configRoot({ HOME: home }), 'acme_web'), { recursive: true });
      const mateDeps: VaultDeps = {
        storageFor: () => store.inner,
        keychain,
        keys: new KeyRing(keychain),
        environment: { HOME: home },
        now: () => new Date(),
      };
      const ref = { repo: 'acme_web', env: 'dev', root: mateRoot };
      const mateFile = join(mateRoot, 'infra', 'vault', 'dev', '.env.dev');
      return {
        ref,
        save: (text) => {
          mkdirSync(join(mateFile, '..'), { recursive: true });
          writeFileSync(mateFile, text);
        },
        push: async () => (await push(mateDeps, ref, {}, silent)).version,
        pull: async () => {
          await pull(mateDeps, ref, {}, silent);
          return readFileSync(mateFile, 'utf8');
        },
      };
    },
    unpushed: async () => (await readFolderState(await openVault(deps, { repo: 'acme_web', env: 'dev', root }))).unpushed,
    opens: () => opens,
    eventsValid: (t) => t.same(rec.invalid, [], 'every event fits AgentEventSchema'),
  };
}
