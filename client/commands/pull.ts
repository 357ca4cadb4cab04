// vsync pull <env>: the product page's six steps (and the backup's path), printed as the agent reports them.
import type { PullRequest } from '../../shared/api.js';
import type { Command } from '../args.js';
import { streamProgress, type Context } from '../context.js';
import { pullLine } from '../render.js';
import { expectPull } from '../result-shape.js';

export async function pull(command: Extract<Command, { name: 'pull' }>, ctx: Context): Promise<void> {
  const body: PullRequest = {
    cwd: ctx.cwd(),
    env: command.env,
    ...(command.at !== undefined ? { at: command.at } : {}),
    ...(command.force ? { force: true } : {}),
  };
  const result = expectPull(await ctx.request({ method: 'POST', path: '/v1/pull', body, ...streamProgress(ctx) }));
  if (ctx.json) return ctx.out.json(result);
  ctx.out.line(pullLine(result));
}
