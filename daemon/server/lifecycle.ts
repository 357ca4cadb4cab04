// Putting the app on its socket and taking it off again, as the trusted daemons do: refuse a socket
// folder others can reach, another user's, or a link; refuse to start beside a live agent but clear a dead one's socket; announce
// ourselves (the state file) only once listening; on SIGTERM/SIGINT let operations in flight finish, up
// to a deadline; remove the state file only if it is still ours.
import { connect } from 'node:net';
import { chmod, lstat, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AgentStateSchema, type AgentState } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { checkSocket, checkSocketFolder } from '../../shared/socket-folder.js';
import { MAX_SOCKET_PATH_BYTES, agentStateFile } from '../../shared/socket-path.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isErrno } from '../fs/errno.js';
import { makeFolders } from '../fs/make-folders.js';

/**
 * Creates the socket folder 0700 if missing; refuses one that is not ours alone (shared/socket-folder.ts, the
 * check the client makes too): another user's, open to others, or a symbolic link, wherever it leads.
 */
export async function prepareSocketFolder(socket: string): Promise<void> {
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
    throw new VsyncError('AGENT_SOCKET_PATH_TOO_LONG', `${socket} is ${Buffer.byteLength(socket)} bytes (VSYNC_SOCKET)`);
  }
  const folder = dirname(socket);
  if (checkSocketFolder(folder)) return;
  // mkdir -p succeeds over a folder (or a link to one) someone else made meanwhile: hence the check again.
  await makeFolders(folder, 0o700);
  if (!checkSocketFolder(folder)) throw new VsyncError('AGENT_SOCKET_UNSAFE', `${folder} disappeared as it was being created`);
}

/**
 * Under socket activation the service manager bound the path: a socket there must be this user's, as the
 * client checks too, or clients would refuse the agent's socket. (A missing path or one that is not a
 * socket is listen-fds.ts's to report.)
 */
export async function checkInheritedSocket(socket: string): Promise<void> {
  if ((await lstat(socket).catch(() => undefined))?.isSocket()) checkSocket(socket);
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
  // Not a socket, or another user's: refused, never unlinked (AGENT_SOCKET_UNSAFE).
  if (checkSocket(socket) !== 'socket') return;
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
