// One HTTP/1.1 request and its answer over a Unix socket, on node:net alone. node:http would do it, but
// loading it (with its parser binding, agent and server) costs about 4 ms of the client's start-up, a
// twentieth of `node -e 0`, and the client needs little of it: one request per connection (Connection:
// close), an answer framed by Content-Length, by chunked transfer coding, or by the connection's end
// (RFC 9112 §6.3). The peer is this user's agent, checked before connecting (agent-client.ts), so the
// parser is strict about shape but not built to fend off a hostile server; its limits keep a broken one
// from growing memory.
import type { Socket } from 'node:net';
import { onDemand } from './on-demand.js';

export interface Exchange {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** Aborting it destroys the connection; the pending read then throws. */
  readonly signal?: AbortSignal;
  /** With no byte in either direction for this long, the connection is destroyed with `error()`'s error. */
  readonly idle?: { readonly ms: number; readonly error: () => Error };
}

export interface Answer {
  readonly status: number;
  /** Header names in lower case; a repeated header's values joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /** The body's bytes as they arrive, unframed. Throws if the connection breaks before the body is whole. */
  readonly body: AsyncIterable<Buffer>;
}

/** The status line and headers; more than this and the answer is not one our agent sent. */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line: hex digits and perhaps an extension, which the agent never sends. */
const MAX_CHUNK_LINE_BYTES = 1024;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** Sends the request and resolves once the answer's head has arrived; the body is read from the result. */
export async function exchange(socketPath: string, request: Exchange): Promise<Answer> {
  request.signal?.throwIfAborted();
  const socket = onDemand.net().createConnection(socketPath);
  const destroy = (): void => {
    socket.destroy(new Error('aborted'));
  };
  request.signal?.addEventListener('abort', destroy, { once: true });
  if (request.idle) {
    const { ms, error } = request.idle;
    socket.setTimeout(ms, () => socket.destroy(error()));
  }
  socket.write(requestBytes(request));
  const bytes = new ByteReader(socket);
  try {
    const head = await bytes.until(HEAD_END, MAX_HEAD_BYTES, 'the head of the answer');
    const { status, headers } = parseHead(head);
    return { status, headers, body: bodyOf(bytes, headers, socket, () => request.signal?.removeEventListener('abort', destroy)) };
  } catch (err) {
    socket.destroy();
    request.signal?.removeEventListener('abort', destroy);
    throw err;
  }
}

function requestBytes(request: Exchange): Buffer {
  const lines = [`${request.method} ${request.path} HTTP/1.1`, 'host: localhost', 'connection: close'];
  for (const [name, value] of Object.entries(request.headers)) lines.push(`${name}: ${value}`);
  if (request.body) lines.push(`content-length: ${request.body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return request.body ? Buffer.concat([head, request.body]) : head;
}

function parseHead(head: Buffer): { status: number; headers: Map<string, string> } {
  const [statusLine = '', ...fields] = head.toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] ([1-5]\d\d)(?: |$)/.exec(statusLine);
  if (!match) throw new Error(`the answer does not start with an HTTP/1.1 status line: ${statusLine.slice(0, 80)}`);
  const status = Number(match[1]);
  // An interim answer (100 Continue) is never sent to a request without Expect; one would be a broken peer.
  if (status < 200) throw new Error(`the answer is an interim ${status}`);
  const headers = new Map<string, string>();
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon <= 0) throw new Error(`the answer has a malformed header line: ${field.slice(0, 80)}`);
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  return { status, headers };
}

async function* bodyOf(bytes: ByteReader, headers: ReadonlyMap<string, string>, socket: Socket, done: () => void): AsyncGenerator<Buffer> {
  try {
    const coding = headers.get('transfer-encoding');
    const length = headers.get('content-length');
    if (coding !== undefined) {
      if (coding.toLowerCase() !== 'chunked') throw new Error(`the answer has a transfer coding the client does not read: ${coding}`);
      yield* chunked(bytes);
    } else if (length !== undefined) {
      if (!/^\d{1,15}$/.test(length)) throw new Error(`the answer has an unreadable content-length: ${length}`);
      yield* bytes.take(Number(length));
    } else {
      yield* bytes.rest();
    }
  } finally {
    done();
    socket.destroy();
  }
}

async function* chunked(bytes: ByteReader): AsyncGenerator<Buffer> {
  for (;;) {
    const line = (await bytes.until(CRLF, MAX_CHUNK_LINE_BYTES, 'a chunk size')).toString('latin1');
    const size = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line);
    if (!size) throw new Error(`the answer has a malformed chunk size: ${line.slice(0, 80)}`);
    const n = Number.parseInt(size[1]!, 16);
    if (n === 0) break;
    yield* bytes.take(n);
    const end = await bytes.until(CRLF, CRLF.length, 'the end of a chunk');
    if (end.length !== 0) throw new Error('the answer has a chunk longer than its size');
  }
  // Trailer fields, which the agent does not send, up to the blank line that ends the message.
  while ((await bytes.until(CRLF, MAX_HEAD_BYTES, 'the trailer')).length > 0);
}

/** The connection's bytes, read in the pieces the framing asks for. */
class ByteReader {
  readonly #chunks: AsyncIterator<Buffer>;
  #held: Buffer = Buffer.alloc(0);

  constructor(socket: Socket) {
    this.#chunks = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next chunk from the connection, or undefined at its end. */
  async #next(): Promise<Buffer | undefined> {
    const next = await this.#chunks.next();
    return next.done ? undefined : next.value;
  }

  /** The bytes before the next `mark` (which is consumed), refused past `limit` bytes. */
  async until(mark: Buffer, limit: number, what: string): Promise<Buffer> {
    let from = 0;
    for (;;) {
      const at = this.#held.indexOf(mark, from);
      if (at !== -1 && at <= limit) {
        const found = this.#held.subarray(0, at);
        this.#held = this.#held.subarray(at + mark.length);
        return found;
      }
      if (this.#held.length > limit + mark.length) throw new Error(`${what} is longer than ${limit} bytes`);
      from = Math.max(0, this.#held.length - mark.length + 1);
      const chunk = await this.#next();
      if (chunk === undefined) throw new Error(`the connection closed in ${what}`);
      this.#held = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    }
  }

  /** Exactly `n` bytes, handed on as they arrive. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#held.length === 0) {
        const chunk = await this.#next();
        if (chunk === undefined) throw new Error(`the connection closed ${left} bytes before the end of the body`);
        this.#held = chunk;
      }
      const piece = this.#held.subarray(0, left);
      this.#held = this.#held.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
  }

  /** Everything until the connection ends. */
  async *rest(): AsyncGenerator<Buffer> {
    if (this.#held.length > 0) yield this.#held;
    this.#held = Buffer.alloc(0);
    for (let chunk = await this.#next(); chunk !== undefined; chunk = await this.#next()) yield chunk;
  }
}
