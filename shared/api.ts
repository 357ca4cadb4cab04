// The wire contract of the agent's HTTP API v1 (docs/API.md), imported by both sides: the agent validates
// every request with these schemas (unknown fields refused) and the client validates every answer.
//
// Requests name the working folder (`cwd`): the agent finds the repo from it (docs/FORMAT.md §8), as the
// CLI would, so an editor or a script only needs to know where it is.
//
// Long operations (init, push, pull) answer in one of two ways, chosen by the request's Accept header:
// - `application/x-ndjson`: HTTP 200 and one JSON object per line, `{"type":"progress",...}` for each step
//   as it happens, then exactly one `{"type":"result","result":{...}}` or `{"type":"error","error":{...}}`;
// - otherwise plain JSON: the result with HTTP 200, or an ErrorBody with the code's HTTP status.
import { z } from 'zod';
import { ProgressEventSchema } from './progress.js';

export const API_PREFIX = '/v1';
export const NDJSON = 'application/x-ndjson';
/** Request bodies are a few hundred bytes; anything near this is not a vsync request. */
export const BODY_LIMIT_BYTES = 16 * 1024;

const Timestamp = z.string().regex(/^\d{8}-\d{6}$/, 'must be a version timestamp like 20260516-113304');
/** PATH_MAX on Linux, in bytes: a longer path can never be opened. */
export const PATH_MAX_BYTES = 4096;
const utf8Bytes = (text: string): number => new TextEncoder().encode(text).length;
// A NUL byte ends a path at the system call: the file named would not be the one asked for. Every path the
// agent keeps (a store folder in a config) or opens is checked here, before anything is written.
const AbsolutePath = z
  .string()
  .min(1)
  .refine((p) => !p.includes('\0'), 'must not hold a NUL byte')
  .refine((p) => utf8Bytes(p) <= PATH_MAX_BYTES, `must be at most ${PATH_MAX_BYTES} bytes`)
  .refine((p) => p.startsWith('/'), 'must be an absolute path');
const Cwd = AbsolutePath;
// Names are checked fully by the agent (shared/names.ts, NAME_INVALID with its rules as the hint); this
// keeps obvious junk (control characters, a long string) out.
const EnvName = z
  .string()
  .min(1)
  .max(64)
  .refine((n) => !/[\u0000-\u001f\u007f]/.test(n), 'must not hold control characters');

// ---- errors ----

export const ErrorBodySchema = z.strictObject({
  error: z.strictObject({
    code: z.string(),
    message: z.string(),
    hint: z.string(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

// ---- requests ----

export const InitRequestSchema = z.strictObject({
  cwd: Cwd,
  env: EnvName,
  /** The repo's name, written to `.vsync`: needed outside a git checkout, where no name can be found. */
  repo: z
    .string()
    .min(1)
    .max(100)
    .refine((n) => !/[\u0000-\u001f\u007f]/.test(n), 'must not hold control characters')
    .optional(),
  /** A folder (the client resolves a relative --store against its working folder). */
  store: AbsolutePath.optional(),
  // The same rules as the config's (daemon/vault/config.ts), refused here as a bad request (400) rather than
  // found later as a config that breaks every push.
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name: 3-63 characters of a-z, 0-9, "." and "-"')
    .optional(),
  endpoint: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2048)
    .optional(),
  region: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'must be a region name like eu-west-1')
    .optional(),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._/-]{0,256}$/, 'may hold only A-Z, a-z, 0-9, ".", "_", "-" and "/" (at most 256)')
    // Some HTTP stacks fold "." and ".." out of a URL path: the object written would not be the one named.
    .refine((p) => !p.split('/').some((segment) => segment === '.' || segment === '..'), 'must not hold "." or ".." segments')
    .optional(),
  forcePathStyle: z.boolean().optional(),
});
export type InitRequest = z.infer<typeof InitRequestSchema>;

export const PushRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName, force: z.boolean().optional() });
export type PushRequest = z.infer<typeof PushRequestSchema>;

export const PullRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName, at: Timestamp.optional(), force: z.boolean().optional() });
export type PullRequest = z.infer<typeof PullRequestSchema>;

/** GET /v1/versions?cwd=…&env=… */
export const VersionsQuerySchema = z.strictObject({ cwd: Cwd, env: EnvName });
export type VersionsQuery = z.infer<typeof VersionsQuerySchema>;

/** With no env: where `.env` points now. */
export const UseRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName.optional() });
export type UseRequest = z.infer<typeof UseRequestSchema>;

export const EmptyRequestSchema = z.strictObject({});

/** POST /v1/watch: push on save in this checkout's vault folder; `follow` also pulls a teammate's push. */
export const WatchRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName, follow: z.boolean().optional() });
export type WatchRequest = z.infer<typeof WatchRequestSchema>;

/** POST /v1/unwatch */
export const UnwatchRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName });
export type UnwatchRequest = z.infer<typeof UnwatchRequestSchema>;

// ---- results ----

export const InitResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  configFile: z.string(),
  vaultFolder: z.string(),
  store: z.string(),
  /** The repo's top-level .gitignore and the lines init appended to it (none when git already ignored both). */
  gitignore: z.strictObject({ file: z.string(), added: z.array(z.string()) }).optional(),
  /** The `.vsync` file init wrote for `--repo`, to be committed. */
  repoFile: z.string().optional(),
  /** What init could not do and the user should (a .gitignore it could not write). */
  warnings: z.array(z.string()).optional(),
});
export type InitResult = z.infer<typeof InitResultSchema>;

export const PushResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  version: Timestamp,
  bytes: z.number().int().nonnegative(),
  url: z.string(),
});
export type PushResult = z.infer<typeof PushResultSchema>;

export const PullResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  version: Timestamp,
  backup: z.string().optional(),
  folder: z.string(),
});
export type PullResult = z.infer<typeof PullResultSchema>;

export const VersionsResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  location: z.string(),
  latest: Timestamp.optional(),
  /**
   * `key`: set when the store's key history (docs/FORMAT.md §15) puts the version under another key than this
   * machine's: an `earlier` one (from before a rotation) or a `later` one (this machine has not taken it in).
   */
  versions: z.array(
    z.strictObject({
      ts: Timestamp,
      size: z.number().int().nonnegative(),
      latest: z.boolean(),
      key: z.enum(['earlier', 'later']).optional(),
    }),
  ),
});
export type VersionsResult = z.infer<typeof VersionsResultSchema>;

export const UseResultSchema = z.strictObject({
  link: z.string(),
  kind: z.enum(['symlink', 'file', 'none']),
  target: z.string().optional(),
  /** What would let git commit the vault folder or `.env`, each with its fix (daemon/vault/git-exposure.ts). */
  gitWarnings: z.array(z.string()).optional(),
});
export type UseResult = z.infer<typeof UseResultSchema>;

export const LockResultSchema = z.strictObject({ dropped: z.number().int().nonnegative() });
export type LockResult = z.infer<typeof LockResultSchema>;

/**
 * A watched vault as the agent sees it now:
 * - `idle`: the folder is as last synced (or a change is waiting out the debounce);
 * - `pushing`: a push on save (or a pull under --follow) is running;
 * - `conflict`: the remote and the folder went separate ways; waits for `pull` or `push --force`;
 * - `waiting`: the keys are locked or the folder is gone; goes on by itself once that is over;
 * - `failed`: the last automatic push (or --follow's read) failed (`code`, `message`); a passing failure
 *   (the store unreachable) is retried with backoff, as its push-failed event's `retryInMs` says.
 */
export const WatchStateSchema = z.enum(['idle', 'pushing', 'conflict', 'waiting', 'failed']);
export type WatchState = z.infer<typeof WatchStateSchema>;

export const WatchEntrySchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  root: z.string(),
  vaultFolder: z.string(),
  follow: z.boolean(),
  state: WatchStateSchema,
  code: z.string().optional(),
  message: z.string().optional(),
  /** The last version pushed on save or pulled under --follow by this agent. */
  lastVersion: Timestamp.optional(),
  debounceMs: z.number().int().nonnegative(),
  /** How often --follow reads the pointer. */
  followEverySeconds: z.number().positive(),
});
export type WatchEntry = z.infer<typeof WatchEntrySchema>;

export const WatchListResultSchema = z.strictObject({ watches: z.array(WatchEntrySchema) });
export type WatchListResult = z.infer<typeof WatchListResultSchema>;

export const UnwatchResultSchema = z.strictObject({ repo: z.string(), env: z.string(), root: z.string(), stopped: z.boolean() });
export type UnwatchResult = z.infer<typeof UnwatchResultSchema>;

export const OperationRecordSchema = z.strictObject({
  operation: z.string(),
  at: z.string(),
  ok: z.boolean(),
  version: Timestamp.optional(),
  code: z.string().optional(),
});
export type OperationRecord = z.infer<typeof OperationRecordSchema>;

export const StatusResultSchema = z.strictObject({
  version: z.string(),
  pid: z.number().int(),
  socket: z.string(),
  startedAt: z.string(),
  uptimeMs: z.number().int().nonnegative(),
  locked: z.boolean(),
  unlocked: z.array(z.string()),
  vaults: z.array(z.strictObject({ repo: z.string(), env: z.string(), last: OperationRecordSchema })),
  watches: z.array(WatchEntrySchema),
});
export type StatusResult = z.infer<typeof StatusResultSchema>;

// ---- the NDJSON stream ----

export const StreamLineSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('progress'), event: ProgressEventSchema }),
  z.strictObject({ type: z.literal('result'), result: z.unknown() }),
  z.strictObject({ type: z.literal('error'), error: ErrorBodySchema.shape.error }),
]);
export type StreamLine = z.infer<typeof StreamLineSchema>;

// ---- the state file (written by the agent once it listens) ----

export const AgentStateSchema = z.strictObject({
  pid: z.number().int().positive(),
  socket: z.string(),
  version: z.string(),
  startedAt: z.string(),
});
export type AgentState = z.infer<typeof AgentStateSchema>;

// ---- backups ----

/** GET /v1/backups?cwd=…&env=…: this machine's backups of the repo's env (docs/BACKUPS.md). */
export const BackupsQuerySchema = z.strictObject({ cwd: Cwd, env: EnvName });
export type BackupsQuery = z.infer<typeof BackupsQuerySchema>;

export const BackupsResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  folder: z.string(),
  /** Newest first. */
  backups: z.array(z.strictObject({ ts: Timestamp, size: z.number().int().nonnegative(), path: z.string() })),
});
export type BackupsResult = z.infer<typeof BackupsResultSchema>;

/** POST /v1/backups/restore: put a backup back (`ts`, else the newest); a long operation (three steps). */
export const RestoreRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName, ts: Timestamp.optional() });
export type RestoreRequest = z.infer<typeof RestoreRequestSchema>;

export const RestoreResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  restored: Timestamp,
  from: z.string(),
  /** The backup of the folder as it was, when it held any file. */
  backup: z.string().optional(),
  folder: z.string(),
  /** The folder now differs from the version this checkout last synced. */
  unpushed: z.boolean(),
  synced: Timestamp.optional(),
});
export type RestoreResult = z.infer<typeof RestoreResultSchema>;

// ---- doctor ----

/** POST /v1/doctor: with `env`, that vault's config, key and store; without, the keychain alone. */
export const DoctorRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName.optional() });
export type DoctorRequest = z.infer<typeof DoctorRequestSchema>;

/** In the order they run. `agent` is the client's own: the agent's answer never holds it. */
export const DOCTOR_CHECKS = ['agent', 'config', 'keychain', 'git', 'store', 'clock', 'if-none-match', 'if-match'] as const;
export type DoctorCheckName = (typeof DOCTOR_CHECKS)[number];

/**
 * One check's outcome: `ok`, `warn` (works, but see the hint), `fail` (`code` is a registry code, whose exit
 * code `vsync doctor` exits with for the first failure), or `skip` (a check it depends on failed).
 */
export const DoctorCheckSchema = z.strictObject({
  name: z.enum(DOCTOR_CHECKS),
  status: z.enum(['ok', 'warn', 'fail', 'skip']),
  detail: z.string(),
  code: z.string().optional(),
  hint: z.string().optional(),
});
export type DoctorCheck = z.infer<typeof DoctorCheckSchema>;

export const DoctorResultSchema = z.strictObject({
  agent: z.strictObject({ version: z.string(), pid: z.number().int(), socket: z.string() }),
  repo: z.string().optional(),
  env: z.string().optional(),
  checks: z.array(DoctorCheckSchema),
});
export type DoctorResult = z.infer<typeof DoctorResultSchema>;

// ---- key export / import (bring a teammate in) ----

const AbsoluteFile = AbsolutePath;
// Checked fully by the agent (16 to 1024 characters once normalised, docs/FORMAT.md §12); this keeps
// obvious junk out.
const Passphrase = z.string().min(1).max(4096);

/**
 * POST /v1/key/export: the agent writes the share file itself at `out` (default `<cwd>/<repo>-<env>.share`),
 * so the key never crosses the socket. Without `passphrase` it makes one and answers it, once.
 */
export const KeyExportRequestSchema = z.strictObject({
  cwd: Cwd,
  env: EnvName,
  out: AbsoluteFile.optional(),
  passphrase: Passphrase.optional(),
});
export type KeyExportRequest = z.infer<typeof KeyExportRequestSchema>;

export const KeyExportResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  file: z.string(),
  /** Only when the agent made it. */
  passphrase: z.string().optional(),
});
export type KeyExportResult = z.infer<typeof KeyExportResultSchema>;

/** POST /v1/key/import: the vault is the one the share file names. */
export const KeyImportRequestSchema = z.strictObject({ cwd: Cwd, file: AbsoluteFile, passphrase: Passphrase });
export type KeyImportRequest = z.infer<typeof KeyImportRequestSchema>;

export const KeyImportResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  configFile: z.string(),
  store: z.string(),
  keychain: z.string(),
  /**
   * `added` now, or `present` already (the same key, the same config): importing twice is harmless; `replaced`
   * when the share carries the vault's later key after a rotation (the store's key history says so).
   */
  key: z.enum(['added', 'present', 'replaced']),
  config: z.enum(['added', 'present', 'replaced']),
  /** The repo `cwd` is a checkout of, when it is not the share's. */
  checkoutRepo: z.string().optional(),
});
export type KeyImportResult = z.infer<typeof KeyImportResultSchema>;

// ---- forget ----

export const ForgetRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName });
export type ForgetRequest = z.infer<typeof ForgetRequestSchema>;

export const ForgetResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  /** The config file removed, when there was one. */
  configFile: z.string().optional(),
  /** The keychain the key was removed from; absent when the key comes from VSYNC_KEY or there was none. */
  keychain: z.string().optional(),
  /**
   * The key's backup: a share file `vsync key import` takes back with `passphrase`, or (`key`) the bare key
   * text, when no config opens with it.
   */
  backup: z.strictObject({ file: z.string(), kind: z.enum(['share', 'key']), passphrase: z.string().optional() }).optional(),
});
export type ForgetResult = z.infer<typeof ForgetResultSchema>;

// ---- diff ----

/**
 * POST /v1/diff: with no `from`, the vault folder against the version this checkout last synced (the store's
 * latest when it synced none); with `from`, the folder against that version; with `from` and `to`, version
 * against version. `showValues` puts the values themselves in the answer (the client asks only for a terminal
 * or with --yes).
 */
export const DiffRequestSchema = z.strictObject({
  cwd: Cwd,
  env: EnvName,
  from: Timestamp.optional(),
  to: Timestamp.optional(),
  showValues: z.boolean().optional(),
});
export type DiffRequest = z.infer<typeof DiffRequestSchema>;

/** One side of a comparison: the vault folder here, a version, or nothing (a store never pushed to, a folder that is not there). */
export const DiffSideSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('folder'), folder: z.string(), exists: z.boolean() }),
  z.strictObject({ kind: z.literal('version'), ts: Timestamp }),
  z.strictObject({ kind: z.literal('none') }),
]);
export type DiffSide = z.infer<typeof DiffSideSchema>;

/** A value as a diff shows it: its length in characters and its keyed fingerprint (FORMAT.md §13); the value only when asked for. */
export const MaskedValueSchema = z.strictObject({
  length: z.number().int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{8}$/),
  value: z.string().optional(),
});
export type MaskedValue = z.infer<typeof MaskedValueSchema>;

const Change = z.enum(['added', 'removed', 'changed']);

export const KeyChangeSchema = z.strictObject({
  name: z.string(),
  change: Change,
  from: MaskedValueSchema.optional(),
  to: MaskedValueSchema.optional(),
});
export type KeyChange = z.infer<typeof KeyChangeSchema>;

/**
 * A file that differs, by its path in the vault folder: its sizes on either side; for a dotenv file
 * (`.env*`) that parses on both sides, `keys` lists the variables that differ (empty when only comments or
 * layout changed).
 */
export const FileChangeSchema = z.strictObject({
  path: z.string(),
  change: Change,
  fromBytes: z.number().int().nonnegative().optional(),
  toBytes: z.number().int().nonnegative().optional(),
  keys: z.array(KeyChangeSchema).optional(),
});
export type FileChange = z.infer<typeof FileChangeSchema>;

export const DiffResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  from: DiffSideSchema,
  to: DiffSideSchema,
  same: z.boolean(),
  files: z.array(FileChangeSchema),
});
export type DiffResult = z.infer<typeof DiffResultSchema>;

// ---- run ----

/**
 * POST /v1/env: the variables of one env file of the vault, for `vsync run` to start a command with. `file`
 * is its path in the vault folder (default `.env.<env>`). From the vault folder here; with `latest`, from the
 * store's latest version, decrypted in memory (never written to a disk), falling back to the folder when the
 * store cannot be reached only with `offlineOk`. The answer holds secrets: it goes to this user's client on
 * this user's socket and nowhere else, and the agent logs no body.
 */
export const EnvRequestSchema = z.strictObject({
  cwd: Cwd,
  env: EnvName,
  file: z
    .string()
    .min(1)
    .max(PATH_MAX_BYTES)
    .refine((f) => !/[\u0000-\u001f\u007f]/.test(f), 'must not hold control characters')
    .optional(),
  latest: z.boolean().optional(),
  offlineOk: z.boolean().optional(),
});
export type EnvRequest = z.infer<typeof EnvRequestSchema>;

export const EnvResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  /** The file's path in the vault folder. */
  file: z.string(),
  /** Where the values came from: the vault folder here, or a version. */
  source: z.enum(['folder', 'version']),
  version: Timestamp.optional(),
  /** Set when `latest` was asked for, the store could not be reached, and `offlineOk` took the folder instead. */
  offline: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  variables: z.record(z.string(), z.string()),
});
export type EnvResult = z.infer<typeof EnvResultSchema>;

// ---- log ----

/** GET /v1/log?cwd=…&env=…[&limit=N]: the newest `limit` versions (default 20, at most 1000), with who and what. */
export const LogQuerySchema = z.strictObject({
  cwd: Cwd,
  env: EnvName,
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
export type LogQuery = z.infer<typeof LogQuerySchema>;

/**
 * One version: who pushed it and from which machine (its log entry, docs/FORMAT.md §14), and what it changed
 * against the version before it (`changes`, values masked; `summary` in one line). `entry` says what its log
 * entry told: `ok`; `missing` (pushed by the upstream tool or an older vsync: who is unknown, what changed is
 * read from the version itself); `invalid` (not an entry vsync wrote for this version); `other-key` (under a
 * key this machine does not hold: neither who nor what can be read). `reencrypted`: a `key rotate` copy of that
 * version under the new key.
 */
export const LogEntrySchema = z.strictObject({
  ts: Timestamp,
  latest: z.boolean(),
  size: z.number().int().nonnegative(),
  entry: z.enum(['ok', 'missing', 'invalid', 'other-key']),
  by: z.string().optional(),
  machine: z.strictObject({ id: z.string(), name: z.string().optional() }).optional(),
  reencrypted: Timestamp.optional(),
  changes: z.array(FileChangeSchema).optional(),
  summary: z.string().optional(),
});
export type LogEntry = z.infer<typeof LogEntrySchema>;

export const LogResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  location: z.string(),
  latest: Timestamp.optional(),
  /** Newest first. */
  entries: z.array(LogEntrySchema),
  /** Older versions not shown (past `limit`). */
  more: z.number().int().nonnegative(),
});
export type LogResult = z.infer<typeof LogResultSchema>;

// ---- key rotate ----

/** POST /v1/key/rotate: a long operation (five steps; NDJSON progress as for push). */
export const KeyRotateRequestSchema = z.strictObject({ cwd: Cwd, env: EnvName });
export type KeyRotateRequest = z.infer<typeof KeyRotateRequestSchema>;

export const KeyRotateResultSchema = z.strictObject({
  repo: z.string(),
  env: z.string(),
  /** The new version: `from`'s contents under the new key; `latest` names it. */
  version: Timestamp,
  from: Timestamp,
  /** Where the new key is now (the keychain's name). */
  keychain: z.string(),
  /** How many keys the vault has had, this one included. */
  keys: z.number().int().min(2),
});
export type KeyRotateResult = z.infer<typeof KeyRotateResultSchema>;
