// Socket activation, as sd_listen_fds(3) describes it: a service manager (systemd's vsyncd.socket, or
// systemd-socket-activate) binds the socket itself and starts the agent with it open as fd 3, naming it in
// LISTEN_PID and LISTEN_FDS. The agent then serves that descriptor instead of binding its own: the path is
// the manager's, so the agent neither unlinks nor re-binds it, and the manager keeps it listening (clients
// queue instead of finding no one) while no agent runs.
import { fstatSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { VsyncError } from '../../shared/errors.js';

/** SD_LISTEN_FDS_START: the first descriptor a manager passes. */
export const LISTEN_FDS_START = 3;

const ListenFds = z
  .string()
  .regex(/^\d{1,9}$/, 'not a count')
  .transform(Number);

function invalid(detail: string, cause?: unknown): VsyncError {
  return new VsyncError('AGENT_LISTEN_FDS_INVALID', detail, { cause });
}

/**
 * The descriptor handed to this process, or undefined when none was (no LISTEN_PID, or another process's:
 * the variables were inherited, not meant for us). Removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES from
 * `env` either way, as sd_listen_fds(1) does, so the processes the agent starts (git) never see them.
 */
export function takeListenFds(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const { LISTEN_PID: forPid, LISTEN_FDS: count } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (forPid !== String(pid)) return undefined;
  const parsed = ListenFds.safeParse(count ?? '');
  if (!parsed.success) throw invalid(`LISTEN_FDS=${JSON.stringify(count ?? '')} is not a count of descriptors`);
  if (parsed.data === 0) return undefined;
  if (parsed.data > 1) throw invalid(`${parsed.data} descriptors were passed (LISTEN_FDS); vsyncd serves exactly one socket`);
  const fd = LISTEN_FDS_START;
  let isSocket: boolean;
  try {
    isSocket = fstatSync(fd).isSocket();
  } catch (err) {
    throw invalid(`fd ${fd} is not open`, err);
  }
  if (!isSocket) throw invalid(`fd ${fd} is not a socket`);
  return fd;
}

/**
 * Serves `app` on the handed-over descriptor. `socket` is the path the clients use (VSYNC_SOCKET, else
 * under $XDG_RUNTIME_DIR): a socket must be there, or the one handed over serves no one.
 */
export async function listenOnInheritedSocket(app: FastifyInstance, fd: number, socket: string): Promise<void> {
  const info = await lstat(socket).catch(() => undefined);
  if (!info?.isSocket()) {
    throw invalid(
      `fd ${fd} was passed, but ${socket} is ${info ? 'not a socket' : 'missing'}: the socket unit's ListenStream= and VSYNC_SOCKET must name the same path`,
    );
  }
  await app.ready();
  // Through Node itself, not fastify's listen(): that logs the address it reads from server.address(), which
  // is null for a Unix socket opened from a descriptor, and throws. app.close() closes the server all the
  // same, and Node unlinks only paths it bound itself, so the manager's socket file stays.
  const server = app.server;
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      server.off('listening', listening);
      reject(invalid(`fd ${fd} cannot be listened on (${err.message}); it must be a listening stream socket (Accept=no)`, err));
    };
    const listening = () => {
      server.off('error', failed);
      // Checked here, in the 'listening' event, before the event loop can accept a connection: a TCP port
      // would put the API on the network, where anyone who can connect could ask the agent to decrypt.
      const address = server.address();
      if (typeof address === 'object' && address !== null) {
        server.close();
        reject(invalid(`fd ${fd} is a TCP socket (${address.address}:${address.port}); vsyncd serves only a Unix socket`));
        return;
      }
      resolve();
    };
    server.once('error', failed);
    server.once('listening', listening);
    server.listen({ fd });
  });
}
