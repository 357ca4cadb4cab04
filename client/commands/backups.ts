// vsync backups <env>: this machine's backups of the vault, newest first.
// vsync backups restore <env> [<ts>]: put one back, with the three steps printed as the agent reports them.
import type { RestoreRequest } from '../../shared/api.js';
import type { Command } from '../args.js';
import { streamProgress, type Context } from '../context.js';
import { backupsLines, restoreLines } from '../render.js';
import { expectBackups, expectRestore } from '../result-shape.js';

export async function backups(command: Extract<Command, { name: 'backups' }>, ctx: Context): Promise<void> {
  if (command.restore) return restore(command, ctx);
  const query = new URLSearchParams({ cwd: ctx.cwd(), env: command.env });
  const result = expectBackups(await ctx.request({ method: 'GET', path: `/v1/backups?${query}` }));
  if (ctx.json) return ctx.out.json(result);
  for (const line of backupsLines(result, ctx.now())) ctx.out.line(line);
}

async function restore(command: Extract<Command, { name: 'backups' }>, ctx: Context): Promise<void> {
  const body: RestoreRequest = { cwd: ctx.cwd(), env: command.env, ...(command.ts !== undefined ? { ts: command.ts } : {}) };
  const result = expectRestore(await ctx.request({ method: 'POST', path: '/v1/backups/restore', body, ...streamProgress(ctx) }));
  if (ctx.json) return ctx.out.json(result);
  for (const line of restoreLines(result)) ctx.out.line(line);
}
