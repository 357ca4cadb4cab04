// The user never has to start the agent: when no agent answers, the client starts one in the background
// and asks again, once (never in a loop: an agent that cannot start says why in its log, and that is what
// the user sees).
//
// Several commands can find no agent at the same moment (a script, an editor and a shell at log-in), and
// each starts one. The agents settle it among themselves (the lock beside the socket): one serves, the
// others exit with AGENT_ALREADY_RUNNING at once. A client whose agent lost that race waits for the winner,
// however long a busy machine makes it take to start, rather than giving up; the time limit only guards
// against an agent that hangs.
//
// A start that takes a while says so on stderr (never stdout: a script reads that). An agent this client
// spawned that has not answered when the time is up is stopped, so the user is never told "unreachable" about
// an agent left running in the background, which would then hold the socket's lock and keep the next start
// waiting for it too.
import { closeSync, mkdirSync, openSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ENVIRONMENT } from '../shared/agent-environment.js';
import type { StatusResult } from '../shared/api.js';
import { VsyncError, exitCodes } from '../shared/errors.js';
import { checkSocket } from '../shared/socket-folder.js';
import { agentLockFile, agentLogFile } from '../shared/socket-path.js';
import { type AgentClient, AgentTimeout, isNoAgent, type AgentRequest } from './agent-client.js';
import { route } from './command.js';
import { agentUnreachable } from './agent-log.js';
import { onDemand } from './on-demand.js';
import { expectStatus } from './result-shape.js';

/** The agent's status: what every probe asks for, and what `vsync status` prints. */
export const STATUS = route('GET', '/v1/status');

/** How long a start may take, and what the client says and does meanwhile. */
export interface StartTiming {
  /** A guard against an agent that hangs while starting, not a measure of how long starting takes. */
  readonly timeoutMs: number;
  /** Once this long has passed without an answer, one line on stderr says that the agent is starting. */
  readonly noticeMs: number;
  /** How long a spawned agent that never answered has between SIGTERM and SIGKILL. */
  readonly killGraceMs: number;
}

export const START_TIMING: StartTiming = { timeoutMs: 15_000, noticeMs: 2_000, killGraceMs: 1_000 };

/** How long a spawned agent sent SIGKILL may take to be gone. */
const KILLED_EXIT_MS = 10_000;

/** The line a start that takes a while prints on stderr. */
export const STARTING_NOTICE = 'vsync: starting the agent…';

/**
 * START_TIMING, but for VSYNC_TEST_START_TIMEOUT_MS (tests only, undocumented for users): the time limit in
 * ms, so that a test of an agent that never answers need not wait 15 s (test/integration/first-hour-cli.test.ts).
 */
export function startTiming(env: AgentClient['env']): StartTiming {
  const ms = Number(env.VSYNC_TEST_START_TIMEOUT_MS);
  return Number.isSafeInteger(ms) && ms > 0 ? { ...START_TIMING, timeoutMs: ms } : START_TIMING;
}

/** How often to look again when the socket's folder reports no change (or cannot be watched yet). */
const RECHECK_MS = 250;
const PROBE_TIMEOUT_MS = 1000;
const START_PROBE_TIMEOUT_MS = 5000;
/** Agents one start may spawn: a second and third only when the agent that won the race is gone without answering. */
const MAX_SPAWNS = 3;

/** `VSYNC_NO_AUTOSTART=1` (any value but empty or 0): for service-managed agents and for tests. */
export function autostartDisabled(env: AgentClient['env']): boolean {
  const value = env.VSYNC_NO_AUTOSTART;
  return value !== undefined && value !== '' && value !== '0';
}

/** The request again, once, after starting an agent (unless autostart is off): for when the first try found none. */
export async function retryAfterStart(client: AgentClient, req: AgentRequest): Promise<unknown> {
  if (autostartDisabled(client.env)) throw agentUnreachable(client.socket, 'none is running, and VSYNC_NO_AUTOSTART is set', client.env);
  await startAgent(client);
  try {
    return await client.call(req);
  } catch (err) {
    if (isNoAgent(err)) throw agentUnreachable(client.socket, 'the agent vsync started stopped answering', client.env);
    throw err;
  }
}

export interface Probe {
  /** Something accepted the connection (even if it answered with an error, or not in time). */
  readonly answering: boolean;
  /** Present when the agent answered GET /v1/status. */
  readonly status?: StatusResult;
}

/** Is an agent there, and what does it say about itself? Never starts one. */
export async function probe(client: AgentClient, timeoutMs = PROBE_TIMEOUT_MS): Promise<Probe> {
  try {
    return { answering: true, status: expectStatus(await client.call({ ...STATUS, timeoutMs })) };
  } catch (err) {
    if (isNoAgent(err)) return { answering: false };
    // Not ours to ask at all: said as it is, not taken for an agent that answered.
    if (err instanceof VsyncError && err.code === 'AGENT_SOCKET_UNSAFE') throw err;
    // An agent that is shutting down, or too busy to answer in time, still holds the socket.
    if (err instanceof AgentTimeout) return { answering: true };
    if (err instanceof VsyncError && err.code !== 'AGENT_UNREACHABLE') return { answering: true };
    return { answering: false };
  }
}

/** How an agent this client spawned ended, once it has. */
interface Ended {
  readonly why: string;
  /** It found another agent holding the socket (AGENT_ALREADY_RUNNING): that one is to be waited for. */
  readonly lostRace: boolean;
}

interface Spawned {
  readonly pid: number | undefined;
  ended(): Ended | undefined;
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL once graceMs passed; says how it went, for the error. */
  stop(graceMs: number): Promise<string>;
}

/** Whether `work` settled within `ms`. */
async function within(work: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `vsyncd` detached, its output appended to its log. */
function spawnAgent(client: AgentClient): Spawned {
  const { spawn } = onDemand.childProcess();
  const log = agentLogFile(client.env);
  mkdirSync(dirname(log), { recursive: true, mode: 0o700 });
  const fd = openSync(log, 'a', 0o600);
  // The agent's built entry sits beside the client's in dist/.
  const main = fileURLToPath(new URL('../daemon/main.js', import.meta.url));
  let ended: Ended | undefined;
  let markExited: () => void = () => undefined;
  const exited = new Promise<void>((resolve) => (markExited = resolve));
  try {
    const child = spawn(process.execPath, [main], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...AGENT_ENVIRONMENT, ...client.env },
    });
    const pid = child.pid;
    child.on('error', (err) => {
      ended = { why: `could not start ${main}: ${err.message}`, lostRace: false };
      markExited();
    });
    child.on('exit', (code, signal) => {
      ended = { why: `vsyncd (pid ${pid}) exited with ${signal ?? `code ${code}`} before answering`, lostRace: code === exitCodes.agent };
      markExited();
    });
    child.unref();
    // By the child's handle, which Node keeps only until it has reaped the process: the pid signalled is
    // still the agent spawned here, never a process that got its number since.
    const signal = (name: NodeJS.Signals) =>
      ended === undefined && child.exitCode === null && child.signalCode === null && child.kill(name);
    const stop = async (graceMs: number): Promise<string> => {
      if (!signal('SIGTERM')) return 'it had exited';
      if (await within(exited, graceMs)) return 'vsync stopped it (SIGTERM)';
      if (!signal('SIGKILL')) return 'vsync stopped it (SIGTERM)';
      const grace = `SIGTERM had not stopped it within ${seconds(graceMs)}`;
      // SIGKILL cannot be ignored: waiting for the exit (and the reaping) is waiting for a busy machine, never for the agent.
      if (await within(exited, KILLED_EXIT_MS)) return `vsync killed it (SIGKILL: ${grace})`;
      return `vsync sent it SIGKILL (${grace}), and it had not exited ${seconds(KILLED_EXIT_MS)} later`;
    };
    return { pid, ended: () => ended, exited, stop };
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether the agent holding the lock beside the socket (daemon/fs/lock-file.ts: `<host> <pid> <nonce>`) is a
 * live process: the one that won a start-up race, still starting.
 */
function lockHolderAlive(socket: string): boolean {
  let text: string;
  try {
    text = readFileSync(agentLockFile(socket), 'utf8');
  } catch {
    return false;
  }
  const [host, pidText] = text.split(' ');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isSafeInteger(pid) || pid <= 0) return true; // not ours to judge: wait
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves at the next change in the socket's folder (the socket bound, the state file written), when the
 * spawned agent exits, or after RECHECK_MS: what the next probe may find different. Made before the probe
 * it follows, so a change during that probe is not missed.
 */
function nextChange(folder: string, agent: Spawned): { promise: Promise<void>; cancel(): void } {
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settle: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    settle = () => {
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
  });
  timer = setTimeout(settle, RECHECK_MS);
  try {
    watcher = watch(folder, { persistent: false }, settle);
    watcher.on('error', settle);
  } catch {
    // No folder yet (the agent creates it): the timer alone.
  }
  // Once it has exited (lost the race), only the folder and the timer: else this would wake at once, always.
  if (agent.ended() === undefined) void agent.exited.then(settle);
  return { promise, cancel: settle };
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * Starts `vsyncd` and waits until an agent answers: the one it started, or the one that won the race against
 * it. Never into a socket folder that is not this user's alone (AGENT_SOCKET_UNSAFE, nothing started).
 * Once `timing.noticeMs` passed without an answer, `say` gets STARTING_NOTICE (once); when `timing.timeoutMs`
 * passes, the agent it spawned, if still running, is stopped and the error says so.
 */
export async function startAgent(
  client: AgentClient,
  timing: StartTiming = startTiming(client.env),
  say: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
): Promise<StatusResult> {
  checkSocket(client.socket);
  const started = Date.now();
  let noticed = false;
  const notice = () => {
    if (noticed) return;
    noticed = true;
    say(STARTING_NOTICE);
  };
  const noticeTimer = setTimeout(notice, timing.noticeMs);
  try {
    return await waitForAgent(client, started + timing.timeoutMs, timing, () => {
      // A loop too busy for the timer to have fired still owes the line before the error it is about to see.
      if (Date.now() - started >= timing.noticeMs) notice();
    });
  } finally {
    clearTimeout(noticeTimer);
  }
}

async function waitForAgent(client: AgentClient, deadline: number, timing: StartTiming, timedOut: () => void): Promise<StatusResult> {
  const folder = dirname(client.socket);
  let agent = spawnAgent(client);
  let spawns = 1;
  for (;;) {
    const change = nextChange(folder, agent);
    // Read before probing: an agent that exited because another answers is found by this very probe.
    const gone = agent.ended();
    let found: Probe;
    try {
      // Patient: an agent just started on a busy machine may take seconds to answer its first request.
      found = await probe(client, Math.max(PROBE_TIMEOUT_MS, Math.min(START_PROBE_TIMEOUT_MS, deadline - Date.now())));
    } catch (err) {
      change.cancel();
      throw err;
    }
    if (found.status) {
      change.cancel();
      return found.status;
    }
    if (gone !== undefined) {
      if (!gone.lostRace) {
        change.cancel();
        throw agentUnreachable(client.socket, gone.why, client.env);
      }
      // It lost to an agent still starting: wait for that one. If that one is gone too, without answering,
      // start another (a few times at most: each one that fails says why in the log).
      if (!lockHolderAlive(client.socket)) {
        change.cancel();
        if (spawns >= MAX_SPAWNS) throw agentUnreachable(client.socket, `${gone.why}, and the agent it gave way to is gone`, client.env);
        agent = spawnAgent(client);
        spawns++;
        continue;
      }
    }
    if (Date.now() >= deadline) {
      change.cancel();
      timedOut();
      const limit = seconds(timing.timeoutMs);
      const pid = `vsyncd (pid ${agent.pid ?? '?'})`;
      // One that lost the race has exited; the agent it gave way to is not this client's to stop.
      const why =
        agent.ended() === undefined
          ? `${pid} was started but did not answer within ${limit}; ${await agent.stop(timing.killGraceMs)}`
          : `${pid} gave way to the agent holding the lock, which did not answer within ${limit}`;
      throw agentUnreachable(client.socket, why, client.env);
    }
    await change.promise;
  }
}
