// Answers a long operation as the caller asked (shared/api.ts): a stream of progress lines then one result
// or error line for `Accept: application/x-ndjson`, or plain JSON otherwise.
import { PassThrough } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NDJSON, type StreamLine } from '../../shared/api.js';
import { silent, type Progress } from '../../shared/progress.js';
import { errorBody, requestError } from './error-reply.js';

export function wantsStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes(NDJSON);
}

export async function answer<T>(request: FastifyRequest, reply: FastifyReply, run: (progress: Progress) => Promise<T>): Promise<unknown> {
  if (!wantsStream(request)) return run(silent);
  const stream = new PassThrough();
  const write = (line: StreamLine) => stream.write(`${JSON.stringify(line)}\n`);
  void reply.type(NDJSON).send(stream);
  try {
    write({ type: 'result', result: await run((event) => write({ type: 'progress', event })) });
  } catch (err) {
    const failure = requestError(err, request.log);
    request.log.info({ code: failure.code }, `${request.url} failed`);
    write({ type: 'error', error: errorBody(failure).error });
  }
  stream.end();
  return reply;
}
