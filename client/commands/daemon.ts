// vsync daemon start|stop|status: the agent's life cycle by hand. None of these starts an agent as a side
// effect except `start`, and `start` does so whatever VSYNC_NO_AUTOSTART says: it was asked for. install and
// uninstall (daemon-install.ts) hand the agent to the service manager and take it back.
import { registry } from '../../shared/errors.js';
import { isNoAgent } from '../agent-client.js';
import type { Command } from '../args.js';
import { startAgent } from '../autostart.js';
import type { Context } from '../context.js';
import { expectStatus } from '../result-shape.js';
import { stopAgent } from '../stop-agent.js';
import { daemonInstall } from './daemon-install.js';

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
      return daemonInstall(command.action, command.dryRun === true, ctx);
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
