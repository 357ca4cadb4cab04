// GET /v1/events: the event hub as Server-Sent Events (docs/API.md). One message per event: `id:` its
// number, `event:` its type, `data:` its JSON on one line. A comment goes out at once, so a client knows it
// is connected before the first event, and then every 25 s, so a proxy or an idle-timeout never sees a dead
// line. The stream ends when the client goes away or the agent stops.
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventHub } from '../vault/event-hub.js';

const KEEP_ALIVE_MS = 25_000;

export class EventStreams {
  private readonly open = new Set<() => void>();

  constructor(private readonly hub: EventHub) {}

  serve(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const stream = new PassThrough();
    const unsubscribe = this.hub.subscribe((event) => {
      stream.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), KEEP_ALIVE_MS).unref();
    const end = (): void => {
      if (!this.open.delete(end)) return;
      clearInterval(keepAlive);
      unsubscribe();
      stream.end();
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
