// How long a request may take to arrive, how long a connection may sit idle, how many may be open, and
// how far an event stream's reader may fall behind. Requests are a few hundred bytes, so their limits are
// tight; answers (a push streaming NDJSON for minutes, an event stream for days) are never timed.
export interface ServerLimits {
  /** Headers and body of one request must have arrived within this (Node's requestTimeout/headersTimeout). */
  readonly requestTimeoutMs: number;
  /** A connection with no request in flight is closed after this (before its first request, and between requests). */
  readonly idleConnectionMs: number;
  /** Open connections at most; at the cap the oldest idle one is closed for a new one. */
  readonly maxConnections: number;
  /** An event stream whose unread output passes this is dropped. */
  readonly eventBufferBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  requestTimeoutMs: 30_000,
  idleConnectionMs: 60_000,
  maxConnections: 1024,
  eventBufferBytes: 1024 * 1024,
};
