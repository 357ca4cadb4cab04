// vsync use [<env>]: repoint ./.env, or say what it is now.
import type { UseRequest } from '../../shared/api.js';
import type { Command } from '../args.js';
import { print, type Context } from '../context.js';
import { showUseLine, usePrintout } from '../render.js';
import { expectUse } from '../result-shape.js';

export async function use(command: Extract<Command, { name: 'use' }>, ctx: Context): Promise<void> {
  const body: UseRequest = { cwd: ctx.cwd(), ...(command.env !== undefined ? { env: command.env } : {}) };
  const result = expectUse(await ctx.request({ method: 'POST', path: '/v1/use', body }));
  if (ctx.json) return ctx.out.json(result);
  if (command.env !== undefined) print(ctx.out, usePrintout(result));
  else ctx.out.line(showUseLine(result));
}
