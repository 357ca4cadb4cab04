// The one conversion of anything thrown into a VsyncError, used wherever a failure leaves a piece of vsync
// (an API answer, an event, the agent's own exit, a watch's state, a doctor check). A VsyncError passes
// through. The file system refusing a call for reasons of this machine (read only, permissions, space, a
// busy mount, a name too long) is FILE_SYSTEM_REFUSED, naming the call, the path and the errno. Anything
// else is a bug: INTERNAL, whose message is not shown (it could hold anything), with the original kept as
// the cause and handed to `onUnexpected` for the log.
import { VsyncError, isVsyncError } from './errors.js';

// Errnos that say something about this machine's folders, not about vsync's code.
const REFUSALS = new Set([
  'EROFS',
  'EACCES',
  'EPERM',
  'ENOSPC',
  'EDQUOT',
  'EMFILE',
  'ENFILE',
  'EIO',
  'EBUSY',
  'ENAMETOOLONG',
  'EXDEV',
  'ETXTBSY',
  'ELOOP',
]);

export function toVsyncError(err: unknown, onUnexpected?: (err: unknown) => void): VsyncError {
  if (isVsyncError(err)) return err;
  const { code, syscall, path } = (err ?? {}) as { code?: unknown; syscall?: unknown; path?: unknown };
  if (typeof code === 'string' && REFUSALS.has(code) && typeof syscall === 'string') {
    return new VsyncError('FILE_SYSTEM_REFUSED', `${syscall}${typeof path === 'string' ? ` ${path}` : ''}: ${code}`, { cause: err });
  }
  onUnexpected?.(err);
  return new VsyncError('INTERNAL', undefined, { cause: err });
}
