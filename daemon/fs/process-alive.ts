// Whether a process runs: how a leftover of a killed process (a temp file, a work folder, named after its
// pid) is told from one a running process still uses.
import { isErrno } from './errno.js';

/** Whether a process with this pid runs (one that reused the pid counts too: its leftover waits for later). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM'); // alive, another user's
  }
}
