// Timers that move only when the test says so: an idle TTL is tested by turning the clock, not by sleeping
// and hoping the machine kept up.
import type { IdleTimers } from '../../daemon/vault/idle-timers.js';

export class ManualTimers implements IdleTimers {
  private now = 0;
  private next = 0;
  private readonly due = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): number {
    const id = ++this.next;
    this.due.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  /** How long each pending timer still has to run, soonest first. */
  pending(): number[] {
    return [...this.due.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  /** Moves the clock on by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const [id, timer] = [...this.due].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0] ?? [];
      if (id === undefined || !timer) break;
      this.due.delete(id);
      this.now = timer.at;
      timer.callback();
    }
    this.now = until;
  }
}
