// vsync push <env>: the product page's five steps, printed as the agent reports them.
import type { PushRequest } from '../../shared/api.js';
import type { Command } from '../args.js';
import { streamProgress, type Context } from '../context.js';
import { pushLine } from '../render.js';
import { expectPush } from '../result-shape.js';

export async function push(command: Extract<Command, { name: 'push' }>, ctx: Context): Promise<void> {
  const body: PushRequest = { cwd: ctx.cwd(), env: command.env, ...(command.force ? { force: true } : {}) };
  const result = expectPush(await ctx.request({ method: 'POST', path: '/v1/push', body, ...streamProgress(ctx) }));
  if (ctx.json) return ctx.out.json(result);
  ctx.out.line(pushLine(result));
}
