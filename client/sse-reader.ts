// Turns a Server-Sent Events body (GET /v1/events) into its messages as the chunks arrive, following the
// WHATWG event-stream rules the client needs: fields `event`, `data` (several lines join with "\n") and
// `id`; lines starting with ":" are comments (the agent's keep-alives); a blank line ends a message (one cut
// off before its blank line is never handed over); LF or CRLF ends a line. Lines are cut by LineReader, on
// bytes, so a character split across chunks stays whole. `retry` is read past: the client never reconnects,
// since the stream ending means the agent stopped.
import { LineReader } from './line-reader.js';

export interface SseMessage {
  /** The `event:` field; `message` when the message has none. */
  readonly type: string;
  /** The `data:` lines, joined with "\n". */
  readonly data: string;
  /** The last `id:` seen on the stream so far (an id carries over to the messages after it); '' before any. */
  readonly id: string;
}

const BOM = '\uFEFF';

export class SseReader {
  readonly #lines = new LineReader();
  #first = true;
  #type = '';
  #data: string[] = [];
  #id = '';

  /** The messages this chunk completes; a message still missing its blank line waits for the next chunk. */
  push(chunk: Buffer): SseMessage[] {
    const messages: SseMessage[] = [];
    for (const line of this.#lines.push(chunk)) {
      const message = this.#line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  #line(raw: string): SseMessage | undefined {
    // A byte-order mark may open the stream, and is not part of the first field's name.
    const line = this.#first && raw.startsWith(BOM) ? raw.slice(1) : raw;
    this.#first = false;
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#type = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    return undefined;
  }

  /** A blank line: the fields gathered so far are one message, unless it had no data (then it is dropped). */
  #dispatch(): SseMessage | undefined {
    const type = this.#type;
    const data = this.#data;
    this.#type = '';
    this.#data = [];
    if (data.length === 0) return undefined;
    return { type: type === '' ? 'message' : type, data: data.join('\n'), id: this.#id };
  }
}
