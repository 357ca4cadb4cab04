// Stopping the agent by hand and waiting until it is gone: `vsync daemon stop`, and install/uninstall when
// they hand the agent over to the service manager or take it back.
import { VsyncError } from '../shared/errors.js';
import { isNoAgent } from './agent-client.js';
import { probe } from './autostart.js';
import { route } from './command.js';
import type { Context } from './context.js';

// The agent lets operations in flight finish for up to VSYNC_SHUTDOWN_SECONDS (10 by default) before it
// exits; this waits for that, with room for a busy machine.
const STOP_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

export const SHUTDOWN = route('POST', '/v1/shutdown');

/** Asks the agent to stop and waits until it is gone; false when none was running. */
export async function stopAgent(ctx: Context): Promise<boolean> {
  const before = await probe(ctx.client);
  if (!before.answering) return false;
  try {
    await ctx.client.call({ ...SHUTDOWN, body: {} });
  } catch (err) {
    // Already going, or gone before it could answer: either way there is only the wait left.
    const going = isNoAgent(err) || (err instanceof VsyncError && (err.code === 'AGENT_SHUTTING_DOWN' || err.code === 'AGENT_UNREACHABLE'));
    if (!going) throw err;
  }
  // Wait for the process, not only the socket: an old agent still finishing must not be mistaken for gone
  // by a `vsync daemon start` that follows at once. And only for the process when its pid is known: under
  // socket activation (vsync daemon install) a probe of the socket would start the next agent, and wait
  // for that one too.
  const pid = before.status?.pid;
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (pid !== undefined ? alive(pid) : (await probe(ctx.client)).answering) {
    if (Date.now() >= deadline) {
      throw new VsyncError(
        'AGENT_SHUTTING_DOWN',
        `vsyncd${pid === undefined ? '' : ` (pid ${pid})`} is still running ${STOP_TIMEOUT_MS / 1000} s after being asked to stop`,
        {
          hint: 'it finishes the operations in flight first; run `vsync daemon status` in a moment, or end the process by its pid',
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
