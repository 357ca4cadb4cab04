// When the client cannot reach the agent, the agent's log usually says why (it crashed, its socket folder
// is unsafe, it could not bind): the error carries the log's last lines and its path, so the user need not
// go looking for either. The agent logs JSON lines (fastify's pino logger); they are shown as people read a
// log, `08:13:02 warn  <message>`, without the two lines fastify writes for every request; what the agent
// prints as plain text (`vsyncd: error: …` when it cannot start) is shown as it is.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { VsyncError } from '../shared/errors.js';
import type { Env } from '../shared/paths.js';
import { agentLogFile } from '../shared/socket-path.js';
import { printable } from './render.js';

const TAIL_LINES = 15;
/**
 * Enough for 15 meaningful lines after dropping the request noise (each request writes two JSON lines of
 * ~200 bytes); reading the whole file could mean megabytes.
 */
const TAIL_BYTES = 64 * 1024;

/** pino's level numbers. */
const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
/** What fastify logs for every request: the requests of commands that worked, never why an agent failed. */
const NOISE = new Set(['incoming request', 'request completed']);

const two = (n: number) => String(n).padStart(2, '0');

/**
 * One line of the agent's log as a person reads it: a pino JSON line as `HH:MM:SS level message` (local time;
 * with the error's message and the error code when it has them); undefined for a request's noise; any other
 * line as it is. What JSON decoding turns into a control character is shown quoted: it cannot drive the terminal.
 */
export function logLine(line: string): string | undefined {
  let entry: unknown;
  try {
    entry = line.startsWith('{') ? JSON.parse(line) : undefined;
  } catch {
    entry = undefined;
  }
  if (typeof entry !== 'object' || entry === null) return line;
  const { level, time, msg, err, code } = entry as Record<string, unknown>;
  if (typeof level !== 'number' || typeof time !== 'number') return line;
  if (typeof msg === 'string' && NOISE.has(msg)) return undefined;
  let text = typeof msg === 'string' ? msg : '';
  const errMessage = typeof err === 'object' && err !== null ? (err as Record<string, unknown>).message : undefined;
  if (typeof errMessage === 'string' && errMessage !== '' && !text.includes(errMessage))
    text = text === '' ? errMessage : `${text}: ${errMessage}`;
  if (typeof code === 'string' && !text.includes(code)) text += ` (${code})`;
  const at = new Date(time);
  const clock = Number.isNaN(at.getTime()) ? '--:--:--' : `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
  return `${clock} ${(LEVELS[level] ?? String(level)).padEnd(5)} ${printable(text)}`;
}

/** The log's lines as logLine shows them, the request noise left out: the last `lines` of those. */
export function readableTail(raw: readonly string[], lines = TAIL_LINES): string[] {
  return raw.flatMap((line) => logLine(line) ?? []).slice(-lines);
}

/** The lines at the end of a file (its last TAIL_BYTES), or undefined when it cannot be read (usually: there is none yet). */
export function logTail(file: string): string[] | undefined {
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
    return all;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** AGENT_UNREACHABLE naming the socket, why it is unreachable, and what the log says. */
export function agentUnreachable(socket: string, why: string, env: Env): VsyncError {
  const log = agentLogFile(env);
  const raw = logTail(log);
  const tail = raw === undefined ? undefined : readableTail(raw);
  let detail = `${socket} (${why})`;
  if (tail === undefined) detail += `; there is no agent log at ${log}`;
  else if (raw!.length === 0) detail += `; the agent log ${log} is empty`;
  else if (tail.length === 0) detail += `; the agent log ${log} ends with requests it served, nothing else`;
  else detail += `; the agent log ${log} ends:\n${tail.map((line) => `  | ${line}`).join('\n')}`;
  return new VsyncError('AGENT_UNREACHABLE', detail);
}
