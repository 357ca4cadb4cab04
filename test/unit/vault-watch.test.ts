// Push on save, one level down from the agent: Watches, VaultWatch and the VaultService together over the
// in-memory store and keychain, with real folders, the real folder watcher, real timers and a tiny debounce.
// The store can be held mid-upload or made to fail, so the state machine's edges are reached on purpose,
// and every assertion is about which events happened and what the store holds, never about how fast.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import type { ListedObject, ObjectHead, Storage, StoredObject, WriteResult } from '../../daemon/storage/storage.js';
import { EventHub } from '../../daemon/vault/event-hub.js';
import { readFolderState } from '../../daemon/vault/folder-state.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { VaultService } from '../../daemon/vault/vault-service.js';
import { openVault, type VaultDeps, type VaultRef } from '../../daemon/vault/vault.js';
import type { WatchSettings } from '../../daemon/watch/vault-watch.js';
import { readWatchList, watchListFile, writeWatchList } from '../../daemon/watch/watch-list.js';
import { Watches } from '../../daemon/watch/watches.js';
import { WatchEntrySchema, type WatchEntry } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { AgentEventSchema, type AgentEvent } from '../../shared/events.js';
import { configRoot } from '../../shared/paths.js';
import { silent } from '../../shared/progress.js';
import { caught } from '../helpers/caught.js';
import type { TestContext } from '../helpers/tap-types.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { within } from '../helpers/patience.js';

const DEBOUNCE_MS = 30;
const SETTINGS: WatchSettings = { debounceMs: DEBOUNCE_MS, followEveryMs: 3_600_000, retryBaseMs: 40, retryMaxMs: 2_000 };
/** Long enough for anything a change was going to set off to have started, and a small push to end. */
const quiet = () => sleep(DEBOUNCE_MS * 4 + 280);
const ORIGIN = 'git@github.com:Acme/web.git'; // repo acme_web

/**
 * The shared MemoryStorage behind a door the test controls: every call counted, the next version upload
 * held until released, or the next few version uploads failing as an unreachable store would.
 */
class TestStore implements Storage {
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
  head(key: string): Promise<ObjectHead> {
    this.calls++;
    return this.inner.head(key);
  }
  put(key: string, body: Buffer): Promise<WriteResult> {
    this.calls++;
    return this.inner.put(key, body);
  }
  async putIfAbsent(key: string, body: Buffer): Promise<WriteResult> {
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

const is = (type: AgentEvent['type'], trigger?: string) => (e: AgentEvent) =>
  e.type === type && (trigger === undefined || ('trigger' in e && e.trigger === trigger));

function gitCheckout(root: string): void {
  mkdirSync(root, { recursive: true });
  execFileSync('git', ['init', '-q', root]);
  execFileSync('git', ['-C', root, 'remote', 'add', 'origin', ORIGIN]);
}

/** Bob: another HOME and checkout of the same repo with the config shared, on the same store and key. */
interface Teammate {
  readonly ref: VaultRef;
  save(text: string): void;
  push(): Promise<string>;
  pull(): Promise<string>;
}

interface Rig {
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

async function rig(t: TestContext, settings: Partial<WatchSettings> = {}): Promise<Rig> {
  const { base, cleanup } = tempBase('vsync-vault-watch-');
  const root = join(base, 'alice', 'web');
  gitCheckout(root);
  const keychain = new MemoryKeychain();
  const ring = new KeyRing(keychain);
  const store = new TestStore();
  const hub = new EventHub();
  const rec = new Recorder(hub);
  const environment = { HOME: join(base, 'alice', 'home') };
  const deps: VaultDeps = { storageFor: () => store, keychain, keys: ring, environment, now: () => new Date() };
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
    eventsValid: (t) => t.same(rec.invalid, [], 'every event fits AgentEventSchema'),
  };
}

t.test('a save is one push on save, announced; watching an untouched folder pushes nothing', async (t) => {
  const r = await rig(t);
  const entry = await r.watch();
  t.match(entry, {
    repo: 'acme_web',
    env: 'dev',
    root: r.root,
    vaultFolder: 'infra/vault/dev',
    follow: false,
    state: 'idle',
    debounceMs: DEBOUNCE_MS,
  });
  t.notOk('lastVersion' in entry);
  await quiet();
  t.same(r.rec.types(), ['watch-started'], 'the empty folder init made is nothing to push');
  t.same(await r.store.versions(), []);

  const from = r.rec.length;
  r.save('A=1\n');
  const finished = await r.rec.waitFor(is('push-finished', 'watch'), { from });
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-finished:watch'], 'one push, announced');
  const versions = await r.store.versions();
  t.equal(versions.length, 1);
  t.match(finished, { repo: 'acme_web', env: 'dev', root: r.root, version: versions[0] });
  t.equal(await r.store.latest(), versions[0]);
  t.match(r.entry(), { state: 'idle', lastVersion: versions[0] });
  t.notOk(r.entry()?.code);
  t.equal(await r.unpushed(), false, 'the folder is as pushed');
  t.equal(await r.teammate().pull(), 'A=1\n', 'the version holds the save');
  r.eventsValid(t);
});

t.test('saves during a running push are exactly one more push, which carries the last save', async (t) => {
  const r = await rig(t);
  await r.watch();
  await quiet();
  const hold = r.store.holdNextUpload();
  const from = r.rec.length;
  r.save('V=1\n');
  await within(hold.reached, 'the first push reaching the upload');
  t.equal(r.entry()?.state, 'pushing');

  // Three saves, each waiting out the debounce, while the first push is stuck in its upload.
  r.save('V=2\n');
  await sleep(DEBOUNCE_MS * 3);
  r.save('V=3\n');
  await sleep(DEBOUNCE_MS * 3);
  r.save('V=4\n');
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch'], 'nothing else starts while a push runs');

  hold.release();
  const second = await r.rec.waitFor(is('push-finished', 'watch'), { from, nth: 2 });
  await quiet();
  t.same(
    r.rec.types(from),
    ['change-seen', 'push-started:watch', 'push-finished:watch', 'change-seen', 'push-started:watch', 'push-finished:watch'],
    'exactly one more push',
  );
  const versions = await r.store.versions();
  t.equal(versions.length, 2);
  t.match(second, { version: versions[1] });
  t.match(r.entry(), { state: 'idle', lastVersion: versions[1] });
  t.equal(await r.unpushed(), false);
  t.equal(await r.teammate().pull(), 'V=4\n', 'the last push holds the last save');
  r.eventsValid(t);
});

t.test("the agent's own pull is not a change: no push after it", async (t) => {
  const r = await rig(t);
  r.save('V=1\n');
  await r.service.push(r.root, 'dev', {}, silent);
  await r.watch();
  const bob = r.teammate();
  t.equal(await bob.pull(), 'V=1\n');
  bob.save('V=2 from bob\n');
  const bobs = await bob.push();
  await quiet();

  const from = r.rec.length;
  const pulled = await r.service.pull(r.root, 'dev', {}, silent);
  t.equal(pulled.version, bobs);
  t.equal(r.read(), 'V=2 from bob\n');
  await quiet();
  t.same(r.rec.types(from), ['pull-started:manual', 'pull-finished:manual'], 'the pull, and no push after it');
  t.equal((await r.store.versions()).length, 2);
  t.equal(await r.store.latest(), bobs);
  t.match(r.entry(), { state: 'idle' });

  const next = r.rec.length;
  r.save('V=3\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from: next });
  t.pass('and the watch still pushes a real save');
  r.eventsValid(t);
});

t.test('VAULT_CONFLICT: state conflict, no more push attempts, until a manual push ends it', async (t) => {
  const r = await rig(t);
  r.save('V=1\n');
  await r.service.push(r.root, 'dev', {}, silent);
  await r.watch();
  const bob = r.teammate();
  await bob.pull();
  bob.save('V=2 from bob\n');
  const bobs = await bob.push();
  await quiet();

  let from = r.rec.length;
  r.save('V=1, edited by alice\n');
  const conflict = await r.rec.waitFor(is('conflict'), { from });
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-failed:watch', 'conflict']);
  const failed = r.rec.events.slice(from).find(is('push-failed'));
  t.match(failed, { code: 'VAULT_CONFLICT', root: r.root });
  t.notOk(failed && 'retryInMs' in failed, 'a conflict is not retried');
  t.match(conflict, { repo: 'acme_web', env: 'dev', root: r.root, code: 'VAULT_CONFLICT', message: /remote latest/ });
  t.match(r.entry(), { state: 'conflict', code: 'VAULT_CONFLICT', message: /remote latest/ });
  t.equal(await r.store.latest(), bobs, "bob's version stays latest");

  // More saves while in conflict: nothing is tried, the store is not even asked.
  await quiet();
  const calls = r.store.calls;
  from = r.rec.length;
  r.save('V=1, edited again\n');
  await quiet();
  r.save('V=1, and again\n');
  await quiet();
  t.same(r.rec.types(from), [], 'no push attempted');
  t.equal(r.store.calls, calls, 'the store untouched');
  t.match(r.entry(), { state: 'conflict', code: 'VAULT_CONFLICT' });

  // A manual push that fails again does not end it.
  from = r.rec.length;
  await t.rejects(r.service.push(r.root, 'dev', {}, silent), { code: 'VAULT_CONFLICT' });
  await quiet();
  t.same(r.rec.types(from), ['push-started:manual', 'push-failed:manual']);
  t.match(r.entry(), { state: 'conflict' });

  // The user forces: that push ends the conflict, and the watch has nothing left to push.
  from = r.rec.length;
  const forced = await r.service.push(r.root, 'dev', { force: true }, silent);
  await quiet();
  t.same(r.rec.types(from), ['push-started:manual', 'push-finished:manual'], 'the watch adds no push of its own');
  t.match(r.entry(), { state: 'idle' });
  t.notOk(r.entry()?.code);
  t.equal(await r.store.latest(), forced.version);

  from = r.rec.length;
  r.save('V=3\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-finished:watch'], 'pushes on save again');
  r.eventsValid(t);
});

t.test('STORAGE_TRANSIENT: state failed, push-failed with retryInMs, retried with backoff until it works', async (t) => {
  const r = await rig(t, { retryBaseMs: 40, retryMaxMs: 2_000 });
  await r.watch();
  await quiet();
  r.store.failNextUploads(2);
  const from = r.rec.length;
  r.save('V=1\n');
  const finished = await r.rec.waitFor(is('push-finished', 'watch'), { from });
  await quiet();
  t.same(
    r.rec.types(from),
    [
      'change-seen',
      'push-started:watch',
      'push-failed:watch',
      'change-seen',
      'push-started:watch',
      'push-failed:watch',
      'change-seen',
      'push-started:watch',
      'push-finished:watch',
    ],
    'two failed tries, then the push',
  );
  const failures = r.rec.events.slice(from).filter(is('push-failed'));
  t.match(
    failures,
    [
      { code: 'STORAGE_TRANSIENT', message: /unreachable/, retryInMs: 40 },
      { code: 'STORAGE_TRANSIENT', message: /unreachable/, retryInMs: 80 },
    ],
    'the retry delay doubles',
  );
  t.equal(r.logs.length, 2, 'each failure logged');
  t.match(
    r.logged,
    [
      { state: 'failed', code: 'STORAGE_TRANSIENT' },
      { state: 'failed', code: 'STORAGE_TRANSIENT' },
    ],
    'the watch was failed between the tries',
  );
  const versions = await r.store.versions();
  t.equal(versions.length, 1, 'one version: nothing half-written by the failed tries');
  t.match(finished, { version: versions[0] });
  t.match(r.entry(), { state: 'idle', lastVersion: versions[0] });
  t.notOk(r.entry()?.code, 'the failure is cleared');

  // The count of failed tries starts over after a success.
  r.store.failNextUploads(1);
  const again = r.rec.length;
  r.save('V=2\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from: again });
  t.match(r.rec.events.slice(again).filter(is('push-failed')), [{ retryInMs: 40 }]);
  r.eventsValid(t);
});

t.test('a failure that is not passing is not retried: it waits for the next save', async (t) => {
  const r = await rig(t);
  await r.watch();
  await quiet();
  // A file no push would take: a symlink in the vault folder.
  const link = join(r.root, 'infra', 'vault', 'dev', 'link');
  symlinkSync('/etc/hostname', link);
  const from = r.rec.length;
  const failed = await r.rec.waitFor(is('push-failed', 'watch'), { from });
  t.match(failed, { code: 'BUNDLE_SOURCE_INVALID' });
  t.notOk('retryInMs' in failed, 'no retry announced');
  await quiet();
  await quiet();
  t.same(r.rec.types(from), ['push-failed:watch'], 'and none made');
  t.match(r.entry(), { state: 'failed', code: 'BUNDLE_SOURCE_INVALID' });
  t.equal(r.logs.length, 1, 'logged');

  rmSync(link);
  r.save('V=1\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });
  t.match(r.entry(), { state: 'idle' });
  r.eventsValid(t);
});

t.test('unwatch during a push waits for it, and nothing is pushed or retried after', async (t) => {
  const r = await rig(t);
  await r.watch();
  await quiet();
  const hold = r.store.holdNextUpload();
  r.store.failNextUploads(1); // the held upload then fails, for a reason that is normally retried
  const from = r.rec.length;
  r.save('V=1\n');
  await within(hold.reached, 'the push reaching the upload');
  r.save('V=2\n'); // seen, and settled, while the push runs: normally one more push
  await quiet();

  let unwatched = false;
  const unwatching = r.watches.unwatch(r.root, 'dev').then((result) => {
    unwatched = true;
    return result;
  });
  await quiet();
  t.equal(unwatched, false, 'unwatch waits for the push in flight');
  hold.release();
  t.match(await unwatching, { stopped: true });
  await quiet();
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-failed:watch', 'watch-stopped'], 'no retry, no second push');
  t.same(await r.store.versions(), []);
  t.same(r.watches.list(), []);
  r.eventsValid(t);
});

t.test('watching an env never set up: CONFIG_NOT_FOUND, nothing watched, nothing written', async (t) => {
  const r = await rig(t);
  const err = await caught(r.watches.watch(r.root, 'staging', false));
  t.match(err, { code: 'CONFIG_NOT_FOUND', message: /env_staging/ });
  t.same(r.watches.list(), []);
  t.notOk(existsSync(r.listFile), 'no list file');
  t.same(r.rec.types(), []);

  await r.watch();
  await caught(r.watches.watch(r.root, 'staging', true));
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: false }], 'a failed watch adds nothing to the file');
  t.same(
    r.watches.list().map((w) => w.env),
    ['dev'],
  );
});

t.test('restore: what cannot start stays in the file, dormant; unwatching it stops it', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [
    { root: r.root, env: 'staging', follow: true },
    { root: r.root, env: 'dev', follow: false },
  ]);
  const restored = r.moreWatches();
  await restored.restore();
  t.same(
    restored.list().map((w) => [w.env, w.follow, w.state]),
    [['dev', false, 'idle']],
    'dev runs',
  );
  t.equal(r.logs.length, 1);
  t.match(r.logs[0], /staging/);
  t.same(
    await readWatchList(r.listFile),
    [
      { root: r.root, env: 'staging', follow: true },
      { root: r.root, env: 'dev', follow: false },
    ],
    'the file is untouched',
  );

  // Restored, it pushes on save.
  const from = r.rec.length;
  r.save('V=1\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });

  const stopped = await restored.unwatch(r.root, 'staging');
  t.same(stopped, { repo: 'acme_web', env: 'staging', root: r.root, stopped: true });
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: false }], 'gone from the file');
  t.same(
    await restored.unwatch(r.root, 'staging'),
    { repo: 'acme_web', env: 'staging', root: r.root, stopped: false },
    'a second time: nothing to stop',
  );
  t.same(
    restored.list().map((w) => w.env),
    ['dev'],
  );

  const before = r.rec.length;
  t.same(await restored.unwatch(r.root, 'dev'), { repo: 'acme_web', env: 'dev', root: r.root, stopped: true });
  t.same(r.rec.types(before), ['watch-stopped']);
  t.same(await readWatchList(r.listFile), []);
  t.same(restored.list(), []);
  r.save('V=2\n');
  await quiet();
  t.same(r.rec.types(before), ['watch-stopped'], 'no push once unwatched');
  r.eventsValid(t);
});

t.test('a watch asked for while restore is starting the same vault: one watcher, which unwatch stops', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [{ root: r.root, env: 'dev', follow: false }]);
  // git answering slowly widens the window in which both could start a watcher.
  const locate = r.service.locate.bind(r.service);
  r.service.locate = async (cwd, env) => {
    await sleep(50);
    return locate(cwd, env);
  };
  const restored = r.moreWatches();
  await Promise.all([restored.restore(), restored.watch(r.root, 'dev', true)]);
  t.same(
    restored.list().map((w) => [w.env, w.follow]),
    [['dev', true]],
  );
  t.same(await restored.unwatch(r.root, 'dev'), { repo: 'acme_web', env: 'dev', root: r.root, stopped: true });
  const from = r.rec.length;
  r.save('V=1\n');
  await quiet();
  await quiet();
  t.same(r.rec.types(from), [], 'no watcher left behind to push');
  t.same(await r.store.versions(), []);
});

t.test('a dormant entry stays in the file when another watch is turned on or off', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [{ root: r.root, env: 'staging', follow: false }]);
  const restored = r.moreWatches();
  await restored.restore();
  t.same(restored.list(), []);
  await restored.watch(r.root, 'dev', true);
  t.same(await readWatchList(r.listFile), [
    { root: r.root, env: 'dev', follow: true },
    { root: r.root, env: 'staging', follow: false },
  ]);
  await restored.unwatch(r.root, 'dev');
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'staging', follow: false }]);
});

t.test('watching again with another follow only changes follow', async (t) => {
  const r = await rig(t);
  t.match(await r.watch(false), { follow: false });
  t.match(await r.watch(true), { follow: true, state: 'idle' });
  t.same(r.rec.types(), ['watch-started'], 'started once');
  t.same(
    r.watches.list().map((w) => [w.env, w.follow]),
    [['dev', true]],
  );
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: true }]);
  t.match(await r.watch(false), { follow: false });
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: false }]);
  t.same(r.rec.types(), ['watch-started']);
  t.match(r.rec.events[0], { type: 'watch-started', repo: 'acme_web', env: 'dev', root: r.root, follow: false });

  // From a folder inside the checkout, it is the same watch.
  t.match(await r.watches.watch(join(r.root, 'infra'), 'dev', true), { root: r.root, follow: true });
  t.equal(r.watches.list().length, 1);

  // Still one watcher: one save, one push.
  const from = r.rec.length;
  r.save('V=1\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-finished:watch']);
  r.eventsValid(t);
});

t.test('two list entries naming one checkout are one watcher, which unwatch stops', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [
    { root: r.root, env: 'dev', follow: false },
    { root: `${r.root}/`, env: 'dev', follow: false },
  ]);
  const restored = r.moreWatches();
  await restored.restore();
  t.equal(restored.list().length, 1);
  t.same(await restored.unwatch(r.root, 'dev'), { repo: 'acme_web', env: 'dev', root: r.root, stopped: true });
  const from = r.rec.length;
  r.save('V=1\n');
  await quiet();
  t.same(r.rec.types(from), [], 'no second watcher left behind to push');
  t.same(await readWatchList(r.listFile), []);
});

t.test('a checkout that is gone leaves the list at restore, with a line in the log', async (t) => {
  const r = await rig(t);
  const gone = join(r.base, 'deleted-checkout');
  await writeWatchList(r.listFile, [
    { root: gone, env: 'dev', follow: true },
    { root: r.root, env: 'dev', follow: false },
  ]);
  const restored = r.moreWatches();
  await restored.restore();
  t.same(
    restored.list().map((w) => w.root),
    [r.root],
  );
  t.match(r.logs.join('\n'), new RegExp(`no longer watching dev in ${gone}: the folder is gone`));
  await restored.watch(r.root, 'dev', true);
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: true }], 'and is not written back');
});

t.test('close refuses a watch that has not started yet and any later one: no watcher outlives it', async (t) => {
  const r = await rig(t);
  const watching = r.watches.watch(r.root, 'dev', false);
  await r.watches.close();
  await t.rejects(watching, { code: 'AGENT_SHUTTING_DOWN' }, 'asked for just before close');
  t.same(r.watches.list(), []);
  await t.rejects(r.watches.watch(r.root, 'dev', false), { code: 'AGENT_SHUTTING_DOWN' });
  const from = r.rec.length;
  r.save('V=1\n');
  await quiet();
  t.same(r.rec.types(from), [], 'nothing pushes after close');
});

t.test('a conflict met by a push on save is not reported again by --follow', async (t) => {
  const r = await rig(t, { followEveryMs: 100 });
  r.save('V=1\n');
  await r.service.push(r.root, 'dev', {}, silent);
  const bob = r.teammate();
  await bob.pull();
  await r.watch(true);
  await quiet();
  // Alice's save meets Bob's push from before the next follow period: the push reports the conflict.
  bob.save('V=2 from bob\n');
  const from = r.rec.length;
  const bobs = await bob.push();
  r.save('V=1, edited by alice\n');
  await r.rec.waitFor(is('conflict'), { from });
  await quiet();
  await quiet();
  t.equal(r.rec.types(from).filter((type) => type === 'conflict').length, 1, 'one conflict, whoever met it first');
  t.match(r.entry(), { state: 'conflict' });
  t.equal(await r.store.latest(), bobs);
  t.equal(r.read(), 'V=1, edited by alice\n');
});
