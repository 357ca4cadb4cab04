// Connections are cheap on a Unix socket, but not free: each one is a file descriptor and some memory. A
// connection with no request in flight (before its first request, or between keep-alive requests) is
// closed after `idleConnectionMs`; and when `maxConnections` are open, the oldest idle one is closed to make
// room, so a program holding hundreds of idle connections never keeps `vsync status` out. Only when every
// open connection is busy with a request is a new one refused (AGENT_TOO_MANY_CONNECTIONS).
//
// Node's own server.maxConnections refuses the newest connection instead, and its keepAliveTimeout starts
// only after a first answer: a connection that never sends a byte would stay for ever.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { VsyncError } from '../../shared/errors.js';
import { rawErrorResponse } from './client-errors.js';

interface Tracked {
  busy: number;
  idleSince: number;
}

export interface ConnectionGuardOptions {
  readonly idleConnectionMs: number;
  readonly maxConnections: number;
  readonly log: FastifyBaseLogger;
  readonly now?: () => number;
}

export class ConnectionGuard {
  private readonly open = new Map<Socket, Tracked>();
  private readonly now: () => number;

  constructor(
    server: Server,
    private readonly options: ConnectionGuardOptions,
  ) {
    this.now = options.now ?? Date.now;
    // Registered after Node's own listener: the socket already has its HTTP parser.
    server.on('connection', (socket: Socket) => this.connected(socket));
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.started(request.socket, response));
  }

  /** Open connections now (for tests and the log). */
  get size(): number {
    return this.open.size;
  }

  private connected(socket: Socket): void {
    if (this.open.size >= this.options.maxConnections && !this.closeOldestIdle()) {
      this.options.log.warn(`refused a connection: all ${this.open.size} open connections are busy (VSYNC_MAX_CONNECTIONS)`);
      socket.on('error', () => undefined);
      socket.end(rawErrorResponse(new VsyncError('AGENT_TOO_MANY_CONNECTIONS', `${this.open.size} open`)));
      setTimeout(() => socket.destroy(), 5_000).unref();
      return;
    }
    this.open.set(socket, { busy: 0, idleSince: this.now() });
    socket.once('close', () => this.open.delete(socket));
    // Node's 'timeout' handling on an HTTP socket destroys it when no request or response is there to take it.
    socket.setTimeout(this.options.idleConnectionMs);
  }

  private started(socket: Socket, response: ServerResponse): void {
    const tracked = this.open.get(socket);
    if (!tracked) return;
    tracked.busy++;
    // An answer may take as long as it needs (a push, an event stream); the request itself is timed by
    // Node's requestTimeout.
    socket.setTimeout(0);
    response.once('close', () => {
      tracked.busy--;
      if (tracked.busy > 0) return;
      tracked.idleSince = this.now();
      // Node's keepAliveTimeout sets the same after a finished answer; an aborted one would otherwise leave none.
      if (!socket.destroyed) socket.setTimeout(this.options.idleConnectionMs);
    });
  }

  private closeOldestIdle(): boolean {
    let oldest: [Socket, Tracked] | undefined;
    for (const entry of this.open) {
      if (entry[1].busy === 0 && (!oldest || entry[1].idleSince < oldest[1].idleSince)) oldest = entry;
    }
    if (!oldest) return false;
    this.open.delete(oldest[0]);
    oldest[0].destroy();
    this.options.log.debug(`closed the oldest idle connection: ${this.options.maxConnections} open (VSYNC_MAX_CONNECTIONS)`);
    return true;
  }
}
