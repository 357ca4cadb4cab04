// vsync events: follow GET /v1/events and print each event as it comes, until interrupted. The agent's
// stream has no end of its own; it closing means the agent stopped, which is reported as AGENT_UNREACHABLE.
import { defineCommand, route } from '../command.js';
import type { Context } from '../context.js';
import { internal } from '../failure.js';
import { clockTime, eventLine } from '../render.js';
import { expectEvent } from '../result-shape.js';
import type { SseMessage } from '../sse-reader.js';

export interface Events {
  readonly name: 'events';
}

const EVENTS = route('GET', '/v1/events');

export const eventsCommand = defineCommand<Events>({
  name: 'events',
  summary: 'print what the agent does (pushes, pulls, conflicts, …) as it happens',
  about: `Prints what the agent does, one line per event, as it happens: watches started and stopped, changes seen
in watched folders, pushes and pulls (by hand, on save, or following the remote) and how they ended,
conflicts, the remote moving, keys locked. Runs until interrupted; fails (exit 8) when the agent stops.`,
  positionals: [],
  options: [],
  json: 'print each event as the agent sends it: one JSON object per line',
  routes: [EVENTS],
  build: () => ({ name: 'events' }),
  run: (_command, ctx) => events(ctx),
});

/** What can end the command from outside: the process's signals and stdout, or a test's stand-ins. */
export interface Interrupts {
  once(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

export async function events(ctx: Context, interrupts: Interrupts = process, time: (ms: number) => string = clockTime): Promise<void> {
  // Interrupting is how this command is meant to end, so it ends quietly with exit code 0. Listening only
  // once means a second Ctrl-C, should the first not end it at once (an agent still starting), kills it.
  const stop = new AbortController();
  const quit = () => stop.abort();
  interrupts.once('SIGINT', quit);
  interrupts.once('SIGTERM', quit);
  const onEvent = (message: SseMessage): void => {
    const event = expectEvent(parse(message.data));
    // --json passes the agent's line through untouched; data that came in several lines is joined into one.
    if (ctx.json) ctx.out.line(message.data.includes('\n') ? JSON.stringify(event) : message.data);
    else ctx.out.line(eventLine(event, time));
  };
  try {
    await ctx.request({ ...EVENTS, onEvent, signal: stop.signal });
  } finally {
    interrupts.off('SIGINT', quit);
    interrupts.off('SIGTERM', quit);
  }
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    throw internal(`the agent sent an event that is not JSON: ${data.slice(0, 200)}`);
  }
}
