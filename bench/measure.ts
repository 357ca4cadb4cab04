// Small timing helpers for the benchmarks: numbers to read, never pass/fail.
import { performance } from 'node:perf_hooks';

export interface Stats {
  readonly n: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly minMs: number;
}

/** Times `op` n times after `warmup` untimed runs; `prepare`, when given, runs untimed before each. */
export async function sample(
  n: number,
  op: (i: number) => Promise<unknown> | unknown,
  warmup = Math.min(5, n),
  prepare?: (i: number) => Promise<unknown>,
): Promise<Stats> {
  for (let i = 0; i < warmup; i++) {
    await prepare?.(-1 - i);
    await op(-1 - i);
  }
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await prepare?.(i);
    const start = performance.now();
    await op(i);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return { n, medianMs: at(0.5), p95Ms: at(0.95), minMs: times[0]! };
}

export const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1)).padStart(8);

export function table(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
}
