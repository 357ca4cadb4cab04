// The user never has to start the agent: when no agent answers, the client starts one in the background
// and asks again, once (never in a loop: an agent that cannot start says why in its log, and that is what
// the user sees).
//
// Several commands can find no agent at the same moment (a script, an editor and a shell at log-in), and
// each starts one. The agents settle it among themselves (the lock beside the socket): one serves, the
// others exit with AGENT_ALREADY_RUNNING at once. A client whose agent lost that race waits for the winner,
// however long a busy machine makes it take to start, rather than giving up; the time limit only guards
// against an agent that hangs.
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

/** A guard against an agent that hangs while starting, not a measure of how long starting takes. */
const START_TIMEOUT_MS = 30_000;
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
    return { pid, ended: () => ended, exited };
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

/**
 * Starts `vsyncd` and waits until an agent answers: the one it started, or the one that won the race against
 * it. Never into a socket folder that is not this user's alone (AGENT_SOCKET_UNSAFE, nothing started).
 */
export async function startAgent(client: AgentClient): Promise<StatusResult> {
  checkSocket(client.socket);
  const folder = dirname(client.socket);
  const deadline = Date.now() + START_TIMEOUT_MS;
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
      throw agentUnreachable(
        client.socket,
        `vsyncd (pid ${agent.pid ?? '?'}) was started but no agent answered within ${START_TIMEOUT_MS / 1000} s`,
        client.env,
      );
    }
    await change.promise;
  }
}
