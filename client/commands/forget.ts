// vsync forget <env>: this machine lets go of a vault (config, key, sync record), backing the key up first,
// so that init can start over or a teammate's share file can take its place.
import type { ForgetRequest } from '../../shared/api.js';
import { defineCommand, route } from '../command.js';
import { forgetLines } from '../render.js';
import { expectForget } from '../result-shape.js';

export interface Forget {
  readonly name: 'forget';
  readonly env: string;
}

const FORGET = route('POST', '/v1/forget');

export const forgetCommand = defineCommand<Forget>({
  name: 'forget',
  summary: "remove <env>'s config and key from this machine (the key is backed up first)",
  about: `Removes this machine's config, keychain entry and sync record of <env>, after writing the key to a
share file under a new passphrase (\`vsync key import\` takes it back). The vault folder, its backups
and the store's versions stay as they are. Then \`vsync init <env>\` starts over, or \`vsync key import\`
brings in a teammate's key.`,
  positionals: ['<env>'],
  options: [],
  routes: [FORGET],
  build: ({ positionals: [env] }) => ({ name: 'forget', env: env! }),
  async run(command, ctx) {
    const body: ForgetRequest = { cwd: ctx.cwd(), env: command.env };
    const result = expectForget(await ctx.request({ ...FORGET, body }));
    if (ctx.json) return ctx.out.json(result);
    for (const line of forgetLines(result)) ctx.out.line(line);
  },
});
