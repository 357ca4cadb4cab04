// Every failure leaves the agent as an ErrorBody with the registry's HTTP status, converted by the one
// conversion (shared/error-conversion.ts); unexpected errors are logged whole there.
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorBody } from '../../shared/api.js';
import { toVsyncError } from '../../shared/error-conversion.js';
import { VsyncError, isVsyncError } from '../../shared/errors.js';

/** What a request's failure is: fastify's refusals of the body are the client's mistake; the rest as anywhere. */
export function requestError(err: unknown, log?: FastifyBaseLogger): VsyncError {
  const fastifyCode = (err as { code?: unknown } | null)?.code;
  if (!isVsyncError(err) && typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_ERR_CTP')) {
    const detail = fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'the body is over the size limit' : (err as Error).message;
    return new VsyncError('AGENT_BAD_REQUEST', detail, { cause: err });
  }
  if (isAbortedRequest(err)) {
    // The client hung up (or was cut by the request timeout) while its body was arriving: nothing broke.
    log?.debug('a request was aborted before its body arrived');
    return new VsyncError('AGENT_BAD_REQUEST', 'the request was aborted before its body arrived', { cause: err });
  }
  return toVsyncError(err, (unexpected) => log?.error({ err: unexpected }, 'unexpected error'));
}

export function errorBody(err: VsyncError): ErrorBody {
  return { error: { code: err.code, message: err.message, hint: err.hint } };
}

// Node's IncomingMessage fails its body with "aborted" (ECONNRESET) when the connection closes mid-body.
function isAbortedRequest(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ECONNRESET' && message === 'aborted';
}
