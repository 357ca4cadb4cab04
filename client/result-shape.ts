// The agent is this user's, of this build, so its results are trusted rather than validated with zod (which
// would double the client's start-up time). These checks only make sure the fields the client prints are
// there: a result of another shape is a bug, reported as INTERNAL instead of printing "undefined".
import type * as api from '../shared/api.js';
import type { AgentEvent, AgentEventType } from '../shared/events.js';
import { internal } from './failure.js';

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object';
/** `kind?` is a field the result may leave out, but that has that kind when it is there. */
export type Shape = Readonly<Record<string, Kind | `${Kind}?`>>;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

/** `value` as T when it is an object whose named fields have the named kinds. */
export function expectShape<T>(value: unknown, shape: Shape, what: string): T {
  if (!isRecord(value)) throw internal(`the agent's ${what} is not an object`);
  for (const [field, kind] of Object.entries(shape)) {
    const actual = kindOf(value[field]);
    if (kind.endsWith('?')) {
      if (actual !== 'undefined' && actual !== kind.slice(0, -1))
        throw internal(`the agent's ${what} has ${field} as ${actual}, not ${kind.slice(0, -1)}`);
    } else if (actual !== kind) {
      throw internal(`the agent's ${what} has no ${kind} ${field}`);
    }
  }
  return value as T;
}

/**
 * What the client reads of each answer: every field of the wire contract's schema (shared/api.ts), with its
 * kind and whether it may be left out. test/unit/wire-contract.test.ts holds each to its schema.
 */
export const SHAPES = {
  init: {
    repo: 'string',
    env: 'string',
    configFile: 'string',
    vaultFolder: 'string',
    store: 'string',
    gitignore: 'object?',
    repoFile: 'string?',
    warnings: 'array?',
  },
  push: { repo: 'string', env: 'string', version: 'string', bytes: 'number', url: 'string' },
  pull: { repo: 'string', env: 'string', version: 'string', backup: 'string?', folder: 'string' },
  lock: { dropped: 'number' },
  forget: { repo: 'string', env: 'string', configFile: 'string?', keychain: 'string?', backup: 'object?' },
  keyExport: { repo: 'string', env: 'string', file: 'string', passphrase: 'string?' },
  keyImport: {
    repo: 'string',
    env: 'string',
    configFile: 'string',
    store: 'string',
    keychain: 'string',
    key: 'string',
    config: 'string',
    checkoutRepo: 'string?',
  },
  keyRotate: { repo: 'string', env: 'string', version: 'string', from: 'string', keychain: 'string', keys: 'number' },
  use: { link: 'string', kind: 'string', target: 'string?', gitWarnings: 'array?' },
  versions: { repo: 'string', env: 'string', location: 'string', latest: 'string?', versions: 'array' },
  versionEntry: { ts: 'string', size: 'number', latest: 'boolean', key: 'string?' },
  doctor: { agent: 'object', repo: 'string?', env: 'string?', checks: 'array' },
  doctorAgent: { version: 'string', pid: 'number', socket: 'string' },
  doctorCheck: { name: 'string', status: 'string', detail: 'string', code: 'string?', hint: 'string?' },
  backups: { repo: 'string', env: 'string', folder: 'string', backups: 'array' },
  backupEntry: { ts: 'string', size: 'number', path: 'string' },
  restore: {
    repo: 'string',
    env: 'string',
    restored: 'string',
    from: 'string',
    backup: 'string?',
    folder: 'string',
    unpushed: 'boolean',
    synced: 'string?',
  },
  // `watches` optional here only: an agent started before the upgrade that brought watching is still this
  // user's agent, and status (and daemon start/stop, which probe with it) must keep working with it.
  status: {
    version: 'string',
    pid: 'number',
    socket: 'string',
    startedAt: 'string',
    uptimeMs: 'number',
    locked: 'boolean',
    unlocked: 'array',
    vaults: 'array',
    watches: 'array?',
  },
  statusVault: { repo: 'string', env: 'string', last: 'object' },
  operation: { operation: 'string', at: 'string', ok: 'boolean', version: 'string?', code: 'string?' },
  watchEntry: {
    repo: 'string',
    env: 'string',
    root: 'string',
    vaultFolder: 'string',
    follow: 'boolean',
    state: 'string',
    code: 'string?',
    message: 'string?',
    lastVersion: 'string?',
    debounceMs: 'number',
    followEverySeconds: 'number',
  },
  unwatch: { repo: 'string', env: 'string', root: 'string', stopped: 'boolean' },
  watchList: { watches: 'array' },
  diff: { repo: 'string', env: 'string', from: 'object', to: 'object', same: 'boolean', files: 'array' },
  /** Every field of every kind of side (api.ts DiffSideSchema), each but `kind` held by some kinds only. */
  diffSide: { kind: 'string', folder: 'string?', exists: 'boolean?', ts: 'string?' },
  fileChange: { path: 'string', change: 'string', fromBytes: 'number?', toBytes: 'number?', keys: 'array?' },
  keyChange: { name: 'string', change: 'string', from: 'object?', to: 'object?' },
  maskedValue: { length: 'number', hash: 'string', value: 'string?' },
  log: { repo: 'string', env: 'string', location: 'string', latest: 'string?', entries: 'array', more: 'number' },
  logEntry: {
    ts: 'string',
    latest: 'boolean',
    size: 'number',
    entry: 'string',
    by: 'string?',
    machine: 'object?',
    reencrypted: 'string?',
    changes: 'array?',
    summary: 'string?',
  },
  env: { repo: 'string', env: 'string', file: 'string', source: 'string', version: 'string?', offline: 'object?', variables: 'object' },
} as const satisfies Record<string, Shape>;

export const expectInit = (v: unknown) => expectShape<api.InitResult>(v, SHAPES.init, 'init result');
export const expectPush = (v: unknown) => expectShape<api.PushResult>(v, SHAPES.push, 'push result');
export const expectPull = (v: unknown) => expectShape<api.PullResult>(v, SHAPES.pull, 'pull result');
export const expectLock = (v: unknown) => expectShape<api.LockResult>(v, SHAPES.lock, 'lock result');
export const expectForget = (v: unknown) => expectShape<api.ForgetResult>(v, SHAPES.forget, 'forget result');
export const expectKeyExport = (v: unknown) => expectShape<api.KeyExportResult>(v, SHAPES.keyExport, 'key export result');
export const expectKeyRotate = (v: unknown) => expectShape<api.KeyRotateResult>(v, SHAPES.keyRotate, 'key rotate result');
export const expectKeyImport = (v: unknown) => expectShape<api.KeyImportResult>(v, SHAPES.keyImport, 'key import result');

export function expectUse(v: unknown): api.UseResult {
  const result = expectShape<api.UseResult>(v, SHAPES.use, 'use result');
  if (result.kind === 'symlink' && typeof result.target !== 'string')
    throw internal("the agent's use result has a symlink without a target");
  return result;
}

/** A result that lists entries in its field `list`: the result's shape, then each entry's. */
function expectListing<T>(v: unknown, shape: Shape, what: string, list: string, entryShape: Shape, entry: string): T {
  const result = expectShape<Record<string, unknown[]>>(v, shape, what);
  for (const item of result[list]!) expectShape(item, entryShape, entry);
  return result as T;
}

export const expectVersions = (v: unknown) =>
  expectListing<api.VersionsResult>(v, SHAPES.versions, 'versions result', 'versions', SHAPES.versionEntry, 'version entry');

export function expectDoctor(v: unknown): api.DoctorResult {
  const result = expectShape<api.DoctorResult>(v, SHAPES.doctor, 'doctor result');
  expectShape(result.agent, SHAPES.doctorAgent, 'doctor result agent');
  for (const check of result.checks) expectShape(check, SHAPES.doctorCheck, 'doctor check');
  return result;
}

export const expectBackups = (v: unknown) =>
  expectListing<api.BackupsResult>(v, SHAPES.backups, 'backups result', 'backups', SHAPES.backupEntry, 'backup entry');

export const expectRestore = (v: unknown) => expectShape<api.RestoreResult>(v, SHAPES.restore, 'restore result');

export function expectStatus(v: unknown): api.StatusResult {
  const result = expectShape<api.StatusResult>(v, SHAPES.status, 'status');
  for (const vault of result.vaults) {
    const { last } = expectShape<api.StatusResult['vaults'][number]>(vault, SHAPES.statusVault, 'status vault');
    expectShape(last, SHAPES.operation, 'status vault operation');
  }
  for (const watch of result.watches ?? []) expectWatchEntry(watch);
  return result;
}

export const expectWatchEntry = (v: unknown) => expectShape<api.WatchEntry>(v, SHAPES.watchEntry, 'watch entry');
export const expectUnwatch = (v: unknown) => expectShape<api.UnwatchResult>(v, SHAPES.unwatch, 'unwatch result');

export function expectWatchList(v: unknown): api.WatchListResult {
  const result = expectShape<api.WatchListResult>(v, SHAPES.watchList, 'watch list');
  for (const watch of result.watches) expectWatchEntry(watch);
  return result;
}

export function expectDiff(v: unknown): api.DiffResult {
  const result = expectShape<api.DiffResult>(v, SHAPES.diff, 'diff result');
  for (const side of [result.from, result.to]) expectShape(side, SHAPES.diffSide, 'diff side');
  for (const file of result.files) {
    expectShape(file, SHAPES.fileChange, 'diff file');
    for (const key of file.keys ?? []) {
      expectShape(key, SHAPES.keyChange, 'diff key');
      for (const value of [key.from, key.to]) if (value !== undefined) expectShape(value, SHAPES.maskedValue, 'diff value');
    }
  }
  return result;
}

export const expectLog = (v: unknown) => expectListing<api.LogResult>(v, SHAPES.log, 'log result', 'entries', SHAPES.logEntry, 'log entry');

export function expectEnv(v: unknown): api.EnvResult {
  const result = expectShape<api.EnvResult>(v, SHAPES.env, 'env result');
  // These go into a child's environment: anything but text would be a bug, and a quiet one.
  for (const value of Object.values(result.variables))
    if (typeof value !== 'string') throw internal("the agent's env result holds a value that is not text");
  return result;
}

// ---- events (GET /v1/events) ----

const VAULT: Shape = { repo: 'string', env: 'string', root: 'string' };
const FAILURE: Shape = { code: 'string', message: 'string' };

/** Per type, every field of the event besides id, at and type. */
export const EVENT_SHAPES: Readonly<Record<AgentEventType, Shape>> = {
  'watch-started': { ...VAULT, follow: 'boolean' },
  'watch-stopped': VAULT,
  'change-seen': VAULT,
  'push-started': { ...VAULT, trigger: 'string' },
  'push-finished': { ...VAULT, trigger: 'string', version: 'string' },
  'push-failed': { ...VAULT, trigger: 'string', ...FAILURE, retryInMs: 'number?' },
  'pull-started': { ...VAULT, trigger: 'string' },
  'pull-finished': { ...VAULT, trigger: 'string', version: 'string' },
  'pull-failed': { ...VAULT, trigger: 'string', ...FAILURE },
  waiting: { ...VAULT, ...FAILURE },
  conflict: { ...VAULT, ...FAILURE, remote: 'string?' },
  'remote-moved': { ...VAULT, version: 'string' },
  locked: { dropped: 'number' },
  'storage-retry': { what: 'string', attempt: 'number', ...FAILURE },
};

/** An event of a type this build does not know is INTERNAL too: the agent is of this build. */
export function expectEvent(v: unknown): AgentEvent {
  const event = expectShape<AgentEvent>(v, { id: 'number', at: 'string', type: 'string' }, 'event');
  if (!Object.hasOwn(EVENT_SHAPES, event.type)) throw internal(`the agent sent an event of unknown type ${JSON.stringify(event.type)}`);
  return expectShape<AgentEvent>(event, EVENT_SHAPES[event.type], `${event.type} event`);
}
