// What Node's HTTP parser refuses before fastify routes anything (a bad request line or chunk, headers over
// the limit, a request too slow to arrive, an HTTP/2 preface, CONNECT) is answered like every other refusal:
// the registry's code in an ErrorBody, with its status, and the connection closed. A client that went away
// (an aborted upload) is a debug line, not an error.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { VsyncError } from '../../shared/errors.js';
import { errorBody } from './error-reply.js';

const CLOSE_GRACE_MS = 5_000;
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/** The raw answer for a socket no HTTP response object can be used on. */
export function rawErrorResponse(failure: VsyncError, status = failure.http): string {
  const body = JSON.stringify(errorBody(failure));
  return (
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

export function clientFailure(err: NodeJS.ErrnoException): VsyncError {
  const code = err.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') return new VsyncError('AGENT_HEADERS_TOO_LARGE');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new VsyncError('AGENT_REQUEST_TIMEOUT');
  const raw = (err as { rawPacket?: Buffer }).rawPacket?.subarray(0, 24).toString('latin1') ?? '';
  if (code === 'HPE_PAUSED_H2_UPGRADE' || raw.startsWith('PRI * HTTP/2')) return new VsyncError('AGENT_HTTP_INVALID', 'an HTTP/2 preface');
  if (raw.startsWith('\x16\x03')) return new VsyncError('AGENT_HTTP_INVALID', 'a TLS handshake');
  // llhttp's reason ("Invalid method encountered", "Invalid character in chunk size"): fixed texts of its own.
  const reason = (err as { reason?: unknown }).reason;
  return new VsyncError('AGENT_HTTP_INVALID', `${code || 'parse error'}${typeof reason === 'string' ? `: ${reason}` : ''}`);
}

export function answerClientError(err: NodeJS.ErrnoException, socket: Socket, log: FastifyBaseLogger): void {
  // The client is gone (it hung up mid-request): nobody to answer.
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
    log.debug({ code: err.code }, 'a client went away mid-request');
    socket.destroy();
    return;
  }
  const failure = clientFailure(err);
  log.info({ code: failure.code, detail: failure.message }, 'refused a request the HTTP parser could not read');
  // A response already under way on this connection (a pipelined request after it was malformed) cannot be
  // interrupted with another status line: the connection just ends.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!inFlight?.headersSent) socket.end(rawErrorResponse(failure));
  else socket.destroy();
  // A client that never reads would keep the answer, and so the socket, forever.
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/** CONNECT never reaches a route (Node hands it to the 'connect' event); it gets what any unrouted method gets. */
export function refuseConnect(server: Server, log: FastifyBaseLogger): void {
  server.on('connect', (request: { method?: string; url?: string }, socket: Socket) => {
    const failure = new VsyncError('AGENT_BAD_REQUEST', `no route ${request.method ?? 'CONNECT'} ${(request.url ?? '').slice(0, 200)}`);
    log.info({ code: failure.code, detail: failure.message }, 'refused CONNECT');
    socket.on('error', () => undefined);
    socket.end(rawErrorResponse(failure, 404));
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  });
}
