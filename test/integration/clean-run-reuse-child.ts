// Run by clean-run.test.ts as a process of a private pid namespace (unshare --pid): it registers a process with
// the reaper, ends that process, and has the kernel give its pid to a new one (ns_last_pid, root only); then it
// exits, and the reaper runs. Prints `pids {"registered": N, "reused": N}`; the new process must outlive it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { reapOnExit } from '../helpers/reaper.js';

const registered = spawn('sleep', ['600'], { stdio: 'ignore' });
reapOnExit(registered.pid);
registered.kill('SIGKILL');
await once(registered, 'exit');

// The next pid is ns_last_pid + 1, unless a thread of this process takes it first: then try again.
let reused: number | undefined;
for (let attempt = 0; attempt < 20 && reused === undefined; attempt++) {
  writeFileSync('/proc/sys/kernel/ns_last_pid', String(registered.pid! - 1));
  const other = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
  other.unref();
  if (other.pid === registered.pid) reused = other.pid;
  else other.kill('SIGKILL');
}
console.log(`pids ${JSON.stringify({ registered: registered.pid, reused })}`);
