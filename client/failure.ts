// Every failure the client reports is a VsyncError, so one printer (shared/error-output.ts) and one exit-code
// table (the registry) serve both what the client finds wrong itself and what the agent sends back.
import { VsyncError, isErrorCode } from '../shared/errors.js';
import { reportError } from '../shared/error-output.js';

/**
 * The agent's `{code, message, hint}` as a VsyncError. The agent already joined the registry message and its
 * detail, so its text is kept as it is; a code this build does not know exits as INTERNAL.
 */
export function fromWire(error: unknown): VsyncError {
  if (typeof error !== 'object' || error === null) return internal('the agent answered with an error of no known shape');
  const { code, message, hint } = error as Record<string, unknown>;
  if (typeof message !== 'string' || typeof hint !== 'string')
    return internal(`the agent answered with an error of no known shape (code ${String(code)})`);
  if (!isErrorCode(code)) return internal(`the agent answered with unknown code ${JSON.stringify(code)}: ${message}`);
  const err = new VsyncError(code, undefined, { hint });
  err.message = message;
  return err;
}

export function internal(detail: string, cause?: unknown): VsyncError {
  return new VsyncError('INTERNAL', detail, { cause });
}

/** Anything thrown, as a VsyncError: a bug in the client itself becomes INTERNAL, never a stack trace. */
export function asVsyncError(err: unknown): VsyncError {
  if (err instanceof VsyncError) return err;
  return internal(err instanceof Error ? err.message : String(err), err);
}

/** `vsync: error: …` / `vsync: hint: …`, or with --json the same as the agent's error body, on stderr. */
export async function printFailure(err: unknown, json: boolean): Promise<void> {
  const failure = asVsyncError(err);
  if (!json) {
    reportError('vsync', failure);
    return;
  }
  process.stderr.write(`${JSON.stringify({ error: { code: failure.code, message: failure.message, hint: failure.hint } })}\n`);
  process.exitCode = failure.exit;
}
