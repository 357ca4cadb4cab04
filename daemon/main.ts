#!/usr/bin/env node
// `vsyncd`: the per-user agent. The one place that knows every adapter: it picks the keychain and the
// stores, wires them into the vault domain, and puts the API on the socket.
import { z } from 'zod';
import { VsyncError, isVsyncError } from '../shared/errors.js';
import { reportError } from '../shared/error-output.js';
import { socketPath } from '../shared/socket-path.js';
import { describeIssues } from '../shared/validation.js';
import { VERSION } from '../shared/version.js';
import { EnvKeychain } from './keychain/env-keychain.js';
import type { Keychain } from './keychain/keychain.js';
import { OsKeychain } from './keychain/os-keychain.js';
import { DirStorage } from './storage/dir-storage.js';
import { RetryingStorage } from './storage/retrying-storage.js';
import { S3Storage } from './storage/s3-storage.js';
import type { Storage } from './storage/storage.js';
import type { Config } from './vault/config.js';
import { DEFAULT_KEY_IDLE_MS, KeyRing } from './vault/key-ring.js';
import { VaultService } from './vault/vault-service.js';
import { buildApp } from './server/app.js';
import { claimSocket, listenOnSocket, prepareSocketFolder, removeAgentState, writeAgentState } from './server/lifecycle.js';

const USAGE = `usage: vsyncd [--version | --help]

The vsync agent: holds unlocked keys, serves the API on a Unix socket.
Environment:
  VSYNC_SOCKET              socket path (default $XDG_RUNTIME_DIR/vsync/vsyncd.sock)
  VSYNC_IDLE_TTL_SECONDS    drop a key unused this long (default 28800 = 8 h)
  VSYNC_SHUTDOWN_SECONDS    how long operations in flight may finish at SIGTERM (default 10)
  VSYNC_KEY, VSYNC_KEY_<REPO>_<ENV>
                            keys from the environment instead of the OS keychain (headless machines)
`;

const Settings = z.object({
  VSYNC_IDLE_TTL_SECONDS: z.coerce.number().int().positive().optional(),
  VSYNC_SHUTDOWN_SECONDS: z.coerce.number().positive().optional(),
});

function keychainFor(env: NodeJS.ProcessEnv): Keychain {
  // Any VSYNC_KEY variable means a headless machine: keys come from the environment and nowhere else.
  return Object.keys(env).some((k) => k === 'VSYNC_KEY' || k.startsWith('VSYNC_KEY_'))
    ? new EnvKeychain(env)
    : new OsKeychain();
}

/** One store per distinct setting, reused across operations (S3 clients keep their connections warm). */
function storageFactory(): (config: Config) => Storage {
  const stores = new Map<string, Storage>();
  return (config) => {
    const id = JSON.stringify(config.s3 ?? config.store);
    let store = stores.get(id);
    if (!store) {
      const adapter = config.s3
        ? new S3Storage({ bucket: config.s3.bucket, region: config.s3.region, endpoint: config.s3.endpoint, prefix: config.s3.prefix, forcePathStyle: config.s3.forcePathStyle })
        : new DirStorage(config.store!.root);
      store = new RetryingStorage(adapter);
      stores.set(id, store);
    }
    return store;
  };
}

async function main(): Promise<void> {
  const settingsParsed = Settings.safeParse(process.env);
  if (!settingsParsed.success) throw new VsyncError('USAGE', describeIssues(settingsParsed.error), { hint: 'run `vsyncd --help` for the environment variables' });
  const settings = settingsParsed.data;
  const socket = socketPath(process.env);
  const keychain = keychainFor(process.env);
  const keys = new KeyRing(keychain, (settings.VSYNC_IDLE_TTL_SECONDS ?? DEFAULT_KEY_IDLE_MS / 1000) * 1000);
  const service = new VaultService({ storageFor: storageFactory(), keychain, keys, environment: process.env, now: () => new Date() });
  const startedAt = new Date();

  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      app.log.info(`stopping (${why})`);
      const deadline = (settings.VSYNC_SHUTDOWN_SECONDS ?? 10) * 1000;
      const timer = setTimeout(() => {
        app.log.warn('operations still running at the shutdown deadline; exiting anyway');
        void removeAgentState(socket, process.pid).finally(() => process.exit(1));
      }, deadline);
      await app.close(); // stops accepting; resolves when requests in flight are answered
      clearTimeout(timer);
      keys.lock();
      await removeAgentState(socket, process.pid);
    })();
    return stopping;
  };

  const app = buildApp({ service, keys, socket, startedAt, onShutdown: () => void stop('shutdown requested'), logger: true });
  await prepareSocketFolder(socket);
  await claimSocket(socket);
  await listenOnSocket(app, socket);
  await writeAgentState({ pid: process.pid, socket, version: VERSION, startedAt: startedAt.toISOString() });
  app.log.info(`vsyncd ${VERSION} listening on ${socket} (keys from ${keychain.name})`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop(signal));
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
    reportError('vsyncd', isVsyncError(err) ? err : new VsyncError('INTERNAL', String(err), { cause: err }));
  });
}
