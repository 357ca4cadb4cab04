// Every failure leaves the agent as an ErrorBody with the registry's HTTP status. Errors that are not
// VsyncErrors are bugs: they are logged whole and reported as INTERNAL, without their message (which could
// hold anything). The one exception is the file system refusing a call for reasons of this machine (read
// only, permissions, space): that is FILE_SYSTEM_REFUSED, naming the call, the path and the errno.
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
  if (isAbortedRequest(err)) {
    // The client hung up (or was cut by the request timeout) while its body was arriving: nothing broke.
    log?.debug('a request was aborted before its body arrived');
    return new VsyncError('AGENT_BAD_REQUEST', 'the request was aborted before its body arrived', { cause: err });
  }
  const refusal = fileSystemRefusal(err);
  if (refusal) return refusal;
  log?.error({ err }, 'unexpected error');
  return new VsyncError('INTERNAL', undefined, { cause: err });
}

export function errorBody(err: VsyncError): ErrorBody {
  return { error: { code: err.code, message: err.message, hint: err.hint } };
}

// Node's IncomingMessage fails its body with "aborted" (ECONNRESET) when the connection closes mid-body.
function isAbortedRequest(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ECONNRESET' && message === 'aborted';
}

// Errnos that say something about this machine's folders, not about vsync's code.
const REFUSALS = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO']);

function fileSystemRefusal(err: unknown): VsyncError | undefined {
  const { code, syscall, path } = (err ?? {}) as { code?: unknown; syscall?: unknown; path?: unknown };
  if (typeof code !== 'string' || !REFUSALS.has(code) || typeof syscall !== 'string') return undefined;
  return new VsyncError('FILE_SYSTEM_REFUSED', `${syscall}${typeof path === 'string' ? ` ${path}` : ''}: ${code}`, { cause: err });
}
