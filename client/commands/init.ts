// vsync init <env>: the agent makes the key, config and vault folder; a relative --store is resolved here,
// against the folder the user typed it in, since the agent runs elsewhere.
import { resolve } from 'node:path';
import type { InitRequest } from '../../shared/api.js';
import type { Command } from '../args.js';
import { streamProgress, type Context } from '../context.js';
import { initLines } from '../render.js';
import { expectInit } from '../result-shape.js';

export async function init(command: Extract<Command, { name: 'init' }>, ctx: Context): Promise<void> {
  const cwd = ctx.cwd();
  const body: InitRequest = {
    cwd,
    env: command.env,
    ...(command.store !== undefined ? { store: resolve(cwd, command.store) } : {}),
    ...(command.bucket !== undefined ? { bucket: command.bucket } : {}),
    ...(command.endpoint !== undefined ? { endpoint: command.endpoint } : {}),
    ...(command.region !== undefined ? { region: command.region } : {}),
    ...(command.prefix !== undefined ? { prefix: command.prefix } : {}),
    ...(command.pathStyle ? { forcePathStyle: true } : {}),
  };
  const result = expectInit(await ctx.request({ method: 'POST', path: '/v1/init', body, ...streamProgress(ctx) }));
  if (ctx.json) return ctx.out.json(result);
  for (const line of initLines(result)) ctx.out.line(line);
}
