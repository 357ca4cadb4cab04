// vsync status: the agent, its keys, each vault's last operation, and what it watches.
import type { Context } from '../context.js';
import { statusLines } from '../render.js';
import { expectStatus } from '../result-shape.js';

export async function status(ctx: Context): Promise<void> {
  const result = expectStatus(await ctx.request({ method: 'GET', path: '/v1/status' }));
  if (ctx.json) return ctx.out.json(result);
  for (const line of statusLines(result, ctx.now())) ctx.out.line(line);
}
