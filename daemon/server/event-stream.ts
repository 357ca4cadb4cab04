// GET /v1/events: the event hub as Server-Sent Events (docs/API.md). One message per event: `id:` its
// number, `event:` its type, `data:` its JSON on one line. A comment goes out at once, so a client knows it
// is connected before the first event, and then every 25 s, so a proxy or an idle-timeout never sees a dead
// line. The stream ends when the client goes away or the agent stops.
//
// A client that stops reading would make the agent hold every later event for it: once its unread output
// passes `bufferBytes`, it is dropped instead. It is told so in a last comment (clients ignore comments, so
// no reader mistakes it for an event), and the connection is destroyed if even that is not read in time.
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventHub } from '../vault/event-hub.js';

const KEEP_ALIVE_MS = 25_000;
const DROP_GRACE_MS = 10_000;

export interface EventStreamOptions {
  readonly bufferBytes: number;
  /** How long a dropped stream's last words may take to be read before the connection is destroyed. */
  readonly dropGraceMs?: number;
}

export class EventStreams {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly hub: EventHub,
    private readonly options: EventStreamOptions,
  ) {}

  serve(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const stream = new PassThrough();
    // Everything written and not yet taken by the client: in the PassThrough, in the response, in the socket.
    const unread = (): number => stream.readableLength + stream.writableLength + reply.raw.writableLength;
    const send = (text: string): void => {
      if (unread() + text.length > this.options.bufferBytes) {
        drop();
        return;
      }
      stream.write(text);
    };
    const unsubscribe = this.hub.subscribe((event) => send(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`));
    const keepAlive = setInterval(() => send(': keep-alive\n\n'), KEEP_ALIVE_MS).unref();
    const socket = request.raw.socket;
    const end = (): void => {
      if (!this.open.delete(end)) return;
      clearInterval(keepAlive);
      unsubscribe();
      stream.end();
    };
    const drop = (): void => {
      if (!this.open.has(end)) return;
      const behind = unread();
      stream.write(
        `: dropped: this reader fell ${behind} bytes behind (the limit is ${this.options.bufferBytes}); reconnect to follow again\n\n`,
      );
      end();
      request.log.warn({ unreadBytes: behind }, 'dropped an event stream whose reader fell behind');
      // The connection goes with the stream: once the last words are read, or at once when they never are.
      reply.raw.once('finish', () => socket.end());
      setTimeout(() => socket.destroy(), this.options.dropGraceMs ?? DROP_GRACE_MS).unref();
    };
    this.open.add(end);
    request.raw.once('close', end);
    stream.write(': vsyncd events\n\n');
    return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-store').send(stream);
  }

  /** Ends every stream: the agent is stopping, and the server waits for open responses to end. */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}
