// Agents a test starts must not outlive it, however it ends. Two nets:
// - a process the test spawns itself runs under `setpriv --pdeathsig SIGKILL`, so the kernel kills it when the
//   test process dies, even by tap's SIGKILL after a timeout;
// - an agent the real CLI autostarted (detached, not our child) is noted by pid from its state file and killed
//   when the test process exits (tap's timeout ends the process through its exit path first).
// scripts/test.sh kills, by pid, whatever is still running from this checkout after tap, and says so.
import { existsSync, readFileSync } from 'node:fs';
import { agentStateFile, socketPath } from '../../shared/socket-path.js';

const pids = new Set<number>();

process.on('exit', () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Kills `pid` when this test process exits, if it is still running then. */
export function reapOnExit(pid: number | undefined): void {
  if (pid !== undefined && pid > 1) pids.add(pid);
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

/** [command, args] that run `command args…` killed with SIGKILL when this test process dies (Linux). */
export function tiedToTest(command: string, args: readonly string[]): [string, string[]] {
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args]] : [command, [...args]];
}
