// vsync daemon install|uninstall [--dry-run]: hands the agent to this machine's service manager, or takes it
// back. On Linux both systemd user units are enabled: the socket, so that systemd holds the path and a
// client never finds it unanswered (it never starts an agent of its own beside the service's, and an agent
// stopped by hand comes back on the next command); and the service, so that the agent runs from login on
// and the vault folders it watches push on save before any command is typed. On macOS a launchd agent,
// which binds its socket itself. Steps are planned first (pure, tested as data), then run in order, each
// line printed before it runs; --dry-run prints them and runs only read-only probes.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VsyncError } from '../../shared/errors.js';
import type { Env } from '../../shared/paths.js';
import { socketPath } from '../../shared/socket-path.js';
import { AgentClient } from '../agent-client.js';
import { STATUS, probe } from '../autostart.js';
import type { Context } from '../context.js';
import { expectStatus } from '../result-shape.js';
import { stopAgent } from '../stop-agent.js';
import { LAUNCHD_LABEL, WRITTEN_BY, renderPlist, renderSystemdUnit } from './daemon-units.js';
import { onDemand } from '../on-demand.js';

export type Manager = 'systemd' | 'launchd';

export type Step =
  | { readonly kind: 'write'; readonly path: string; readonly content: string }
  | { readonly kind: 'remove'; readonly path: string }
  | { readonly kind: 'run'; readonly argv: readonly string[] }
  /** Stop the agent a vsync command started, so that the service can take its socket. */
  | { readonly kind: 'stop-agent'; readonly pid: number | undefined };

/** What the plans are made of: this machine's paths and the templates shipped beside this vsync. */
export interface Machine {
  readonly env: Env;
  readonly uid: number;
  readonly home: string;
  /** Absolute path of the node that runs vsync. */
  readonly node: string;
  /** Absolute path of the agent's entry, dist/daemon/main.js. */
  readonly vsyncd: string;
  /** A template's text, by its path in the package: 'systemd/vsyncd.service'. */
  template(path: string): string;
}

export interface Found {
  /** The service runs now (a reinstall): it is stopped so the new files take effect. */
  readonly serviceActive: boolean;
  /** An agent answers that the service did not start (a vsync command did): its pid if it said. */
  readonly agent: { readonly pid: number | undefined } | undefined;
}

const UNITS = ['vsyncd.service', 'vsyncd.socket'] as const;
/** How long an installed agent has to answer: Node's start-up on a busy machine, with room to spare. */
const ANSWER_TIMEOUT_MS = 15_000;

export function managerFor(platform: NodeJS.Platform): Manager | undefined {
  if (platform === 'linux') return 'systemd';
  if (platform === 'darwin') return 'launchd';
  return undefined;
}

/** `${XDG_CONFIG_HOME:-~/.config}/systemd/user`, where systemd looks for a user's own units. */
export function systemdUnitDir(machine: Pick<Machine, 'env' | 'home'>): string {
  const config =
    machine.env.XDG_CONFIG_HOME && isAbsolute(machine.env.XDG_CONFIG_HOME) ? machine.env.XDG_CONFIG_HOME : join(machine.home, '.config');
  return join(config, 'systemd', 'user');
}

export function launchdPlist(machine: Pick<Machine, 'home'>): string {
  return join(machine.home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}

export function launchdLog(machine: Pick<Machine, 'home'>): string {
  return join(machine.home, 'Library', 'Logs', 'vsyncd.log');
}

/** The files a manager's service is made of. */
export function serviceFiles(manager: Manager, machine: Pick<Machine, 'env' | 'home'>): string[] {
  return manager === 'systemd' ? UNITS.map((unit) => join(systemdUnitDir(machine), unit)) : [launchdPlist(machine)];
}

/** Where the service's agent listens. systemd's is the socket unit's `%t/vsync/vsyncd.sock`. */
export function serviceSocket(manager: Manager, machine: Pick<Machine, 'env'>): string {
  if (manager === 'launchd') return socketPath(machine.env);
  const runtime = machine.env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'vsync', 'vsyncd.sock') : '$XDG_RUNTIME_DIR/vsync/vsyncd.sock';
}

const systemctl = (...args: string[]) => ['systemctl', '--user', ...args];

export function installSteps(manager: Manager, machine: Machine, found: Found): Step[] {
  const paths = { node: machine.node, vsyncd: machine.vsyncd };
  const steps: Step[] = [];
  if (manager === 'systemd') {
    const dir = systemdUnitDir(machine);
    for (const unit of UNITS)
      steps.push({ kind: 'write', path: join(dir, unit), content: renderSystemdUnit(machine.template(`systemd/${unit}`), paths) });
    steps.push({ kind: 'run', argv: systemctl('daemon-reload') });
    if (found.serviceActive) steps.push({ kind: 'run', argv: systemctl('stop', ...UNITS) });
    else if (found.agent) steps.push({ kind: 'stop-agent', pid: found.agent.pid });
    steps.push({ kind: 'run', argv: systemctl('enable', '--now', 'vsyncd.socket', 'vsyncd.service') });
    return steps;
  }
  const plist = launchdPlist(machine);
  const content = renderPlist(machine.template(`launchd/${LAUNCHD_LABEL}.plist`), {
    ...paths,
    socket: socketPath(machine.env),
    log: launchdLog(machine),
  });
  steps.push({ kind: 'write', path: plist, content });
  if (found.serviceActive) steps.push({ kind: 'run', argv: ['launchctl', 'bootout', `gui/${machine.uid}/${LAUNCHD_LABEL}`] });
  else if (found.agent) steps.push({ kind: 'stop-agent', pid: found.agent.pid });
  steps.push({ kind: 'run', argv: ['launchctl', 'bootstrap', `gui/${machine.uid}`, plist] });
  return steps;
}

/** `present`: the service's files that are there (and vsync's); none means there is nothing to undo. */
export function uninstallSteps(manager: Manager, machine: Machine, present: readonly string[], serviceActive: boolean): Step[] {
  if (present.length === 0) return [];
  const removals: Step[] = present.map((path) => ({ kind: 'remove', path }));
  if (manager === 'systemd') {
    // Only the units whose files are there: systemctl refuses to disable a unit it cannot find.
    const units = UNITS.filter((unit) => present.includes(join(systemdUnitDir(machine), unit)));
    return [{ kind: 'run', argv: systemctl('disable', '--now', ...units) }, ...removals, { kind: 'run', argv: systemctl('daemon-reload') }];
  }
  const bootout: Step[] = serviceActive ? [{ kind: 'run', argv: ['launchctl', 'bootout', `gui/${machine.uid}/${LAUNCHD_LABEL}`] }] : [];
  return [...bootout, ...removals];
}

/** A command as a shell would take it back: plain words bare, others in single quotes. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((word) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export function stepLine(step: Step, dryRun: boolean): string {
  switch (step.kind) {
    case 'write':
      return dryRun ? `would write ${step.path}:` : `writing ${step.path}`;
    case 'remove':
      return `${dryRun ? 'would remove' : 'removing'} ${step.path}`;
    case 'run':
      return `${dryRun ? 'would run' : 'running'} ${shellLine(step.argv)}`;
    case 'stop-agent': {
      const pid = step.pid === undefined ? '' : ` (pid ${step.pid})`;
      return `${dryRun ? 'would stop' : 'stopping'} the agent vsync started${pid}, so that the service takes over its socket`;
    }
  }
}

function stepJson(step: Step, dryRun: boolean): object {
  switch (step.kind) {
    case 'write':
      return dryRun ? { write: step.path, content: step.content } : { write: step.path };
    case 'remove':
      return { remove: step.path };
    case 'run':
      return { run: step.argv };
    case 'stop-agent':
      return { stopAgent: step.pid ?? null };
  }
}

interface Ran {
  /** The exit status, or 'missing' when the program is not installed. */
  readonly code: number | 'missing';
  readonly stdout: string;
  readonly stderr: string;
}

function run(argv: readonly string[], env: Env): Promise<Ran> {
  const { execFile } = onDemand.childProcess();
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env: { ...env }, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      const code = (err as NodeJS.ErrnoException).code as unknown;
      if (code === 'ENOENT') return resolve({ code: 'missing', stdout: '', stderr: '' });
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr: stderr || err.message });
    });
  });
}

/** The last lines a program said, on one line: enough to act on, not a screenful. */
function said(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.length === 0 ? 'it said nothing' : lines.slice(-3).join(' / ');
}

/** Why no manager can be asked here, or undefined when one answers. Read-only. */
async function unreachable(manager: Manager, machine: Machine): Promise<string | undefined> {
  if (manager === 'systemd') {
    const ran = await run(systemctl('show', '--property=Version'), machine.env);
    if (ran.code === 'missing') return 'systemctl is not installed';
    if (ran.code !== 0) return `\`systemctl --user\` reaches no systemd user manager (${said(ran.stderr)})`;
    return undefined;
  }
  const ran = await run(['launchctl', 'print', `gui/${machine.uid}`], machine.env);
  if (ran.code === 'missing') return 'launchctl is not installed';
  if (ran.code !== 0) return `launchd has no GUI session for uid ${machine.uid} (${said(ran.stderr)})`;
  return undefined;
}

/** Whether the service runs now. Read-only. */
async function serviceActive(manager: Manager, machine: Machine): Promise<boolean> {
  const argv =
    manager === 'systemd' ? systemctl('is-active', '--quiet', ...UNITS) : ['launchctl', 'print', `gui/${machine.uid}/${LAUNCHD_LABEL}`];
  return (await run(argv, machine.env)).code === 0;
}

/** Whether a file vsync wrote is there; throws for a file it did not write, which it never replaces or removes. */
function ours(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new VsyncError('SERVICE_INSTALL_FAILED', `reading ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (text.includes(WRITTEN_BY)) return true;
  throw new VsyncError('SERVICE_INSTALL_FAILED', `${path} is there and was not written by vsync`, {
    hint: 'vsync never replaces or removes a file it did not write: move that one away, then run the command again',
  });
}

/** The folder holding this vsync's package.json and the templates: from dist/client/vsync.cjs (or the unbundled build), up. */
function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'systemd', 'vsyncd.service'))) return dir;
    if (dirname(dir) === dir)
      throw new VsyncError('INTERNAL', `the service templates (systemd/, launchd/) are in no folder above ${start}`);
  }
}

function thisMachine(env: Env): Machine {
  const root = packageRoot();
  const vsyncd = join(root, 'dist', 'daemon', 'main.js');
  if (!existsSync(vsyncd)) {
    throw new VsyncError('SERVICE_INSTALL_FAILED', `the agent's entry ${vsyncd} is missing`, {
      hint: 'build vsync first (`npm run build` in its checkout), then install again',
    });
  }
  return {
    env,
    uid: process.getuid?.() ?? 0,
    home: env.HOME || homedir(),
    node: process.execPath,
    vsyncd,
    template: (path) => readFileSync(join(root, path), 'utf8'),
  };
}

function writeFileWhole(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  // Renamed into place: the manager never reads half a unit. Hidden, so it never reads the temp file as one.
  const temp = join(dirname(path), `.${LAUNCHD_LABEL}-${process.pid}.tmp`);
  try {
    writeFileSync(temp, content, { mode: 0o644 });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

async function perform(step: Step, ctx: Context, env: Env): Promise<void> {
  const failed = (what: string, err: unknown) =>
    new VsyncError('SERVICE_INSTALL_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
  switch (step.kind) {
    case 'write':
      try {
        writeFileWhole(step.path, step.content);
      } catch (err) {
        throw failed(`writing ${step.path}`, err);
      }
      return;
    case 'remove':
      try {
        unlinkSync(step.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw failed(`removing ${step.path}`, err);
      }
      return;
    case 'run': {
      const ran = await run(step.argv, env);
      if (ran.code === 'missing') throw new VsyncError('SERVICE_INSTALL_FAILED', `${step.argv[0]} is not installed`);
      if (ran.code !== 0)
        throw new VsyncError('SERVICE_INSTALL_FAILED', `\`${shellLine(step.argv)}\` exited with ${ran.code} (${said(ran.stderr)})`);
      return;
    }
    case 'stop-agent':
      await stopAgent(ctx);
      return;
  }
}

/** The path systemd's socket unit listens on, as systemd says (%t resolved); undefined for launchd. */
async function listeningOn(manager: Manager, machine: Machine): Promise<string | undefined> {
  if (manager !== 'systemd') return undefined;
  const ran = await run(systemctl('show', '--property=Listen', '--value', 'vsyncd.socket'), machine.env);
  // "/run/user/1000/vsync/vsyncd.sock (Stream)"
  const listen = /^(\/.*) \(Stream\)$/.exec(ran.code === 0 ? ran.stdout.trim() : '');
  return listen?.[1];
}

/**
 * The pid of the agent the service runs, once it answers on `socket`. The manager reports a started job
 * even when the agent exits at once (a configuration error), so only an answer tells that it runs.
 */
async function serviceAnswers(manager: Manager, socket: string, env: Env): Promise<number> {
  const client = new AgentClient(socket, env);
  const deadline = Date.now() + ANSWER_TIMEOUT_MS;
  for (;;) {
    let why: string;
    try {
      return expectStatus(await client.call({ ...STATUS, timeoutMs: Math.max(1, deadline - Date.now()) })).pid;
    } catch (err) {
      why = (err as Error).message;
    }
    // launchd starts the agent, which binds its socket a moment later; under systemd a failing agent is retried.
    if (Date.now() >= deadline) {
      const logs =
        manager === 'systemd' ? '`systemctl --user status vsyncd` and `journalctl --user -u vsyncd`' : '~/Library/Logs/vsyncd.log';
      throw new VsyncError('SERVICE_INSTALL_FAILED', `the service is installed, but no agent answers on ${socket} (${why})`, {
        hint: `${logs} say why it does not start; fix that and run install again, or \`vsync daemon uninstall\``,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function daemonInstall(action: 'install' | 'uninstall', dryRun: boolean, ctx: Context): Promise<void> {
  const env = ctx.client.env;
  const manager = managerFor(process.platform);
  if (manager === undefined) throw new VsyncError('SERVICE_MANAGER_UNAVAILABLE', `${process.platform} has neither systemd nor launchd`);
  const machine = thisMachine(env);
  const why = await unreachable(manager, machine);
  if (why !== undefined) {
    if (!dryRun) throw new VsyncError('SERVICE_MANAGER_UNAVAILABLE', why);
    ctx.out.warning(`${why}: ${action} would stop here`);
  }
  const active = why === undefined && (await serviceActive(manager, machine));

  let steps: Step[];
  if (action === 'install') {
    let agent: Found['agent'];
    if (!active) {
      const found = await probe(ctx.client);
      if (found.answering) agent = { pid: found.status?.pid };
    }
    steps = installSteps(manager, machine, { serviceActive: active, agent });
    for (const step of steps) if (step.kind === 'write') ours(step.path);
  } else {
    steps = uninstallSteps(manager, machine, serviceFiles(manager, machine).filter(ours), active);
  }

  if (steps.length === 0) {
    if (ctx.json) return ctx.out.json({ action, manager, dryRun, steps: [] });
    return ctx.out.line(`vsyncd is not installed as a service (there is no ${serviceFiles(manager, machine).join(' or ')})`);
  }
  let socket = serviceSocket(manager, machine);
  if (action === 'install' && env.VSYNC_SOCKET && env.VSYNC_SOCKET !== socket && manager === 'systemd') {
    ctx.out.warning(
      `VSYNC_SOCKET is set to ${env.VSYNC_SOCKET} here, but the service listens at ${socket}: unset it, or vsync here will not find the service`,
    );
  }
  for (const [i, step] of steps.entries()) {
    if (!ctx.json) {
      ctx.out.line(`[${i + 1}/${steps.length}] ${stepLine(step, dryRun)}`);
      if (dryRun && step.kind === 'write')
        for (const line of step.content.replace(/\n$/, '').split('\n')) ctx.out.line(line === '' ? '' : `    ${line}`);
    }
    if (!dryRun) await perform(step, ctx, env);
  }
  let pid: number | undefined;
  if (action === 'install' && !dryRun) {
    socket = (await listeningOn(manager, machine)) ?? socket;
    pid = await serviceAnswers(manager, socket, env);
  }
  if (ctx.json) {
    const installed = action === 'install' ? { socket, ...(pid !== undefined ? { pid } : {}) } : {};
    return ctx.out.json({ action, manager, dryRun, ...installed, steps: steps.map((s) => stepJson(s, dryRun)) });
  }
  if (dryRun) return ctx.out.line('dry run: nothing was written, removed, run or stopped');
  if (action === 'uninstall') return ctx.out.line('✅ vsyncd no longer runs as a service; vsync starts the agent itself when needed');
  if (manager === 'systemd')
    return ctx.out.line(`✅ vsyncd runs as a systemd user service (pid ${pid}, socket ${socket}; logs: journalctl --user -u vsyncd)`);
  ctx.out.line(`✅ vsyncd runs as a launchd agent, ${LAUNCHD_LABEL} (pid ${pid}, socket ${socket}; log ${launchdLog(machine)})`);
}
