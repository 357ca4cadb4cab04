// vsync versions <env>: what the store holds, newest first; no key needed.
import { defineCommand, route } from '../command.js';
import { versionsLines } from '../render.js';
import { expectVersions } from '../result-shape.js';

export interface Versions {
  readonly name: 'versions';
  readonly env: string;
}

const VERSIONS = route('GET', '/v1/versions');

export const versionsCommand = defineCommand<Versions>({
  name: 'versions',
  summary: 'list the versions in the store, newest first',
  about: 'Lists every version in the store, newest first; * marks the one latest points at.',
  positionals: ['<env>'],
  options: [],
  routes: [VERSIONS],
  build: ({ positionals: [env] }) => ({ name: 'versions', env: env! }),
  async run(command, ctx) {
    const query = new URLSearchParams({ cwd: ctx.cwd(), env: command.env });
    const result = expectVersions(await ctx.request({ ...VERSIONS, path: `${VERSIONS.path}?${query}` }));
    if (ctx.json) return ctx.out.json(result);
    for (const line of versionsLines(result, ctx.now())) ctx.out.line(line);
  },
});
