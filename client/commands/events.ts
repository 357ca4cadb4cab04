// vsync events: follow GET /v1/events and print each event as it comes, until interrupted. The agent's
// stream has no end of its own; it closing means the agent stopped, which is reported as AGENT_UNREACHABLE.
import type { Context } from '../context.js';
import { internal } from '../failure.js';
import { clockTime, eventLine } from '../render.js';
import { expectEvent } from '../result-shape.js';
import type { SseMessage } from '../sse-reader.js';

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
    await ctx.request({ method: 'GET', path: '/v1/events', onEvent, signal: stop.signal });
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
