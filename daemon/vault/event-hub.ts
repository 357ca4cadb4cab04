// The agent's events (shared/events.ts), from whoever raises them (the vault service, the watchers, the
// lock route) to whoever follows them (GET /v1/events, and the watchers themselves). Numbered in order and
// dated here; delivered synchronously, and a listener that throws never stops the others or the raiser.
import type { AgentEvent, AgentEventInput } from '../../shared/events.js';

export type EventListener = (event: AgentEvent) => void;

export class EventHub {
  private nextId = 1;
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  emit(input: AgentEventInput): AgentEvent {
    const event = { ...input, id: this.nextId++, at: this.now().toISOString() } as AgentEvent;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A follower's failure is its own (a closed SSE stream); the event still happened.
      }
    }
    return event;
  }

  /** How many follow now (tests and the agent's own accounting: a dropped event stream is one fewer). */
  get followers(): number {
    return this.listeners.size;
  }

  /** Returns the unsubscribe. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}
