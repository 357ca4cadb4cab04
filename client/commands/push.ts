// vsync push <env>: the product page's five steps, printed as the agent reports them.
import type { PushRequest } from '../../shared/api.js';
import { defineCommand, route } from '../command.js';
import { streamProgress } from '../context.js';
import { pushLine } from '../render.js';
import { expectPush } from '../result-shape.js';

export interface Push {
  readonly name: 'push';
  readonly env: string;
  readonly force: boolean;
}

const PUSH = route('POST', '/v1/push');

export const pushCommand = defineCommand<Push>({
  name: 'push',
  summary: 'encrypt the vault folder and upload it as a new version',
  about: 'Zips the vault folder, seals and encrypts it, uploads it as a new version and moves latest to it.',
  positionals: ['<env>'],
  options: [{ name: 'force', help: 'replace the remote latest even if it moved since this machine last synced' }],
  routes: [PUSH],
  build: ({ positionals: [env], flags }) => ({ name: 'push', env: env!, force: flags.has('force') }),
  async run(command, ctx) {
    const body: PushRequest = { cwd: ctx.cwd(), env: command.env, ...(command.force ? { force: true } : {}) };
    const result = expectPush(await ctx.request({ ...PUSH, body, ...streamProgress(ctx) }));
    if (ctx.json) return ctx.out.json(result);
    ctx.out.line(pushLine(result));
  },
});
