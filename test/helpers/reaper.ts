// What a test starts or makes must not outlive it, however it ends. The nets, from the inside out:
// - a process the test spawns itself runs under `setpriv --pdeathsig`, so the kernel signals it when the test
//   process dies, even by SIGKILL (tiedToTest): an agent gets SIGKILL, a systemd user manager SIGTERM (it then
//   stops its units and exits);
// - what a helper registers here (reapOnExit: pids; removeOnExit: temp folders; onReap: anything else, such
//   as stopping a user manager) is reaped when the test process ends: at 'exit' (a normal end, a failed
//   assertion, process.exit), and on SIGTERM, SIGINT, SIGHUP and SIGALRM, which otherwise kill Node without
//   its 'exit' event. tap 21 ends a file that ran out of time with SIGALRM (its IPC "timeout" message makes
//   the file SIGALRM itself, and the runner sends SIGALRM 0.5 s later, SIGKILL 0.5 s after that); after
//   reaping, the signal is raised again, so tap's own handlers report the timeout and the process still dies
//   of the signal;
// - scripts/test.sh runs tap with TMPDIR in a folder of its own, and after tap kills the agents of this
//   checkout and the user managers still running, and removes what is left in that TMPDIR, naming each, so
//   the leak gets fixed. Only a SIGKILL (tap's last resort) should leave it anything to do.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentStateFile, socketPath } from '../../shared/socket-path.js';

// pid → its start time when registered (field 22 of /proc/<pid>/stat), so that a pid the kernel has handed to
// another process since (pid_max is 32768 on CI's machines, and a run starts more processes than that) is left
// alone: only the process that was registered is killed.
const pids = new Map<number, string | undefined>();
const folders = new Set<string>();
const actions = new Set<() => void>();

/** Kills the registered pids, runs the registered actions, removes the registered folders; synchronous. */
function reap(): void {
  const procfs = existsSync('/proc/self/stat');
  for (const [pid, started] of pids) {
    if (procfs && (started === undefined || startTime(pid) !== started)) continue; // gone, or another process now
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pids.clear();
  for (const action of actions) {
    try {
      action();
    } catch {
      // best effort: the process is ending
    }
  }
  actions.clear();
  for (const folder of folders) {
    try {
      rmSync(folder, { recursive: true, force: true });
    } catch {
      // best effort: scripts/test.sh sweeps what is left
    }
  }
  folders.clear();
}

process.on('exit', reap);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGALRM'] as const) {
  const onSignal = (): void => {
    reap();
    // Raised again without this listener: tap's handlers (signal-exit) see it as they would have, or, with
    // none, Node's default ends the process by the signal.
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}

/** The start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Kills `pid` when this test process ends, if that process (not another one given its pid since) still runs then. */
export function reapOnExit(pid: number | undefined): void {
  if (pid !== undefined && pid > 1) pids.set(pid, startTime(pid));
}

/** Removes `folder` (recursively) when this test process ends; removing it sooner is fine. Returns `folder`. */
export function removeOnExit(folder: string): string {
  folders.add(folder);
  return folder;
}

/** A fresh folder `$TMPDIR/<prefix>XXXXXX`, removed when this test process ends (if not sooner). */
export function tempFolder(prefix: string): string {
  return removeOnExit(mkdtempSync(join(tmpdir(), prefix)));
}

/**
 * Runs `action` (synchronous, quick: the process is ending) when this test process ends; the returned function
 * unregisters it, for a caller that has already done the work.
 */
export function onReap(action: () => void): () => void {
  actions.add(action);
  return () => actions.delete(action);
}

/** Whether `pid` is still running: not gone, nor a zombie (an orphan's PID 1 in a container may never reap it). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    if (existsSync('/proc/self/stat')) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Waits, synchronously (for the ending process), up to `ms` for `pid` to stop running; whether it did. */
export function awaitGoneSync(pid: number, ms: number): boolean {
  const deadline = Date.now() + ms;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (running(pid)) {
    if (Date.now() > deadline) return false;
    Atomics.wait(cell, 0, 0, 10);
  }
  return true;
}

/** Notes the agent serving the socket that `env` names (the one the CLI may have autostarted), if any. */
export function reapAgentOf(env: Record<string, string | undefined>): void {
  try {
    const file = agentStateFile(socketPath(env));
    if (existsSync(file)) reapOnExit((JSON.parse(readFileSync(file, 'utf8')) as { pid?: number }).pid);
  } catch {
    // no state file, or one being rewritten: nothing to note
  }
}

/**
 * [command, args] that run `command args…` sent `signal` (SIGKILL unless told) by the kernel when this test
 * process dies, however it dies (Linux, with setpriv; elsewhere the command as it is).
 */
export function tiedToTest(command: string, args: readonly string[], signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): [string, string[]] {
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', signal, '--', command, ...args]] : [command, [...args]];
}
