// What an operation carries besides its dependencies: whether it may still go on. An operation is cancelled
// when its client goes away or the agent stops (its signal), and an agent that no longer holds its agent
// lock (daemon/fs/lock-file.ts) may have been replaced by another: neither may change a vault folder any
// more. Checked at the boundaries of the local steps, and last of all just before a folder is swapped.
import { VsyncError } from '../../shared/errors.js';

export interface OperationGuard {
  /** Aborted (with a VsyncError as its reason) when the operation is cancelled. */
  readonly signal?: AbortSignal | undefined;
  /** Whether this agent still holds its agent lock; absent where there is no agent (tests of the domain). */
  readonly stillServing?: (() => Promise<boolean>) | undefined;
}

/** Throws the cancellation's reason if the operation was cancelled. */
export function checkNotCancelled(guard: OperationGuard): void {
  guard.signal?.throwIfAborted();
}

/** Before a vault folder is replaced: not cancelled, and this agent still the one serving. */
export async function checkMayReplaceFolder(guard: OperationGuard, folder: string): Promise<void> {
  checkNotCancelled(guard);
  if (guard.stillServing && !(await guard.stillServing())) {
    throw new VsyncError(
      'AGENT_SHUTTING_DOWN',
      `this agent no longer holds its agent lock, so it did not replace ${folder}; nothing was written`,
    );
  }
  checkNotCancelled(guard); // the lock was read from disk: the operation may have been cancelled meanwhile
}
