// vsync watch <env> [--follow] | <env> --off | (nothing): have the agent push a vault on save, stop it, or
// list what it watches. All three start an agent when none answers (unlike lock): which vaults are watched
// is the agent's to say, and an agent that starts may well take up watches it kept from before.
import type { UnwatchRequest, WatchRequest } from '../../shared/api.js';
import { defineCommand, route, usage } from '../command.js';
import { unwatchLine, watchLine, watchListLines } from '../render.js';
import { expectUnwatch, expectWatchEntry, expectWatchList } from '../result-shape.js';

/** With no env: list the watches (`follow` and `off` are then both false). */
export interface Watch {
  readonly name: 'watch';
  readonly env?: string;
  readonly follow: boolean;
  readonly off: boolean;
}

const LIST = route('GET', '/v1/watch');
const WATCH = route('POST', '/v1/watch');
const UNWATCH = route('POST', '/v1/unwatch');

export const watchCommand = defineCommand<Watch>({
  name: 'watch',
  summary: `push <env> on every save (--follow: pull teammates' pushes too);
with no <env>, list the watched vaults`,
  usage: ['vsync watch <env> [--follow]', 'vsync watch <env> --off', 'vsync watch'],
  about: `Has the agent push <env>'s vault folder each time a file in it is saved (once the saves settle), so the
store always holds what is on disk. When the remote moved meanwhile, nothing is pushed: the watch waits for
\`vsync pull <env> --force\` (your folder is backed up first) or \`vsync push <env> --force\`. With no
<env>, lists the watched vaults and how each is doing.`,
  positionals: ['[<env>]'],
  options: [
    { name: 'follow', help: 'also pull each version a teammate pushes, while the folder holds no unpushed edits' },
    { name: 'off', help: 'stop watching <env>' },
  ],
  routes: [LIST, WATCH, UNWATCH],
  build({ positionals: [env], flags }) {
    const follow = flags.has('follow');
    const off = flags.has('off');
    if (follow && off) throw usage('give --follow or --off, not both', 'watch');
    // Without an env the command lists the watches: a flag there would be silently ignored.
    if (env === undefined && (follow || off)) throw usage(`--${follow ? 'follow' : 'off'} needs <env>`, 'watch');
    return { name: 'watch', env, follow, off };
  },
  async run(command, ctx) {
    if (command.env === undefined) {
      const result = expectWatchList(await ctx.request(LIST));
      if (ctx.json) return ctx.out.json(result);
      for (const line of watchListLines(result)) ctx.out.line(line);
      return;
    }
    if (command.off) {
      const body: UnwatchRequest = { cwd: ctx.cwd(), env: command.env };
      const result = expectUnwatch(await ctx.request({ ...UNWATCH, body }));
      if (ctx.json) return ctx.out.json(result);
      return ctx.out.line(unwatchLine(result));
    }
    const body: WatchRequest = { cwd: ctx.cwd(), env: command.env, ...(command.follow ? { follow: true } : {}) };
    const result = expectWatchEntry(await ctx.request({ ...WATCH, body }));
    if (ctx.json) return ctx.out.json(result);
    ctx.out.line(watchLine(result));
  },
});
