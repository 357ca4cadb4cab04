// vsync daemon start|stop|status: the agent's life cycle by hand. None of these starts an agent as a side
// effect except `start`, and `start` does so whatever VSYNC_NO_AUTOSTART says: it was asked for. install and
// uninstall (daemon-install.ts) hand the agent to the service manager and take it back.
import { registry } from '../../shared/errors.js';
import { isNoAgent } from '../agent-client.js';
import { STATUS, startAgent } from '../autostart.js';
import { defineCommand, usage } from '../command.js';
import type { Context } from '../context.js';
import { expectStatus } from '../result-shape.js';
import { SHUTDOWN, stopAgent } from '../stop-agent.js';
import { daemonInstall } from './daemon-install.js';

const ACTIONS = [
  { name: 'start', help: 'start the agent in the background unless one is running' },
  { name: 'stop', help: 'ask the agent to finish what it is doing and exit' },
  {
    name: 'restart',
    help: `stop the agent, then start it with this shell's environment (after an export of
AWS_* or VSYNC_KEY: AGENT_ENVIRONMENT_CHANGED says when that is needed)`,
  },
  { name: 'status', help: 'say whether the agent is running (exit code 8 when it is not)' },
  {
    name: 'install',
    help: `run the agent as a service from login on: on Linux a systemd user unit and its socket
(~/.config/systemd/user/vsyncd.service, vsyncd.socket), enabled and started; on macOS
a launchd agent (~/Library/LaunchAgents/tools.vsync.vsyncd.plist), bootstrapped`,
  },
  { name: 'uninstall', help: 'stop the service and remove those files; vsync starts the agent itself again' },
] as const;
export type DaemonAction = (typeof ACTIONS)[number]['name'];

/** `dryRun` only with install and uninstall. */
export interface Daemon {
  readonly name: 'daemon';
  readonly action: DaemonAction;
  readonly dryRun?: boolean;
}

export const daemonCommand = defineCommand<Daemon>({
  name: 'daemon',
  summary: [
    ['daemon start|stop|restart|status', 'manage the agent (vsyncd)'],
    ['daemon install|uninstall', 'run the agent as a service from login on (systemd, launchd), or no more'],
  ],
  usage: ['vsync daemon start|stop|restart|status', 'vsync daemon install|uninstall [--dry-run]'],
  positionals: [`<${ACTIONS.map((a) => a.name).join('|')}>`],
  actions: ACTIONS,
  options: [{ name: 'dry-run', help: 'print what install or uninstall would write, remove and run; change nothing' }],
  routes: [STATUS, SHUTDOWN],
  build({ positionals: [word], flags }) {
    // The parser checked the word against ACTIONS.
    const action = word as DaemonAction;
    if (action === 'install' || action === 'uninstall') return { name: 'daemon', action, dryRun: flags.has('dry-run') };
    if (flags.has('dry-run')) throw usage('--dry-run goes with install or uninstall', 'daemon');
    return { name: 'daemon', action };
  },
  run: daemon,
});

async function daemon(command: Daemon, ctx: Context): Promise<void> {
  switch (command.action) {
    case 'start':
      return start(ctx);
    case 'stop':
      return stop(ctx);
    case 'restart':
      return restart(ctx);
    case 'status':
      return status(ctx);
    case 'install':
    case 'uninstall':
      return daemonInstall(command.action, command.dryRun === true, ctx);
  }
}

/** The running agent's pid, or the one of the agent started because none answered. */
async function answeringOrStarted(ctx: Context): Promise<{ pid: number; started: boolean }> {
  try {
    // Bounded: a stuck agent must not hang `daemon start`. Under socket activation, this is what starts it.
    return { pid: expectStatus(await ctx.client.call({ ...STATUS, timeoutMs: 5_000 })).pid, started: false };
  } catch (err) {
    if (!isNoAgent(err)) throw err;
    return { pid: (await startAgent(ctx.client)).pid, started: true };
  }
}

async function start(ctx: Context): Promise<void> {
  const { pid, started } = await answeringOrStarted(ctx);
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

/** stop, then start: under socket activation the status probe that start sends is what starts it again. */
async function restart(ctx: Context): Promise<void> {
  const stopped = await stopAgent(ctx);
  const { pid } = await answeringOrStarted(ctx);
  if (ctx.json) return ctx.out.json({ running: true, restarted: stopped, pid, socket: ctx.client.socket });
  ctx.out.line(stopped ? `vsyncd restarted (pid ${pid})` : `vsyncd was not running; started (pid ${pid})`);
}

async function status(ctx: Context): Promise<void> {
  try {
    const s = expectStatus(await ctx.client.call(STATUS));
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
