// VSYNC_TRACE_FILE: every span (span.ts) appended to a file as one JSON line, `{"span":"store.get","ms":0.41,
// "ok":true}`, when it ends. For measuring, not for everyday use: it costs a write per span.
import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { spans, type SpanContext } from './span.js';

/** Starts appending spans to `path` (created 0600); returns the function that stops. */
export function traceToFile(path: string): () => void {
  const fd = openSync(path, 'a', 0o600);
  const started = new WeakMap<SpanContext, number>();
  const failed = new WeakSet<SpanContext>();
  const subscribers = {
    start: (context: SpanContext) => started.set(context, performance.now()),
    end: () => undefined,
    asyncStart: () => undefined,
    error: (context: SpanContext) => failed.add(context),
    asyncEnd: (context: SpanContext) => {
      const ms = performance.now() - (started.get(context) ?? performance.now());
      writeSync(fd, `${JSON.stringify({ span: context.name, ms: Math.round(ms * 1000) / 1000, ok: !failed.has(context) })}\n`);
    },
  };
  spans.subscribe(subscribers);
  return () => {
    spans.unsubscribe(subscribers);
    closeSync(fd);
  };
}
