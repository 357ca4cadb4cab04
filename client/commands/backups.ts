// vsync backups <env>: this machine's backups of the vault, newest first.
// vsync backups restore <env> [<ts>]: put one back, with the three steps printed as the agent reports them.
import type { RestoreRequest } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { TIMESTAMP, defineCommand, route, usage } from '../command.js';
import { type Context, streamProgress } from '../context.js';
import { backupsLines, restoreLines } from '../render.js';
import { expectBackups, expectRestore } from '../result-shape.js';

/** `backups <env>` lists; `backups restore <env> [<ts>]` puts one back (the newest without a ts). */
export interface Backups {
  readonly name: 'backups';
  readonly env: string;
  readonly restore: boolean;
  readonly ts?: string;
}

const LIST = route('GET', '/v1/backups');
const RESTORE = route('POST', '/v1/backups/restore');

export const backupsCommand = defineCommand<Backups>({
  name: 'backups',
  summary: [
    ['backups <env>', "list this machine's backups of <env> (written before each pull)"],
    ['backups restore <env> [<ts>]', 'put the newest backup (or <ts>) back in place of the vault folder'],
  ],
  usage: ['vsync backups <env>', 'vsync backups restore <env> [<ts>]'],
  about: `Each pull first backs up the vault folder, encrypted with the vault's key, to
~/.config/vsync/backups/<repo>/<env>-<ts>.zip.enc; the two newest are kept. The first form lists them,
newest first. The second puts one back (the newest, or <ts>): it decrypts and checks it, backs up the
folder as it is now, then swaps the backup in. The restored folder counts as your edit: push it to share
it, or pull --force to go back to the remote. docs/BACKUPS.md says how to decrypt one by hand.`,
  // `<env>`, or `restore <env> [<ts>]`: build() tells the two apart.
  positionals: ['<env>', '[<env>]', '[<ts>]'],
  options: [],
  routes: [LIST, RESTORE],
  build({ positionals }) {
    const [env, target, ts] = positionals;
    // `restore` as the first word is always the action, so an env named `restore` cannot be listed: a
    // forgotten <env> after it must not quietly list instead of restoring.
    if (env !== 'restore') {
      if (target !== undefined) throw usage(`unexpected argument ${JSON.stringify(target)}`, 'backups');
      return { name: 'backups', env: env!, restore: false };
    }
    if (target === undefined) throw usage('backups restore needs <env>', 'backups');
    if (ts !== undefined && !TIMESTAMP.test(ts)) throw new VsyncError('TIMESTAMP_INVALID', JSON.stringify(ts));
    return { name: 'backups', env: target, restore: true, ...(ts !== undefined ? { ts } : {}) };
  },
  async run(command, ctx) {
    if (command.restore) return restore(command, ctx);
    const query = new URLSearchParams({ cwd: ctx.cwd(), env: command.env });
    const result = expectBackups(await ctx.request({ ...LIST, path: `${LIST.path}?${query}` }));
    if (ctx.json) return ctx.out.json(result);
    for (const line of backupsLines(result, ctx.now())) ctx.out.line(line);
  },
});

async function restore(command: Backups, ctx: Context): Promise<void> {
  const body: RestoreRequest = { cwd: ctx.cwd(), env: command.env, ...(command.ts !== undefined ? { ts: command.ts } : {}) };
  const result = expectRestore(await ctx.request({ ...RESTORE, body, ...streamProgress(ctx) }));
  if (ctx.json) return ctx.out.json(result);
  for (const line of restoreLines(result)) ctx.out.line(line);
}
