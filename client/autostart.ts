// The user never has to start the agent: when no agent answers, the client starts one in the background
// and asks again, once (never in a loop: an agent that cannot start says why in its log, and that is what
// the user sees).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StatusResult } from '../shared/api.js';
import { VsyncError } from '../shared/errors.js';
import { agentLogFile } from '../shared/socket-path.js';
import { AgentClient, AgentTimeout, isNoAgent, type AgentRequest } from './agent-client.js';
import { agentUnreachable } from './agent-log.js';
import { expectStatus } from './result-shape.js';

// A guard against an agent that hangs at start-up, not a speed target: a loaded machine can take many seconds
// to start node.
const START_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
const PROBE_TIMEOUT_MS = 1000;

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
export async function probe(client: AgentClient): Promise<Probe> {
  try {
    return { answering: true, status: expectStatus(await client.call({ method: 'GET', path: '/v1/status', timeoutMs: PROBE_TIMEOUT_MS })) };
  } catch (err) {
    if (isNoAgent(err)) return { answering: false };
    // An agent that is shutting down, or too busy to answer in time, still holds the socket.
    if (err instanceof AgentTimeout) return { answering: true };
    if (err instanceof VsyncError && err.code !== 'AGENT_UNREACHABLE') return { answering: true };
    return { answering: false };
  }
}

/**
 * Starts `vsyncd` detached, its output appended to its log, and waits until it answers. An agent that
 * finds another already serving the socket exits at once; the probe then finds that other one.
 */
export async function startAgent(client: AgentClient): Promise<StatusResult> {
  const log = agentLogFile(client.env);
  mkdirSync(dirname(log), { recursive: true, mode: 0o700 });
  const fd = openSync(log, 'a', 0o600);
  // The agent's built entry sits beside the client's in dist/.
  const main = fileURLToPath(new URL('../daemon/main.js', import.meta.url));
  let ended: string | undefined;
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [main], { detached: true, stdio: ['ignore', fd, fd], env: { ...client.env } });
    pid = child.pid;
    child.on('error', (err) => (ended = `could not start ${main}: ${err.message}`));
    child.on('exit', (code, signal) => (ended = `vsyncd (pid ${pid}) exited with ${signal ?? `code ${code}`} before answering`));
    child.unref();
  } finally {
    closeSync(fd);
  }

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    // Read before probing: an agent that exited because another answers is found by this very probe.
    const gone = ended;
    const found = await probe(client);
    if (found.status) return found.status;
    if (gone !== undefined) throw agentUnreachable(client.socket, gone, client.env);
    if (Date.now() >= deadline) {
      throw agentUnreachable(client.socket, `vsyncd (pid ${pid ?? '?'}) was started but did not answer within ${START_TIMEOUT_MS / 1000} s`, client.env);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
