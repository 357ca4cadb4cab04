// Timings of an operation's parts: where a push or a pull spends its time (`npm run bench`'s agent-side
// breakdown; VSYNC_TRACE_FILE for a user asking why). Published on a Node diagnostics channel
// (node:diagnostics_channel tracingChannel), so the domain says what it is doing and never who listens, and
// with nobody subscribed a span costs one property read.
import { tracingChannel } from 'node:diagnostics_channel';

/** What each span's events carry: its name (`store.get`, `folder.read`, …); no key, path or byte of a vault. */
export interface SpanContext {
  readonly name: string;
}

export const spans = tracingChannel<unknown, SpanContext>('vsync:span');

/** `run()`, timed as `name` when something subscribes to `spans`. */
export function span<T>(name: string, run: () => Promise<T>): Promise<T> {
  return spans.hasSubscribers ? spans.tracePromise(run, { name }) : run();
}
