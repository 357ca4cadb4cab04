// The agent is this user's, of this build, so its results are trusted rather than validated with zod (which
// would double the client's start-up time). These checks only make sure the fields the client prints are
// there: a result of another shape is a bug, reported as INTERNAL instead of printing "undefined".
import type { InitResult, LockResult, PullResult, PushResult, StatusResult, UseResult, VersionsResult } from '../shared/api.js';
import { internal } from './failure.js';

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object';
type Shape = Readonly<Record<string, Kind>>;

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
    if (kindOf(value[field]) !== kind) throw internal(`the agent's ${what} has no ${kind} ${field}`);
  }
  return value as T;
}

export const expectInit = (v: unknown) =>
  expectShape<InitResult>(v, { repo: 'string', env: 'string', configFile: 'string', vaultFolder: 'string', store: 'string' }, 'init result');
export const expectPush = (v: unknown) => expectShape<PushResult>(v, { repo: 'string', env: 'string', version: 'string' }, 'push result');
export const expectPull = (v: unknown) => expectShape<PullResult>(v, { repo: 'string', env: 'string', version: 'string' }, 'pull result');
export const expectLock = (v: unknown) => expectShape<LockResult>(v, { dropped: 'number' }, 'lock result');

export function expectUse(v: unknown): UseResult {
  const result = expectShape<UseResult>(v, { link: 'string', kind: 'string' }, 'use result');
  if (result.kind === 'symlink' && typeof result.target !== 'string') throw internal("the agent's use result has a symlink without a target");
  return result;
}

export function expectVersions(v: unknown): VersionsResult {
  const result = expectShape<VersionsResult>(v, { env: 'string', location: 'string', versions: 'array' }, 'versions result');
  for (const entry of result.versions) expectShape(entry, { ts: 'string', size: 'number', latest: 'boolean' }, 'version entry');
  return result;
}

export function expectStatus(v: unknown): StatusResult {
  const result = expectShape<StatusResult>(
    v,
    { version: 'string', pid: 'number', socket: 'string', uptimeMs: 'number', locked: 'boolean', unlocked: 'array', vaults: 'array' },
    'status',
  );
  for (const vault of result.vaults) {
    const { last } = expectShape<StatusResult['vaults'][number]>(vault, { repo: 'string', env: 'string', last: 'object' }, 'status vault');
    expectShape(last, { operation: 'string', at: 'string', ok: 'boolean' }, 'status vault operation');
  }
  return result;
}
