// Follows a real agent's GET /v1/events over its socket for a test: every event parsed with the shared
// schema (a malformed one fails the test), kept in order, and waited for by predicate.
import { request, type ClientRequest } from 'node:http';
import { SseReader } from '../../client/sse-reader.js';
import { AgentEventSchema, type AgentEvent } from '../../shared/events.js';
import { PATIENCE_MS } from './patience.js';

export interface EventFollower {
  readonly events: AgentEvent[];
  /** The first event from `from` on (an index into `events`) that matches; rejects after `timeoutMs`. */
  waitFor(match: (e: AgentEvent) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<AgentEvent>;
  /** Event types from `from` on, for comparing sequences. */
  types(from?: number, filter?: (e: AgentEvent) => boolean): string[];
  close(): void;
}

export function followEvents(socket: string): Promise<EventFollower> {
  return new Promise((resolve, reject) => {
    const events: AgentEvent[] = [];
    const waiters = new Set<() => void>();
    let failure: Error | undefined;
    let req: ClientRequest;
    const follower: EventFollower = {
      events,
      waitFor: (match, { from = 0, timeoutMs = PATIENCE_MS } = {}) =>
        new Promise((res, rej) => {
          const check = (): boolean => {
            if (failure) {
              rej(failure);
              return true;
            }
            const found = events.slice(from).find(match);
            if (found) res(found);
            return found !== undefined;
          };
          if (check()) return;
          const timer = setTimeout(() => {
            waiters.delete(waiter);
            rej(
              new Error(
                `no such event within ${timeoutMs} ms; saw: ${
                  events
                    .slice(from)
                    .map((e) => e.type)
                    .join(', ') || 'nothing'
                }`,
              ),
            );
          }, timeoutMs);
          const waiter = () => {
            if (check()) {
              clearTimeout(timer);
              waiters.delete(waiter);
            }
          };
          waiters.add(waiter);
        }),
      types: (from = 0, filter = () => true) =>
        events
          .slice(from)
          .filter(filter)
          .map((e) => e.type),
      close: () => req.destroy(),
    };
    req = request({ socketPath: socket, method: 'GET', path: '/v1/events' }, (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
        reject(new Error(`GET /v1/events answered ${res.statusCode} ${res.headers['content-type']}`));
        return;
      }
      const reader = new SseReader(); // the client's own reader: what `vsync events` parses, this parses
      res.on('data', (chunk: Buffer) => {
        for (const message of reader.push(chunk)) {
          try {
            events.push(AgentEventSchema.parse(JSON.parse(message.data)));
          } catch (err) {
            failure = new Error(`a malformed event: ${message.data}: ${(err as Error).message}`);
          }
        }
        for (const waiter of [...waiters]) waiter();
      });
      // The greeting comment arrives at once: from here on no event is missed.
      res.once('data', () => resolve(follower));
    });
    req.on('error', (err) => {
      failure = err;
      reject(err);
    });
    req.end();
  });
}

/** A predicate for waitFor: an event of this type (and, when given, this trigger). */
export const isType =
  (type: AgentEvent['type'], trigger?: string) =>
  (e: AgentEvent): boolean =>
    e.type === type && (trigger === undefined || ('trigger' in e && e.trigger === trigger));
