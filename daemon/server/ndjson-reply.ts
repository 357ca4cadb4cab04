// Answers a long operation as the caller asked (shared/api.ts): a stream of progress lines then one result
// or error line for `Accept: application/x-ndjson`, or plain JSON otherwise.
//
// A caller that goes away before the answer is complete (Ctrl-C on `vsync pull`) cancels the operation:
// `run` gets a signal that aborts with AGENT_OPERATION_CANCELLED when the connection closes first.
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NDJSON, type StreamLine } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { silent, type Progress } from '../../shared/progress.js';
import { errorBody, requestError } from './error-reply.js';

export function wantsStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes(NDJSON);
}

export async function answer<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  run: (progress: Progress, signal: AbortSignal) => Promise<T>,
): Promise<unknown> {
  const cancel = new AbortController();
  // 'close' comes after a complete answer too; only one that closed before its end is a client gone.
  const gone = () => {
    if (!reply.raw.writableFinished) {
      cancel.abort(
        new VsyncError('AGENT_OPERATION_CANCELLED', `${request.method} ${request.url.split('?')[0]}: the client closed its connection`),
      );
    }
  };
  reply.raw.once('close', gone);
  try {
    if (!wantsStream(request)) return await run(silent, cancel.signal);
    const stream = new PassThrough();
    const write = (line: StreamLine) => {
      if (!stream.destroyed) stream.write(`${JSON.stringify(line)}\n`);
    };
    void reply.type(NDJSON).send(stream);
    try {
      write({ type: 'result', result: await run((event) => write({ type: 'progress', event }), cancel.signal) });
    } catch (err) {
      const failure = requestError(err, request.log);
      request.log.info({ code: failure.code }, `${request.url} failed`);
      write({ type: 'error', error: errorBody(failure).error });
    }
    stream.end();
    return reply;
  } finally {
    reply.raw.off('close', gone);
  }
}
