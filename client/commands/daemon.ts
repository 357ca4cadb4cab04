// vsync daemon start|stop|status: the agent's life cycle by hand. None of these starts an agent as a side
// effect except `start`, and `start` does so whatever VSYNC_NO_AUTOSTART says: it was asked for. install and
// uninstall (daemon-install.ts) hand the agent to the service manager and take it back.
import { VsyncError, registry } from '../../shared/errors.js';
import { isNoAgent } from '../agent-client.js';
import type { Command } from '../args.js';
import { probe, startAgent } from '../autostart.js';
import type { Context } from '../context.js';
import { expectStatus } from '../result-shape.js';

const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 50;

export async function daemon(command: Extract<Command, { name: 'daemon' }>, ctx: Context): Promise<void> {
  switch (command.action) {
    case 'start':
      return start(ctx);
    case 'stop':
      return stop(ctx);
    case 'status':
      return status(ctx);
    case 'install':
    case 'uninstall':
      // Loaded only here: it needs node:child_process, which costs every other command start-up time.
      return (await import('./daemon-install.js')).daemonInstall(command.action, command.dryRun === true, ctx);
  }
}

async function start(ctx: Context): Promise<void> {
  let started = false;
  let pid: number;
  try {
    // Bounded: a stuck agent must not hang `daemon start`.
    pid = expectStatus(await ctx.client.call({ method: 'GET', path: '/v1/status', timeoutMs: 5_000 })).pid;
  } catch (err) {
    if (!isNoAgent(err)) throw err;
    pid = (await startAgent(ctx.client)).pid;
    started = true;
  }
  if (ctx.json) return ctx.out.json({ running: true, started, pid, socket: ctx.client.socket });
  ctx.out.line(started ? `vsyncd started (pid ${pid})` : `vsyncd already running (pid ${pid})`);
}

async function stop(ctx: Context): Promise<void> {
  const stopped = await stopAgent(ctx);
  if (!stopped) {
    if (ctx.json) return ctx.out.json({ running: false, stopped: false });
    return ctx.out.line('vsyncd is not running');
  }
  if (ctx.json) return ctx.out.json({ running: false, stopped: true });
  ctx.out.line('vsyncd stopped');
}

/** Asks the agent to stop and waits until it is gone; false when none was running. */
export async function stopAgent(ctx: Context): Promise<boolean> {
  const before = await probe(ctx.client);
  if (!before.answering) return false;
  try {
    await ctx.client.call({ method: 'POST', path: '/v1/shutdown', body: {} });
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
      throw new VsyncError('AGENT_SHUTTING_DOWN', `vsyncd${pid === undefined ? '' : ` (pid ${pid})`} is still running ${STOP_TIMEOUT_MS / 1000} s after being asked to stop`, {
        hint: 'it finishes the operations in flight first; run `vsync daemon status` in a moment, or end the process by its pid',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

async function status(ctx: Context): Promise<void> {
  try {
    const s = expectStatus(await ctx.client.call({ method: 'GET', path: '/v1/status' }));
    if (ctx.json) return ctx.out.json({ running: true, pid: s.pid, socket: s.socket, version: s.version });
    ctx.out.line(`vsyncd running (pid ${s.pid}, socket ${s.socket})`);
  } catch (err) {
    if (!isNoAgent(err)) throw err;
    // Not an error to print, but an answer a script can branch on.
    process.exitCode = registry.AGENT_UNREACHABLE.exit;
    if (ctx.json) return ctx.out.json({ running: false });
    ctx.out.line('vsyncd is not running');
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
