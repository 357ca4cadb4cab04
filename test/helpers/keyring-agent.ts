// A real vsyncd with a real Secret Service of its own: scripts/with-keyring.sh starts a private session
// D-Bus and an unlocked gnome-keyring for it alone, so a second "machine" in a test has its own OS keychain,
// apart from the one scripts/test.sh started for the rest of the run. Stopped through POST /v1/shutdown: the
// script then stops its keyring and bus and removes their temp folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { call } from './agent.js';
import { built, childEnv, projectRoot } from './built.js';
import { reapAgentOf, tiedToTest } from './reaper.js';
import { PATIENCE_MS } from './patience.js';

export interface KeyringAgent {
  readonly socket: string;
  readonly child: ChildProcess;
  /** The agent's and the keyring script's stdout and stderr, interleaved. */
  output(): string;
  stop(): Promise<void>;
}

/** Whether this machine can start a private gnome-keyring (the packages scripts/with-keyring.sh needs). */
export function canStartKeyring(): boolean {
  try {
    for (const tool of ['dbus-run-session', 'gnome-keyring-daemon', 'secret-tool'])
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function startKeyringAgent(home: string, socket: string): Promise<KeyringAgent> {
  mkdirSync(home, { recursive: true });
  const [command, args] = tiedToTest('bash', [
    join(projectRoot, 'scripts', 'with-keyring.sh'),
    process.execPath,
    fileURLToPath(built('daemon/main')),
  ]);
  const child = spawn(command, args, {
    env: childEnv({ HOME: home, VSYNC_SOCKET: socket }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // A guard against a hang, not a speed target.
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const ok = await call(socket, 'GET', '/v1/status').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) {
      reapAgentOf({ VSYNC_SOCKET: socket });
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`vsyncd in its own keyring did not start:\n${out}`);
    await sleep(50);
  }
  return {
    socket,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      await call(socket, 'POST', '/v1/shutdown', {}).catch(() => child.kill());
      await exited;
    },
  };
}
