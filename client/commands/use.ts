// vsync use [<env>]: repoint ./.env, or say what it is now.
import type { UseRequest } from '../../shared/api.js';
import { defineCommand, route } from '../command.js';
import { print } from '../context.js';
import { showUseLine, usePrintout } from '../render.js';
import { expectUse } from '../result-shape.js';

export interface Use {
  readonly name: 'use';
  readonly env?: string;
}

const USE = route('POST', '/v1/use');

export const useCommand = defineCommand<Use>({
  name: 'use',
  summary: "point ./.env at <env>'s env file, or say where it points",
  about: "Points ./.env at <env>'s env file in the vault folder. With no <env>, says where ./.env points.",
  positionals: ['[<env>]'],
  options: [],
  routes: [USE],
  build: ({ positionals: [env] }) => ({ name: 'use', env }),
  async run(command, ctx) {
    const body: UseRequest = { cwd: ctx.cwd(), ...(command.env !== undefined ? { env: command.env } : {}) };
    const result = expectUse(await ctx.request({ ...USE, body }));
    if (ctx.json) return ctx.out.json(result);
    if (command.env !== undefined) print(ctx.out, usePrintout(result));
    else ctx.out.line(showUseLine(result));
  },
});
