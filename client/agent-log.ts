// When the client cannot reach the agent, the agent's log usually says why (it crashed, its socket folder
// is unsafe, it could not bind): the error carries the log's last lines and its path, so the user need not
// go looking for either.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { VsyncError } from '../shared/errors.js';
import type { Env } from '../shared/paths.js';
import { agentLogFile } from '../shared/socket-path.js';

const TAIL_LINES = 15;
/** Enough for 15 lines of any sane log; reading the whole file could mean megabytes. */
const TAIL_BYTES = 16 * 1024;

/** The last lines of a file, or undefined when it cannot be read (usually: there is none yet). */
export function logTail(file: string, lines = TAIL_LINES): string[] | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, size - length);
    const all = buffer.subarray(0, read).toString('utf8').split('\n');
    // A cut first line is a fragment; the final empty piece is the file's last newline.
    if (size > length) all.shift();
    while (all.length > 0 && all[all.length - 1]!.trim() === '') all.pop();
    return all.slice(-lines);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** AGENT_UNREACHABLE naming the socket, why it is unreachable, and what the log says. */
export function agentUnreachable(socket: string, why: string, env: Env): VsyncError {
  const log = agentLogFile(env);
  const tail = logTail(log);
  let detail = `${socket} (${why})`;
  if (tail === undefined) detail += `; there is no agent log at ${log}`;
  else if (tail.length === 0) detail += `; the agent log ${log} is empty`;
  else detail += `; the agent log ${log} ends:\n${tail.map((line) => `  | ${line}`).join('\n')}`;
  return new VsyncError('AGENT_UNREACHABLE', detail);
}
