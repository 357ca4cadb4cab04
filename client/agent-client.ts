// HTTP/1.1 to the agent over its Unix socket: the client must start in about Node's own time, so it neither
// validates with zod nor loads a framework or node:http (http-exchange.ts speaks the little HTTP it needs on
// node:net, loaded only when a request is made). The agent is this user's, of this build
// (every call first checks that the socket and its folder are this user's alone: shared/socket-folder.ts);
// its answers are trusted, and anything of an unexpected shape becomes INTERNAL.
import type { ProgressEvent } from '../shared/progress.js';
import type { Env } from '../shared/paths.js';
import { ENVIRONMENT_HEADER, environmentFingerprint } from '../shared/environment-fingerprint.js';
import { checkSocket } from '../shared/socket-folder.js';
import { MAX_SOCKET_PATH_BYTES } from '../shared/socket-path.js';
import { VsyncError } from '../shared/errors.js';
import { fromWire, internal } from './failure.js';
import { isRecord } from './result-shape.js';
import { agentUnreachable } from './agent-log.js';
import { type Answer, exchange } from './http-exchange.js';
import { LineReader } from './line-reader.js';
import { SseReader, type SseMessage } from './sse-reader.js';

// shared/api.ts says the same, but importing it would load zod.
const NDJSON = 'application/x-ndjson';
const SSE = 'text/event-stream';

export interface AgentRequest {
  readonly method: 'GET' | 'POST';
  /** With the query string, e.g. `/v1/versions?cwd=…&env=…`. */
  readonly path: string;
  readonly body?: object;
  /** Ask for the NDJSON stream (init, push, pull) and report its progress lines as they arrive. */
  readonly onProgress?: (event: ProgressEvent) => void;
  /**
   * Ask for a Server-Sent Events stream (events) and hand over each message as it arrives. Such a stream
   * has no last line: the call ends only by `signal`, or with AGENT_UNREACHABLE when the agent closes it.
   */
  readonly onEvent?: (message: SseMessage) => void;
  /** Aborting it ends the call quietly: it resolves undefined, whatever it was doing. */
  readonly signal?: AbortSignal;
  /** Give up (throwing AgentTimeout) when no answer comes in this time; used by probes only. */
  readonly timeoutMs?: number;
}

/** A probe's answer did not come in time: something holds the socket but is busy (or hung). */
export class AgentTimeout extends Error {}

/**
 * The errors of a connect() that found no agent (no socket file, or nobody listening on it). Nothing was
 * sent, so the request can be retried once an agent is started.
 */
export function isNoAgent(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

/** The error connect() gives for a missing socket, without asking connect(). */
function noAgent(socket: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ENOENT ${socket}`), { code: 'ENOENT', syscall: 'connect', path: socket });
}

export class AgentClient {
  constructor(
    readonly socket: string,
    readonly env: Env,
  ) {}

  /**
   * The agent's result for one request. Throws the agent's error as a VsyncError, a broken connection as
   * AGENT_UNREACHABLE, and, untouched, the connect error when no agent listens (see isNoAgent) and
   * AgentTimeout.
   */
  async call(req: AgentRequest): Promise<unknown> {
    if (Buffer.byteLength(this.socket) > MAX_SOCKET_PATH_BYTES) throw new VsyncError('AGENT_SOCKET_PATH_TOO_LONG', this.socket);
    let res: Answer;
    try {
      // Before a single byte goes out: the socket and its folder are this user's alone (AGENT_SOCKET_UNSAFE
      // otherwise). With nothing there, no connect() either: a listener someone else put there between this
      // check and a connect would receive the request.
      if (checkSocket(this.socket) !== 'socket') throw noAgent(this.socket);
      res = await this.#open(req);
    } catch (err) {
      if (req.signal?.aborted) return undefined;
      if (isNoAgent(err) || err instanceof AgentTimeout || err instanceof VsyncError) throw err;
      throw await this.#unreachable(`connecting failed: ${(err as Error).message}`);
    }
    try {
      const type = res.headers.get('content-type') ?? '';
      if (req.onProgress && type.startsWith(NDJSON)) return await this.#readStream(res, req.onProgress);
      if (req.onEvent && type.startsWith(SSE)) return await this.#readEvents(res, req.onEvent, req.signal);
      const answer = answerOf(res.status, await readAll(res.body));
      // An error before the stream starts comes as plain JSON (thrown above); a result never does.
      if (req.onEvent) throw internal(`the agent answered ${req.path} with ${type || 'no content type'} instead of an event stream`);
      return answer;
    } catch (err) {
      if (req.signal?.aborted) return undefined;
      if (err instanceof VsyncError) throw err;
      throw await this.#unreachable(`the connection broke before the answer was complete: ${(err as Error).message}`);
    }
  }

  /** AGENT_UNREACHABLE with the end of the agent's log. */
  async #unreachable(why: string): Promise<VsyncError> {
    return agentUnreachable(this.socket, why, this.env);
  }

  #fingerprint: string | undefined;

  #open(req: AgentRequest): Promise<Answer> {
    this.#fingerprint ??= environmentFingerprint(this.env);
    const headers: Record<string, string> = {
      accept: req.onEvent ? SSE : req.onProgress ? NDJSON : 'application/json',
      [ENVIRONMENT_HEADER]: this.#fingerprint,
    };
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    if (body) headers['content-type'] = 'application/json';
    const ms = req.timeoutMs;
    return exchange(this.socket, {
      method: req.method,
      path: req.path,
      headers,
      body,
      signal: req.signal,
      idle: ms === undefined ? undefined : { ms, error: () => new AgentTimeout(`no answer within ${ms} ms`) },
    });
  }

  /** Progress lines go to onProgress as they arrive; then exactly one result or error line ends the stream. */
  async #readStream(res: Answer, onProgress: (event: ProgressEvent) => void): Promise<unknown> {
    const reader = new LineReader();
    let outcome: { ok: true; result: unknown } | { ok: false; error: VsyncError } | undefined;
    const handle = (line: string): void => {
      if (line.trim() === '' || outcome) return;
      const message = parseJson(line, 'a stream line that is not JSON');
      if (!isRecord(message)) throw internal('the agent sent a stream line that is not an object');
      if (message.type === 'progress' && isProgressEvent(message.event)) onProgress(message.event);
      else if (message.type === 'result' && 'result' in message) outcome = { ok: true, result: message.result };
      else if (message.type === 'error') outcome = { ok: false, error: fromWire(message.error) };
      else throw internal(`the agent sent a stream line of no known shape: ${line.slice(0, 200)}`);
    };
    for await (const chunk of res.body) for (const line of reader.push(chunk)) handle(line);
    for (const line of reader.end()) handle(line);
    if (!outcome) throw await this.#unreachable('the agent ended the stream before the operation finished');
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  /** Each message to onEvent as it arrives, until `signal` ends the call or the agent ends the stream. */
  async #readEvents(res: Answer, onEvent: (message: SseMessage) => void, signal: AbortSignal | undefined): Promise<undefined> {
    const reader = new SseReader();
    try {
      for await (const chunk of res.body) for (const message of reader.push(chunk)) onEvent(message);
    } catch (err) {
      if (signal?.aborted) return undefined;
      // Thrown by onEvent: an event of no known shape.
      if (err instanceof VsyncError) throw err;
      throw await this.#unreachable(`the agent closed the event stream: ${(err as Error).message}`);
    }
    if (signal?.aborted) return undefined;
    throw await this.#unreachable('the agent closed the event stream');
  }
}

async function readAll(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Plain JSON mode: the result with a 2xx status, else `{"error":{code,message,hint}}`. */
function answerOf(status: number, text: string): unknown {
  const body = text.trim() === '' ? undefined : parseJson(text, `HTTP ${status} with a body that is not JSON`);
  if (status >= 200 && status < 300) return body;
  if (isRecord(body) && 'error' in body) throw fromWire(body.error);
  throw internal(`the agent answered HTTP ${status} without an error body`);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw internal(`the agent answered with ${what}: ${text.slice(0, 200)}`);
  }
}

function isProgressEvent(event: unknown): event is ProgressEvent {
  if (!isRecord(event) || typeof event.text !== 'string') return false;
  if (event.kind === 'step') return typeof event.n === 'number' && typeof event.of === 'number';
  return event.kind === 'detail' || event.kind === 'warning';
}
