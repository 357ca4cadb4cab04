// vsync log <env>: the versions, newest first, with who pushed each, from which machine, and what it changed.
import { defineCommand, route, usage } from '../command.js';
import { logLines } from '../log-lines.js';
import { expectLog } from '../result-shape.js';

export interface Log {
  readonly name: 'log';
  readonly env: string;
  readonly limit?: number;
}

const LOG = route('GET', '/v1/log');

export const logCommand = defineCommand<Log>({
  name: 'log',
  summary: 'who pushed each version, from where, and what it changed',
  about: `Lists the newest versions (20, or --limit), newest first, each with who pushed it (their git user.email,
else user@host), from which machine, and which files and variables it changed against the version before
it; values are never shown. A version pushed by the upstream tool or an older vsync shows who as unknown.`,
  positionals: ['<env>'],
  options: [{ name: 'limit', value: 'n', help: 'how many versions (1 to 1000; default 20)' }],
  routes: [LOG],
  build({ positionals: [env], values }) {
    const text = values.get('limit');
    const limit = text === undefined ? undefined : Number(text);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) {
      throw usage(`--limit ${JSON.stringify(text)}: a whole number from 1 to 1000`, 'log');
    }
    return { name: 'log', env: env!, ...(limit !== undefined ? { limit } : {}) };
  },
  async run(command, ctx) {
    const query = new URLSearchParams({ cwd: ctx.cwd(), env: command.env, ...(command.limit ? { limit: String(command.limit) } : {}) });
    const result = expectLog(await ctx.request({ ...LOG, path: `${LOG.path}?${query}` }));
    if (ctx.json) return ctx.out.json(result);
    for (const line of logLines(result, ctx.now())) ctx.out.line(line);
  },
});
