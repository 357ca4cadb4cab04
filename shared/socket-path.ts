// Where the agent listens, and where it says so. Both sides compute the same paths from the environment:
// `VSYNC_SOCKET` if set; else `$XDG_RUNTIME_DIR/vsync/vsyncd.sock`; else a per-user folder under the system
// temp dir (`/tmp/vsync-<uid>/vsyncd.sock`). The state file (pid, socket, version, start time) sits beside
// the socket, and the agent's log (when the client starts it) under the state folder.
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stateRoot, type Env } from './paths.js';

/** sun_path holds 108 bytes on Linux and 104 on macOS, including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 103;

export function socketPath(env: Env = process.env): string {
  if (env.VSYNC_SOCKET) return env.VSYNC_SOCKET;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'vsync', 'vsyncd.sock');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(tmpdir(), `vsync-${uid}`, 'vsyncd.sock');
}

export function agentStateFile(socket: string): string {
  return join(dirname(socket), 'vsyncd.json');
}

/** Held by the running agent (daemon/fs/lock-file.ts): one agent per socket. */
export function agentLockFile(socket: string): string {
  return join(dirname(socket), 'vsyncd.lock');
}

export function agentLogFile(env: Env = process.env): string {
  return join(stateRoot(env), 'vsyncd.log');
}
