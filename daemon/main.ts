#!/usr/bin/env node
// `vsyncd`: the per-user agent. The one place that wires the adapters (chosen in adapters.ts) into the
// vault domain and puts the API on the socket.
import './memory/young-generation.js'; // first: before the modules below allocate
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { VsyncError } from '../shared/errors.js';
import { reportError } from '../shared/error-output.js';
import { agentLockFile, socketPath } from '../shared/socket-path.js';
import { describeIssues } from '../shared/validation.js';
import { VERSION } from '../shared/version.js';
import { keychainFor, storageFactory } from './adapters.js';
import { CAP_SETTINGS, type BundleLimits } from './bundle/limits.js';
import { capSetting } from './vault/config.js';
import type { RetryPolicy } from './storage/retrying-storage.js';
import { LockFile } from './fs/lock-file.js';
import { DEFAULT_KEY_IDLE_MS, KeyRing } from './vault/key-ring.js';
import { EventHub } from './vault/event-hub.js';
import { VaultService } from './vault/vault-service.js';
import { localAuthor } from './vault/authorship.js';
import { ROTATION_STEPS, type RotationCheckpoint, type RotationStep } from './vault/key-rotate.js';
import { MaxVersionBytesSetting } from './vault/version-cap.js';
import { repairCheckouts } from './vault/startup-repair.js';
import { DEFAULT_WATCH_SETTINGS, type WatchSettings } from './watch/vault-watch.js';
import { watchListFile } from './watch/watch-list.js';
import { Watches } from './watch/watches.js';
import { buildApp } from './server/app.js';
import { environmentFingerprint } from '../shared/environment-fingerprint.js';
import type { ServerLimits } from './server/server-limits.js';
import {
  checkInheritedSocket,
  claimSocket,
  listenOnSocket,
  prepareSocketFolder,
  removeAgentState,
  writeAgentState,
} from './server/lifecycle.js';
import { listenOnInheritedSocket, takeListenFds } from './server/listen-fds.js';
import { toVsyncError } from '../shared/error-conversion.js';
import { traceToFile } from './trace/trace-file.js';
import { collectWhenIdle } from './memory/idle-collector.js';
import { fullCollection } from './memory/v8-heap.js';

const USAGE = `usage: vsyncd [--version | --help]

The vsync agent: holds unlocked keys, serves the API on a Unix socket.
Environment:
  VSYNC_SOCKET              socket path (default $XDG_RUNTIME_DIR/vsync/vsyncd.sock)
  VSYNC_IDLE_TTL_SECONDS    drop a key unused this long (default 28800 = 8 h)
  VSYNC_SHUTDOWN_SECONDS    how long operations in flight may finish at SIGTERM (default 10)
  VSYNC_WATCH_DEBOUNCE_MS   push on save once a watched folder has been quiet this long (default 500)
  VSYNC_FOLLOW_SECONDS      how often \`vsync watch --follow\` reads the remote pointer (default 30)
  VSYNC_RETRY_SECONDS       first wait before retrying a push on save the store refused for now (default 2;
                            doubling, at most 300)
  VSYNC_STORAGE_TIMEOUT_SECONDS
                            every store call, its retries included, ends within this (default 60); a store
                            that does not answer fails the operation with STORAGE_TRANSIENT
  VSYNC_REQUEST_TIMEOUT_SECONDS
                            a request's headers and body must arrive within this (default 30; answers,
                            such as a long push, are never timed)
  VSYNC_CONNECTION_IDLE_SECONDS
                            close a connection with no request in flight after this (default 60)
  VSYNC_MAX_CONNECTIONS     open connections at most; at the cap the oldest idle one is closed (default 1024)
  VSYNC_EVENT_BUFFER_KIB    drop an event stream whose reader is this far behind (default 1024)
  VSYNC_MAX_VERSION_BYTES   refuse to download a version larger than this (default 268435456 = 256 MiB)
  VSYNC_MAX_BUNDLE_ENTRIES, VSYNC_MAX_FILE_BYTES, VSYNC_MAX_BUNDLE_BYTES
                            the caps on what a vault folder may hold: files (default 1000), bytes a file
                            (default 16777216 = 16 MiB), bytes in all (default 67108864 = 64 MiB); a vault
                            config's "limits" overrides them for that vault
  VSYNC_KEY, VSYNC_KEY_<REPO>_<ENV>
                            keys from the environment instead of the OS keychain (headless machines)
  VSYNC_LOG_HOSTNAME=0      leave this machine's hostname out of the log entry each push writes (who
                            pushed: git user.email, else the user name; the machine: a random id)
  VSYNC_TEST_ROTATION_HOLD  tests only: a key rotation waits after this step (pending-saved, …), said on
                            stderr, until the agent is killed or gets SIGUSR2
  VSYNC_TEST_START_HOLD=1   tests only: the agent says so in its log and waits (10 min at most) before it
                            takes the lock and listens: an agent that never answers
  VSYNC_TRACE_FILE          append how long each part of every operation took (store requests, zipping,
                            local state, …) to this file, one JSON line each: for measuring, not everyday use
  LISTEN_PID, LISTEN_FDS    socket activation (sd_listen_fds): serve the socket passed as fd 3, bound at
                            the path above, instead of binding one

Exits 3 when its configuration keeps it from starting (settings, socket folder, socket path).
`;

const Settings = z.object({
  VSYNC_IDLE_TTL_SECONDS: z.coerce.number().int().positive().optional(),
  VSYNC_SHUTDOWN_SECONDS: z.coerce.number().positive().optional(),
  VSYNC_WATCH_DEBOUNCE_MS: z.coerce.number().int().nonnegative().max(600_000).optional(),
  VSYNC_FOLLOW_SECONDS: z.coerce.number().min(0.05).max(86_400).optional(),
  VSYNC_RETRY_SECONDS: z.coerce.number().min(0.01).max(300).optional(),
  VSYNC_STORAGE_TIMEOUT_SECONDS: z.coerce.number().min(0.5).max(3_600).optional(),
  VSYNC_REQUEST_TIMEOUT_SECONDS: z.coerce.number().min(0.05).max(3600).optional(),
  VSYNC_CONNECTION_IDLE_SECONDS: z.coerce.number().min(0.05).max(86_400).optional(),
  VSYNC_MAX_CONNECTIONS: z.coerce.number().int().min(4).max(65_536).optional(),
  VSYNC_EVENT_BUFFER_KIB: z.coerce.number().int().min(16).max(1_048_576).optional(),
  VSYNC_MAX_VERSION_BYTES: MaxVersionBytesSetting.optional(),
  [CAP_SETTINGS.maxEntries]: z.coerce.number().pipe(capSetting).optional(),
  [CAP_SETTINGS.maxEntryBytes]: z.coerce.number().pipe(capSetting).optional(),
  [CAP_SETTINGS.maxTotalBytes]: z.coerce.number().pipe(capSetting).optional(),
  VSYNC_TRACE_FILE: z.string().refine(isAbsolute, 'must be an absolute path').optional(),
  VSYNC_LOG_HOSTNAME: z.enum(['0', '1'], { error: 'must be 0 or 1' }).optional(),
  VSYNC_TEST_ROTATION_HOLD: z.enum(ROTATION_STEPS).optional(),
  VSYNC_TEST_START_HOLD: z.enum(['0', '1']).optional(),
});

/** Started by systemd (INVOCATION_ID, set for every unit) or launchd (XPC_SERVICE_NAME), not by a shell. */
function serviceManaged(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.INVOCATION_ID) || Boolean(env.XPC_SERVICE_NAME && env.XPC_SERVICE_NAME !== '0');
}

/** The bundle caps the environment sets (limits.ts has the defaults, a vault config may override them). */
function bundleLimits(settings: z.infer<typeof Settings>): Partial<BundleLimits> {
  const limits: { -readonly [cap in keyof BundleLimits]?: number } = {};
  for (const cap of Object.keys(CAP_SETTINGS) as Array<keyof BundleLimits>) {
    const value = settings[CAP_SETTINGS[cap]];
    if (value !== undefined) limits[cap] = value;
  }
  return limits;
}

/** The server's limits from the settings (the defaults are in server/server-limits.ts). */
function serverLimits(settings: z.infer<typeof Settings>): Partial<ServerLimits> {
  return {
    ...(settings.VSYNC_REQUEST_TIMEOUT_SECONDS !== undefined ? { requestTimeoutMs: settings.VSYNC_REQUEST_TIMEOUT_SECONDS * 1000 } : {}),
    ...(settings.VSYNC_CONNECTION_IDLE_SECONDS !== undefined ? { idleConnectionMs: settings.VSYNC_CONNECTION_IDLE_SECONDS * 1000 } : {}),
    ...(settings.VSYNC_MAX_CONNECTIONS !== undefined ? { maxConnections: settings.VSYNC_MAX_CONNECTIONS } : {}),
    ...(settings.VSYNC_EVENT_BUFFER_KIB !== undefined ? { eventBufferBytes: settings.VSYNC_EVENT_BUFFER_KIB * 1024 } : {}),
  };
}

/** VSYNC_TRACE_FILE: a file that cannot be opened is a setting the agent cannot use, said before it starts. */
function traceSpans(path: string): void {
  try {
    traceToFile(path);
  } catch (err) {
    throw new VsyncError('AGENT_SETTINGS_INVALID', `VSYNC_TRACE_FILE: cannot open ${path} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/**
 * VSYNC_TEST_ROTATION_HOLD: a rotation that reaches `step` says so and waits, to be killed there, or let go on
 * by SIGUSR2 (a test makes a teammate push meanwhile).
 */
function holdAfter(step: RotationStep): RotationCheckpoint {
  return async (after) => {
    if (after !== step) return;
    const released = new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
    process.stderr.write(`vsyncd: key rotation held after ${step} (VSYNC_TEST_ROTATION_HOLD)\n`);
    await released;
  };
}

/** Whether `work` settled within `ms` (its outcome is not looked at: closing reports its own failures). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  // First: the variables are removed here, before any git process the agent starts could inherit them.
  const inherited = takeListenFds(process.env, process.pid);
  const settingsParsed = Settings.safeParse(process.env);
  if (!settingsParsed.success) throw new VsyncError('AGENT_SETTINGS_INVALID', describeIssues(settingsParsed.error));
  const settings = settingsParsed.data;
  if (settings.VSYNC_TRACE_FILE !== undefined) traceSpans(settings.VSYNC_TRACE_FILE);
  collectWhenIdle(fullCollection());
  const socket = socketPath(process.env);
  const keychain = keychainFor(process.env);
  const keys = new KeyRing(keychain, (settings.VSYNC_IDLE_TTL_SECONDS ?? DEFAULT_KEY_IDLE_MS / 1000) * 1000);
  const events = new EventHub();
  const service = new VaultService(
    {
      storageFor: storageFactory(storageRetry()),
      keychain,
      keys,
      environment: process.env,
      now: () => new Date(),
      // Read before a pull swaps a folder: an agent whose lock is gone may already have a successor.
      stillServing: () => agentLock.stillHeld(),
      ...(settings.VSYNC_MAX_VERSION_BYTES !== undefined ? { maxVersionBytes: settings.VSYNC_MAX_VERSION_BYTES } : {}),
      bundleLimits: bundleLimits(settings),
      author: localAuthor(process.env, { hostname: settings.VSYNC_LOG_HOSTNAME !== '0' }),
      ...(settings.VSYNC_TEST_ROTATION_HOLD !== undefined ? { rotationCheckpoint: holdAfter(settings.VSYNC_TEST_ROTATION_HOLD) } : {}),
    },
    { events, automaticKeys: keys.automatic() },
  );
  const watchSettings: WatchSettings = {
    ...DEFAULT_WATCH_SETTINGS,
    ...(settings.VSYNC_WATCH_DEBOUNCE_MS !== undefined ? { debounceMs: settings.VSYNC_WATCH_DEBOUNCE_MS } : {}),
    ...(settings.VSYNC_FOLLOW_SECONDS !== undefined ? { followEveryMs: settings.VSYNC_FOLLOW_SECONDS * 1000 } : {}),
    ...(settings.VSYNC_RETRY_SECONDS !== undefined ? { retryBaseMs: settings.VSYNC_RETRY_SECONDS * 1000 } : {}),
  };
  const watches = new Watches({
    service,
    events,
    keys,
    settings: watchSettings,
    listFile: watchListFile(process.env),
    log: (message) => app.log.warn(message),
  });
  const startedAt = new Date();

  /** Each retry goes to the log and the event stream: a user watching `vsync events` sees why a push is slow. */
  function storageRetry(): Partial<RetryPolicy> {
    return {
      ...(settings.VSYNC_STORAGE_TIMEOUT_SECONDS !== undefined ? { budgetMs: settings.VSYNC_STORAGE_TIMEOUT_SECONDS * 1000 } : {}),
      onRetry: (what, attempt, error) => {
        const code = toVsyncError(error).code;
        app.log.warn(`${what}: attempt ${attempt} failed (${code}: ${error.message}); trying again`);
        events.emit({ type: 'storage-retry', what, attempt, code, message: error.message });
      },
    };
  }

  let stopping: Promise<void> | undefined;
  // A request can arrive as soon as the socket listens, before the state file is written; a stop it asks
  // for waits for the announcement, so it never removes the file before it exists.
  let markAnnounced: () => void = () => undefined;
  const announced = new Promise<void>((resolve) => (markAnnounced = resolve));
  let released: () => Promise<void> = async () => undefined;
  // Stopping: operations in flight may finish within VSYNC_SHUTDOWN_SECONDS. Shortly before it passes, every
  // one still running is abandoned (its store call aborted, no later step taken: AGENT_SHUTTING_DOWN), their
  // callers get that answer, and the agent lets go of its socket and lock and exits. Nothing it started
  // completes afterwards: an abandoned pull checks its signal and this agent's lock before it swaps.
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      await announced;
      app.log.info(`stopping (${why})`);
      const boundMs = (settings.VSYNC_SHUTDOWN_SECONDS ?? 10) * 1000;
      // Time for the abandoned operations to answer their callers, taken from the bound, not added to it.
      const graceMs = Math.min(1_000, boundMs / 10);
      const closed = (async () => {
        await watches.close(); // a push on save already running finishes; none starts after this
        await app.close(); // stops accepting; resolves when requests in flight are answered
      })();
      const finished = await within(closed, boundMs - graceMs);
      const abandoned = new VsyncError(
        'AGENT_SHUTTING_DOWN',
        `vsyncd stopped (${why}) before this operation finished (VSYNC_SHUTDOWN_SECONDS=${boundMs / 1000})`,
      );
      service.abandonAll(abandoned); // after a clean close nothing runs: this only refuses what might come
      if (!finished) {
        app.log.warn(`operations still running ${(boundMs - graceMs) / 1000} s after the stop; abandoned them`);
        await within(closed, graceMs);
      }
      keys.lock();
      await removeAgentState(socket, process.pid);
      await released();
      // A store call or a file system that ignores the abort may still hold the event loop: never wait for it.
      if (!finished) process.exit(1);
    })();
    return stopping;
  };

  const limits = serverLimits(settings);
  const app = buildApp({
    service,
    keys,
    watches,
    events,
    socket,
    startedAt,
    onShutdown: () => void stop('shutdown requested'),
    logger: true,
    limits,
    // A service manager's agent has the manager's environment, not a shell's: held to the folders alone.
    environment: { fingerprint: environmentFingerprint(process.env), credentials: !serviceManaged(process.env) },
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop(signal));
  await prepareSocketFolder(socket);
  if (settings.VSYNC_TEST_START_HOLD === '1') {
    // Before the lock, so an agent killed here leaves nothing behind; bounded, so a test that leaks one does not leave it for good.
    app.log.warn('holding before taking the lock and listening (VSYNC_TEST_START_HOLD)');
    await new Promise((resolve) => setTimeout(resolve, 600_000));
  }
  // Held for the agent's life: of two agents started at once (two commands autostarting after a crash),
  // one gets it and the other stops here, so they cannot both clear and take the socket.
  const agentLock = new LockFile(agentLockFile(socket), {
    waitMs: 0,
    busy: (detail, hint) => new VsyncError('AGENT_ALREADY_RUNNING', detail, { hint }),
  });
  await agentLock.acquire();
  released = () => agentLock.release();
  await repairCheckouts(process.env, app.log); // under the lock, before listening: no command sees a folder mid-repair
  try {
    if (inherited === undefined) {
      await claimSocket(socket);
      await listenOnSocket(app, socket);
    } else {
      // Socket activation: the path belongs to the service manager, which neither claiming nor binding may touch.
      await checkInheritedSocket(socket);
      await listenOnInheritedSocket(app, inherited, socket);
    }
  } catch (err) {
    await released();
    throw err;
  }
  await writeAgentState({ pid: process.pid, socket, version: VERSION, startedAt: startedAt.toISOString() });
  markAnnounced();
  const handedOver = inherited === undefined ? '' : `, fd ${inherited} from the service manager`;
  app.log.info(`vsyncd ${VERSION} listening on ${socket}${handedOver} (keys from ${keychain.name})`);
  await watches.restore().catch((err: unknown) => app.log.error(`watching nothing: ${(err as Error).message}`));
}

const [first] = process.argv.slice(2);
if (first === '--version' || first === '-V') {
  process.stdout.write(`vsyncd ${VERSION}\n`);
} else if (first === '--help' || first === '-h') {
  process.stdout.write(USAGE);
} else if (first !== undefined) {
  reportError('vsyncd', new VsyncError('USAGE', `unknown option ${JSON.stringify(first)}`, { hint: 'run `vsyncd --help`' }));
} else {
  main().catch((err: unknown) => {
    reportError(
      'vsyncd',
      toVsyncError(err, (bug) => console.error(bug)),
    );
  });
}
