// The one clock the agent's idle timers read (the key ring's key TTL, the memory collection after
// operations): Node's timers in the agent, a hand-turned one in tests (test/helpers/manual-timers.ts).
export interface IdleTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const nodeIdleTimers: IdleTimers = {
  // unref: an idle timer must not keep a process alive on its own.
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};
