// After an operation the agent's heap holds what the operation left behind, and V8 collects it only when the
// agent next allocates, which an idle agent does not: after a pull of a 20,000-file vault, 130 MiB of its heap
// was garbage still resident (issue 11's "RSS returns to idle"). So once no operation has run for a while,
// the agent asks V8 for one full collection. Operations are the `operation.*` spans (daemon/trace/span.ts):
// pushes on save count as much as requests, and status polls by editors do not wake it.
import { type SpanContext, span, spans } from '../trace/span.js';
import { type IdleTimers, nodeIdleTimers } from '../vault/idle-timers.js';

/** The quiet after the last operation before collecting: past the next save of a burst, short of a user's wait. */
export const IDLE_COLLECT_MS = 2_000;

const isOperation = (context: SpanContext): boolean => context.name.startsWith('operation.');

/**
 * Runs `collect` (as the span `memory.collect`) once `idleMs` have passed with no operation running, after
 * each operation or overlapping run of them; returns the function that stops.
 */
export function collectWhenIdle(collect: () => void, idleMs = IDLE_COLLECT_MS, timers: IdleTimers = nodeIdleTimers): () => void {
  let running = 0;
  let pending: unknown;
  const cancel = (): void => {
    if (pending !== undefined) timers.clearTimeout(pending);
    pending = undefined;
  };
  const subscribers = {
    start: (context: SpanContext) => {
      if (!isOperation(context)) return;
      running++;
      cancel();
    },
    end: () => undefined,
    asyncStart: () => undefined,
    error: () => undefined,
    asyncEnd: (context: SpanContext) => {
      if (!isOperation(context) || --running > 0) return;
      cancel();
      pending = timers.setTimeout(() => {
        pending = undefined;
        void span('memory.collect', async () => collect());
      }, idleMs);
    },
  };
  spans.subscribe(subscribers);
  return () => {
    spans.unsubscribe(subscribers);
    cancel();
  };
}
