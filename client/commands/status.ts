// vsync status: the agent, its keys, each vault's last operation, and what it watches.
import { STATUS } from '../autostart.js';
import { defineCommand } from '../command.js';
import { statusLines } from '../render.js';
import { expectStatus } from '../result-shape.js';

export interface Status {
  readonly name: 'status';
}

export const statusCommand = defineCommand<Status>({
  name: 'status',
  summary: "the agent, its unlocked keys, each vault's last operation, the watches",
  about: `Shows the agent (version, pid, uptime, socket), which keys it holds unlocked, each vault's last
operation, and the watched vaults with their state.`,
  positionals: [],
  options: [],
  routes: [STATUS],
  build: () => ({ name: 'status' }),
  async run(_command, ctx) {
    const result = expectStatus(await ctx.request(STATUS));
    if (ctx.json) return ctx.out.json(result);
    for (const line of statusLines(result, ctx.now())) ctx.out.line(line);
  },
});
