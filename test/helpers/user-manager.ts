// A systemd user manager of the test's own (`systemd --user`), so that `vsync daemon install` can be run
// for real: units loaded, enabled, socket-activated, restarted. systemd refuses a user instance on a
// machine that did not boot with it (it looks for /run/systemd/system), as in a container; so the manager
// runs in a private mount namespace where a tmpfs over /run/systemd holds that folder, seen by it alone.
// It needs root (for the namespace and the mount). Its HOME and XDG_RUNTIME_DIR are the test's folders, and
// systemctl reaches it from outside the namespace through $XDG_RUNTIME_DIR/systemd/private.
// It must not outlive the test (test/helpers/reaper.ts): it runs under `setpriv --pdeathsig SIGTERM`, so that
// when the test process dies, however it dies, the kernel asks it to stop (a user manager given SIGTERM starts
// exit.target: it stops its units, the agent among them, and exits), and the test process sends that SIGTERM
// itself when it ends without stop(). scripts/test.sh stops, and names, any manager still running after tap
// (it finds them by their XDG_RUNTIME_DIR, under that run's TMPDIR).
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PATIENCE_MS } from './patience.js';
import { awaitGoneSync, onReap, tiedToTest } from './reaper.js';

const SYSTEMD = '/usr/lib/systemd/systemd';

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface UserManager {
  /** HOME and XDG_RUNTIME_DIR as the manager has them: give these to systemctl and to vsync. */
  readonly env: Record<string, string>;
  /** The manager's pid (`systemd --user`). */
  readonly pid: number | undefined;
  systemctl(...args: string[]): Promise<Ran>;
  /** A unit property (`systemctl --user show -P`). */
  property(unit: string, name: string): Promise<string>;
  stop(): Promise<void>;
}

function run(command: string, args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: PATIENCE_MS }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Why a manager cannot run here, or undefined when it may. */
export function userManagerUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'starting a systemd user manager in a private mount namespace needs root';
  if (!existsSync(SYSTEMD)) return `${SYSTEMD} is missing (apt-get install systemd)`;
  return undefined;
}

/** Starts the manager and waits until it has started up; throws with its output when it does not. */
export async function startUserManager(home: string, runtime: string): Promise<UserManager> {
  const env = { HOME: home, XDG_RUNTIME_DIR: runtime };
  // mkdir -p: a container that never ran systemd may have no /run/systemd; the empty folder it leaves
  // outside the namespace is harmless (only /run/systemd/system means "booted with systemd").
  const script = 'mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec "$0" --user';
  const [command, args] = tiedToTest('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script, SYSTEMD], 'SIGTERM');
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Ending without stop(): SIGTERM, and a short wait, so that the folders the reaper removes next are not
  // written to again by a manager still stopping. (setpriv, unshare and sh each exec the next: child.pid is
  // the manager's pid.)
  const forget = onReap(() => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    process.kill(child.pid, 'SIGTERM');
    awaitGoneSync(child.pid, 1000);
  });
  void exited.then(forget);
  child.on('error', (err) => (out += `\n${err.message}`));

  const systemctl = (...args: string[]) => run('systemctl', ['--user', ...args], env);
  const manager: UserManager = {
    env,
    pid: child.pid,
    systemctl,
    property: async (unit, name) => (await systemctl('show', '-P', name, unit)).stdout.trim(),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await systemctl('stop', 'vsyncd.socket', 'vsyncd.service');
      child.kill('SIGTERM'); // a user manager stops its units and exits
      const killer = setTimeout(() => child.kill('SIGKILL'), PATIENCE_MS);
      await exited;
      clearTimeout(killer);
    },
  };
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const state = (await systemctl('show', '-P', 'SystemState')).stdout.trim();
    if (state === 'running' || state === 'degraded') return manager;
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await manager.stop();
      throw new Error(`the systemd user manager did not start (state ${JSON.stringify(state)}):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
