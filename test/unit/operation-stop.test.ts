// The pieces that stop and cancel an operation: the store seen through an operation's signal
// (signal-storage.ts), the agent lock's stillHeld(), and what a pull checks just before it swaps (not
// cancelled, this agent still serving, the floor not moved past what it installs), and the service's
// queue freed by a cancelled operation. The store hangs where a test says; store calls have a deadline far
// beyond the test's patience, so only a cancel can end them.
import t from 'tap';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LockFile } from '../../daemon/fs/lock-file.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { RetryingStorage } from '../../daemon/storage/retrying-storage.js';
import { withSignal } from '../../daemon/storage/signal-storage.js';
import type { Consumer, ReadOptions, StoredObject } from '../../daemon/storage/storage.js';
import { readLocalState, stateFile, writeLocalState } from '../../daemon/vault/local-state.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { VaultService } from '../../daemon/vault/vault-service.js';
import type { VaultDeps } from '../../daemon/vault/vault.js';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { silent } from '../../shared/progress.js';
import { caught } from '../helpers/caught.js';
import { within } from '../helpers/patience.js';
import type { TestContext } from '../helpers/tap-types.js';
import { Clock, tempBase, twoMachines, type Machine } from '../helpers/vault-fixture.js';

const FOREVER_MS = 3_600_000;
const envFile = (m: Machine) => join(m.ref.root, 'infra', 'vault', 'dev', '.env.dev');
const write = (m: Machine, text: string) => writeFileSync(envFile(m), text);
const read = (m: Machine) => readFileSync(envFile(m), 'utf8');
const floor = async (m: Machine) => (await readLocalState(stateFile(m.ref.repo, m.ref.env, m.deps.environment))).newestSeen;

/**
 * A store whose version downloads wait while `hold` is on: `waiting()` resolves once one waits, `release()`
 * lets the waiting ones through. It ignores any signal, as a hung connection would.
 */
class HeldDownloads extends MemoryStorage {
  hold = false;
  calls = 0;
  private held: Array<() => void> = [];
  private listeners: Array<() => void> = [];

  override async get(key: string, options?: ReadOptions): Promise<StoredObject> {
    await this.maybeHold(key);
    return super.get(key, options);
  }

  override async download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T> {
    await this.maybeHold(key);
    return super.download(key, consume, options);
  }

  private async maybeHold(key: string): Promise<void> {
    this.calls++;
    if (this.hold && key.includes('/versions/')) {
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        for (const told of this.listeners.splice(0)) told();
      });
    }
  }

  /** Resolves once a download is held (at once if one is). */
  waiting(): Promise<void> {
    return this.held.length > 0 ? Promise.resolve() : new Promise((resolve) => this.listeners.push(resolve));
  }

  release(): void {
    for (const go of this.held.splice(0)) go();
  }
}

/** Alice and Bob over one held store, behind the agent's retrying layer with an endless deadline. */
async function team(t: TestContext) {
  const held = new HeldDownloads();
  const { cleanup, storage, clock, a, b } = await twoMachines('vsync-stop-', new RetryingStorage(held, { budgetMs: FOREVER_MS }));
  t.teardown(cleanup);
  const pushed = async (text: string): Promise<string> => {
    clock.advance(1);
    write(a, text);
    return (await push(a.deps, a.ref, {}, silent)).version;
  };
  return { held, storage, clock, a, b, pushed };
}

t.test('signal-storage: an aborted operation ends its store call at once with the abort reason, and makes no new one', async (t) => {
  const held = new HeldDownloads();
  await held.put('r/dev/versions/20260516-113304.enc', Buffer.from('x'));
  held.hold = true;
  const cancel = new AbortController();
  const store = withSignal(new RetryingStorage(held, { budgetMs: FOREVER_MS }), cancel.signal);
  const hung = store.get('r/dev/versions/20260516-113304.enc');
  await held.waiting();
  cancel.abort(new VsyncError('AGENT_OPERATION_CANCELLED', 'test'));
  t.match(await caught(within(hung, 'the hung get')), { code: 'AGENT_OPERATION_CANCELLED' }, 'the hung get ends with the reason');
  const before = held.calls;
  t.match(await caught(store.head('r/dev/latest')), { code: 'AGENT_OPERATION_CANCELLED' }, 'a later call is refused');
  t.equal(held.calls, before, 'without reaching the store');
  t.equal(store.describe('k'), 'memory:///k', 'describe passes through');

  held.release();
  // The caller's own signal still counts, beside the operation's.
  const own = new AbortController();
  const other = withSignal(new RetryingStorage(held, { budgetMs: FOREVER_MS }), new AbortController().signal);
  const second = other.get('r/dev/versions/20260516-113304.enc', { signal: own.signal });
  await held.waiting();
  own.abort(new VsyncError('STORAGE_TRANSIENT', 'the caller gave up'));
  t.match(await caught(within(second, 'the second get')), { code: 'STORAGE_TRANSIENT' }, "the caller's own signal ends it too");
  held.release();
});

t.test('lock-file: stillHeld is true while this holder has the lock, false once it is released or another holds it', async (t) => {
  const { base, cleanup } = tempBase('vsync-lock-');
  t.teardown(cleanup);
  const path = join(base, 'vsyncd.lock');
  const mine = new LockFile(path, { waitMs: 0 });
  t.equal(await mine.stillHeld(), false, 'not before acquiring');
  await mine.acquire();
  t.equal(await mine.stillHeld(), true, 'held');
  await mine.release();
  t.equal(await mine.stillHeld(), false, 'not after releasing');
  const theirs = new LockFile(path, { waitMs: 0 });
  await theirs.acquire();
  t.equal(await mine.stillHeld(), false, 'not while another holder has it');
  t.equal(await theirs.stillHeld(), true);
  await theirs.release();
});

t.test(
  'pull: an agent that lost its lock while the download hung does not swap (AGENT_SHUTTING_DOWN); the folder and floor stay',
  async (t) => {
    const { held, b, pushed } = await team(t);
    const v1 = await pushed('v=1\n');
    await pull(b.deps, b.ref, {}, silent);
    await pushed('v=2\n');
    let serving = true;
    held.hold = true;
    const pulling = pull({ ...b.deps, stillServing: async () => serving }, b.ref, {}, silent);
    await held.waiting();
    serving = false; // the agent's lock went away (stopped, or broken by a successor)
    held.release();
    t.match(await caught(within(pulling, 'the pull')), { code: 'AGENT_SHUTTING_DOWN' });
    t.equal(read(b), 'v=1\n', 'the folder is unchanged');
    t.equal(await floor(b), v1, 'the floor is unchanged');
    t.same(readdirSync(join(b.ref.root, 'infra', 'vault')), ['dev'], 'nothing half-swapped beside the folder');
  },
);

t.test('pull: a download released after a newer pull raised the floor never installs the older version (VAULT_ROLLBACK)', async (t) => {
  const { held, storage, b, pushed } = await team(t);
  await pushed('v=1\n');
  await pull(b.deps, b.ref, {}, silent);
  const v2 = await pushed('v=2\n');
  held.hold = true;
  const late = pull(b.deps, b.ref, {}, silent); // reads latest = v2, then hangs on the download
  await held.waiting();
  held.hold = false;
  const v3 = await pushed('v=3\n');
  // Another agent on this machine (a successor) pulls v3 meanwhile, raising the floor to v3.
  t.equal((await pull({ ...b.deps, storageFor: () => storage }, b.ref, {}, silent)).version, v3);
  t.equal(await floor(b), v3);
  held.release();
  const refused = await caught(within(late, 'the late pull'));
  t.match(refused, { code: 'VAULT_ROLLBACK' }, `the late pull of ${v2} is refused`);
  t.match(String((refused as VsyncError).detail), new RegExp(`installing ${v2}.*since seen ${v3}`));
  t.equal(read(b), 'v=3\n', 'the folder holds the newer version');
  t.equal(await floor(b), v3, 'the floor did not go down');
});

t.test('writeLocalState with a clock keeps a higher floor written meanwhile; without one it writes what it is given', async (t) => {
  const { base, cleanup } = tempBase('vsync-floor-');
  t.teardown(cleanup);
  const file = join(base, 'state.json');
  const now = new Clock().now();
  await writeLocalState(file, { version: 1, newestSeen: '20260516-113310' });
  await writeLocalState(file, { version: 1, newestSeen: '20260516-113305' }, now);
  t.equal((await readLocalState(file)).newestSeen, '20260516-113310', 'a stale state does not lower the floor');
  await writeLocalState(file, { version: 1, newestSeen: '20260516-113320' }, now);
  t.equal((await readLocalState(file)).newestSeen, '20260516-113320', 'a newer one raises it');
  await writeLocalState(file, { version: 1, newestSeen: '20991231-235959' });
  await writeLocalState(file, { version: 1, newestSeen: '20260516-113320' }, now);
  t.equal((await readLocalState(file)).newestSeen, '20260516-113320', 'a floor from the future is not kept');
});

t.test(
  'pull: a cancelled pull ends while its download hangs and leaves the folder; a push cancelled before moving latest leaves latest',
  async (t) => {
    const { held, storage, b, pushed, a } = await team(t);
    const v1 = await pushed('v=1\n');
    await pull(b.deps, b.ref, {}, silent);
    await pushed('v=2\n');
    held.hold = true;
    const cancel = new AbortController();
    const deps: VaultDeps = { ...b.deps, storageFor: (c) => withSignal(b.deps.storageFor(c), cancel.signal) };
    const pulling = pull({ ...deps, signal: cancel.signal }, b.ref, {}, silent);
    await held.waiting();
    cancel.abort(new VsyncError('AGENT_OPERATION_CANCELLED', 'test'));
    t.match(await caught(within(pulling, 'the pull')), { code: 'AGENT_OPERATION_CANCELLED' });
    held.release();
    t.equal(read(b), 'v=1\n', 'the folder is unchanged');
    t.equal(await floor(b), v1);

    const before = (await storage.get('vsync/dev/latest')).body.toString();
    write(a, 'v=3\n');
    const gone = new AbortController();
    gone.abort(new VsyncError('AGENT_OPERATION_CANCELLED', 'test'));
    t.match(await caught(push({ ...a.deps, signal: gone.signal }, a.ref, {}, silent)), { code: 'AGENT_OPERATION_CANCELLED' });
    t.equal((await storage.get('vsync/dev/latest')).body.toString(), before, 'latest did not move');
  },
);

t.test('service: a cancelled operation frees the vault queue at once; abandonAll ends what runs and refuses what comes', async (t) => {
  const { held, b, pushed } = await team(t);
  writeFileSync(join(b.ref.root, '.vsync'), 'repo=vsync\n');
  await pushed('v=1\n');
  const service = new VaultService(b.deps);
  await service.pull(b.ref.root, 'dev', {}, silent);
  await pushed('v=2\n');

  held.hold = true;
  const client = new AbortController();
  const hung = service.pull(b.ref.root, 'dev', {}, silent, client.signal);
  await held.waiting();
  const waiting = new AbortController();
  const queued = service.pull(b.ref.root, 'dev', {}, silent, waiting.signal); // waits behind the hung one
  waiting.abort(new VsyncError('AGENT_OPERATION_CANCELLED', 'the second client went away'));
  t.match(await caught(within(queued, 'the queued pull')), { code: 'AGENT_OPERATION_CANCELLED' }, 'a queued one leaves its place at once');
  client.abort(new VsyncError('AGENT_OPERATION_CANCELLED', 'the client went away'));
  t.match(await caught(within(hung, 'the hung pull')), { code: 'AGENT_OPERATION_CANCELLED' }, 'the hung one ends at once');
  t.equal(read(b), 'v=1\n');
  t.match(service.vaults()[0]?.last, { operation: 'pull', ok: false, code: 'AGENT_OPERATION_CANCELLED' });
  held.hold = false;
  t.equal(
    (await within(service.pull(b.ref.root, 'dev', {}, silent), 'the next pull')).version,
    (await service.versions(b.ref.root, 'dev')).latest,
  );
  t.equal(read(b), 'v=2\n', 'the next pull is not stuck behind the cancelled ones');
  held.release();

  await pushed('v=3\n');
  held.hold = true;
  const running = service.pull(b.ref.root, 'dev', {}, silent);
  await held.waiting();
  service.abandonAll(new VsyncError('AGENT_SHUTTING_DOWN', 'stopping'));
  t.match(await caught(within(running, 'the running pull')), { code: 'AGENT_SHUTTING_DOWN' }, 'what runs is abandoned');
  t.equal(service.inFlightCount(), 0);
  held.hold = false;
  held.release();
  const later = await caught(service.pull(b.ref.root, 'dev', {}, silent));
  t.ok(isVsyncError(later, 'AGENT_SHUTTING_DOWN'), 'and nothing starts afterwards');
  t.equal(read(b), 'v=2\n', 'the folder is as the last completed pull left it');
});
