// Every failure leaves the agent as an ErrorBody with the registry's HTTP status. Errors that are not
// VsyncErrors are bugs: they are logged whole and reported as INTERNAL, without their message (which could
// hold anything).
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorBody } from '../../shared/api.js';
import { VsyncError, isVsyncError } from '../../shared/errors.js';

export function toVsyncError(err: unknown, log?: FastifyBaseLogger): VsyncError {
  if (isVsyncError(err)) return err;
  const fastifyCode = (err as { code?: unknown }).code;
  if (typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_ERR_CTP')) {
    const detail = fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'the body is over the size limit' : (err as Error).message;
    return new VsyncError('AGENT_BAD_REQUEST', detail, { cause: err });
  }
  log?.error({ err }, 'unexpected error');
  return new VsyncError('INTERNAL', undefined, { cause: err });
}

export function errorBody(err: VsyncError): ErrorBody {
  return { error: { code: err.code, message: err.message, hint: err.hint } };
}
