// vsync versions <env>: what the store holds, newest first; no key needed.
import type { Command } from '../args.js';
import type { Context } from '../context.js';
import { versionsLines } from '../render.js';
import { expectVersions } from '../result-shape.js';

export async function versions(command: Extract<Command, { name: 'versions' }>, ctx: Context): Promise<void> {
  const query = new URLSearchParams({ cwd: ctx.cwd(), env: command.env });
  const result = expectVersions(await ctx.request({ method: 'GET', path: `/v1/versions?${query}` }));
  if (ctx.json) return ctx.out.json(result);
  for (const line of versionsLines(result, ctx.now())) ctx.out.line(line);
}
