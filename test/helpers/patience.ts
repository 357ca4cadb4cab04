// How long a test waits for something that must happen: a guard against a hang, never a speed target. A
// loaded machine (CI beside another job, a CPU hog) can take many seconds to start node or finish a push;
// tests wait for the event itself and give up only after this.
import { setTimeout as sleep } from 'node:timers/promises';

export const PATIENCE_MS = 120_000;

/** Resolves once `condition()` holds (checked every `everyMs`); rejects naming `what` after PATIENCE_MS. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, everyMs = 25): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${PATIENCE_MS / 1000} s`);
    await sleep(everyMs);
  }
}

/** `promise`, or a rejection naming `what` when it has not settled after PATIENCE_MS. */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${PATIENCE_MS / 1000} s`)), PATIENCE_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
