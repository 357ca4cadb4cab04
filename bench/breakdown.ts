// The agent-side breakdown (issue 11): the spans a traced agent wrote (VSYNC_TRACE_FILE, daemon/trace) split
// into its operations and summed per step, so a warm push or pull is seen part by part beside the floor.
import { readFileSync, statSync } from 'node:fs';

interface SpanLine {
  readonly span: string;
  readonly ms: number;
}

/** Where the trace file ends now: what a batch of operations appends starts here. */
export function traceMark(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * The operations traced since `mark`, the last `n` of them: for each, every step's total ms (a step taken
 * twice, two state writes say, is summed). An operation's own span (`operation.push`) ends after all of its
 * steps, so it closes each group.
 */
export function tracedOperations(file: string, mark: number, n: number): Array<Map<string, number>> {
  const text = readFileSync(file).subarray(mark).toString('utf8');
  const groups: Array<Map<string, number>> = [];
  let current = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const { span, ms } = JSON.parse(line) as SpanLine;
    // The agent's collection when it is idle (daemon/memory) is no operation's step.
    if (span === 'memory.collect') continue;
    current.set(span, (current.get(span) ?? 0) + ms);
    if (span.startsWith('operation.')) {
      groups.push(current);
      current = new Map();
    }
  }
  return groups.slice(-n);
}

/** Each step's median over the operations (0 where an operation did not take it), in the order first seen. */
export function medianSteps(operations: Array<Map<string, number>>): Map<string, number> {
  const names = [...new Set(operations.flatMap((op) => [...op.keys()]))];
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return new Map(names.map((name) => [name, median(operations.map((op) => op.get(name) ?? 0))]));
}
