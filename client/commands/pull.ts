// vsync pull <env>: the product page's six steps (and the backup's path), printed as the agent reports them.
import type { PullRequest } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { TIMESTAMP, defineCommand, route } from '../command.js';
import { streamProgress } from '../context.js';
import { pullLine } from '../render.js';
import { expectPull } from '../result-shape.js';

export interface Pull {
  readonly name: 'pull';
  readonly env: string;
  readonly at?: string;
  readonly force: boolean;
}

const PULL = route('POST', '/v1/pull');

export const pullCommand = defineCommand<Pull>({
  name: 'pull',
  summary: 'back up the vault folder, then download and unpack latest',
  about: 'Backs up the vault folder, then downloads, decrypts, verifies and unpacks latest (or --at <ts>).',
  positionals: ['<env>'],
  options: [
    { name: 'at', value: 'ts', help: 'pull this version (YYYYMMDD-HHmmss, as `vsync versions <env>` lists them)' },
    { name: 'force', help: 'replace local changes that were never pushed (they are backed up first)' },
  ],
  routes: [PULL],
  build({ positionals: [env], values, flags }) {
    const at = values.get('at');
    // Checked here, before any agent is asked.
    if (at !== undefined && !TIMESTAMP.test(at)) throw new VsyncError('TIMESTAMP_INVALID', `--at ${JSON.stringify(at)}`);
    return { name: 'pull', env: env!, at, force: flags.has('force') };
  },
  async run(command, ctx) {
    const body: PullRequest = {
      cwd: ctx.cwd(),
      env: command.env,
      ...(command.at !== undefined ? { at: command.at } : {}),
      ...(command.force ? { force: true } : {}),
    };
    const result = expectPull(await ctx.request({ ...PULL, body, ...streamProgress(ctx) }));
    if (ctx.json) return ctx.out.json(result);
    ctx.out.line(pullLine(result));
  },
});
