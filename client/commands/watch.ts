// vsync watch <env> [--follow] | <env> --off | (nothing): have the agent push a vault on save, stop it, or
// list what it watches. All three start an agent when none answers (unlike lock): which vaults are watched
// is the agent's to say, and an agent that starts may well take up watches it kept from before.
import type { UnwatchRequest, WatchRequest } from '../../shared/api.js';
import type { Command } from '../args.js';
import type { Context } from '../context.js';
import { unwatchLine, watchLine, watchListLines } from '../render.js';
import { expectUnwatch, expectWatchEntry, expectWatchList } from '../result-shape.js';

export async function watch(command: Extract<Command, { name: 'watch' }>, ctx: Context): Promise<void> {
  if (command.env === undefined) {
    const result = expectWatchList(await ctx.request({ method: 'GET', path: '/v1/watch' }));
    if (ctx.json) return ctx.out.json(result);
    for (const line of watchListLines(result)) ctx.out.line(line);
    return;
  }
  if (command.off) {
    const body: UnwatchRequest = { cwd: ctx.cwd(), env: command.env };
    const result = expectUnwatch(await ctx.request({ method: 'POST', path: '/v1/unwatch', body }));
    if (ctx.json) return ctx.out.json(result);
    return ctx.out.line(unwatchLine(result));
  }
  const body: WatchRequest = { cwd: ctx.cwd(), env: command.env, ...(command.follow ? { follow: true } : {}) };
  const result = expectWatchEntry(await ctx.request({ method: 'POST', path: '/v1/watch', body }));
  if (ctx.json) return ctx.out.json(result);
  ctx.out.line(watchLine(result));
}
