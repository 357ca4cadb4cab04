// Putting the app on its socket and taking it off again, as the trusted daemons do: refuse a socket
// folder others can reach; refuse to start beside a live agent but clear a dead one's socket; announce
// ourselves (the state file) only once listening; on SIGTERM/SIGINT let operations in flight finish, up
// to a deadline; remove the state file only if it is still ours.
import { connect } from 'node:net';
import { chmod, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AgentStateSchema, type AgentState } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { MAX_SOCKET_PATH_BYTES, agentStateFile } from '../../shared/socket-path.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';

/** Creates the socket folder 0700 if missing; refuses one that is not ours alone. */
export async function prepareSocketFolder(socket: string): Promise<void> {
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw new VsyncError('AGENT_SOCKET_PATH_TOO_LONG', `${socket} is ${Buffer.byteLength(socket)} bytes (VSYNC_SOCKET)`);
  }
  const folder = dirname(socket);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const info = await lstat(folder);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new VsyncError('AGENT_SOCKET_UNSAFE', `${folder} is ${info.isDirectory() ? 'a folder' : 'not a folder'} owned by uid ${info.uid} with mode ${mode}`);
  }
}

/** Whether something answers on the socket: a live agent. */
export function socketAnswers(socket: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socket);
    const done = (alive: boolean) => {
      probe.destroy();
      resolve(alive);
    };
    probe.setTimeout(timeoutMs, () => done(true)); // connected-but-silent still means someone holds it
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
  });
}

/** Refuses to start beside a live agent; removes the socket a dead one left. */
export async function claimSocket(socket: string): Promise<void> {
  const info = await lstat(socket).catch(() => undefined);
  if (!info) return;
  if (!info.isSocket()) throw new VsyncError('AGENT_SOCKET_UNSAFE', `${socket} exists and is not a socket`);
  if (await socketAnswers(socket)) throw new VsyncError('AGENT_ALREADY_RUNNING', socket);
  await unlink(socket).catch((err) => {
    if (!isErrno(err, 'ENOENT')) throw err;
  });
}

export async function listenOnSocket(app: FastifyInstance, socket: string): Promise<void> {
  try {
    await app.listen({ path: socket });
  } catch (err) {
    // Two agents started at once both found no socket; the second to bind loses here.
    if (isErrno(err, 'EADDRINUSE')) throw new VsyncError('AGENT_ALREADY_RUNNING', socket, { cause: err });
    throw err;
  }
  await chmod(socket, 0o600);
}

export async function writeAgentState(state: AgentState): Promise<void> {
  await writeFileAtomic(agentStateFile(state.socket), `${JSON.stringify(state)}\n`, 0o600);
}

export async function readAgentState(socket: string): Promise<AgentState | undefined> {
  try {
    const parsed = AgentStateSchema.safeParse(JSON.parse(await readFile(agentStateFile(socket), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the state file only if it names this process: a newer agent's file is not ours to remove. */
export async function removeAgentState(socket: string, pid: number): Promise<void> {
  if ((await readAgentState(socket))?.pid === pid) await unlink(agentStateFile(socket)).catch(() => undefined);
}
