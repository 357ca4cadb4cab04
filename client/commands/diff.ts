// vsync diff <env> [<from> [<to>]]: what differs, file by file and dotenv key by key, values masked. Exits 0
// when the two sides hold the same files, 1 when they differ (as diff(1) does), and with the error's own code
// on a failure.
import type { DiffRequest } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { TIMESTAMP, defineCommand, route, usage } from '../command.js';
import { diffLines } from '../diff-lines.js';
import { expectDiff } from '../result-shape.js';

export interface Diff {
  readonly name: 'diff';
  readonly env: string;
  readonly from?: string;
  readonly to?: string;
  readonly showValues: boolean;
  /** --yes: the values may go where stdout goes, terminal or not. */
  readonly yes: boolean;
}

const DIFF = route('POST', '/v1/diff');
/** diff(1)'s answer for "they differ". */
export const DIFFERS = 1;

export const diffCommand = defineCommand<Diff>({
  name: 'diff',
  summary: 'what differs: the vault folder against the version synced here, or two versions',
  about: `Compares two sides file by file, and dotenv files (.env*) variable by variable. With no version, the
vault folder here against the version this checkout last synced (latest, if it synced none); with one, the
folder against that version; with two, the first version against the second. Values are shown by their
length and a short fingerprint (equal values, equal fingerprints; without the vault's key nobody can test a
guess against one). Exits 0 when nothing differs, 1 when something does.`,
  positionals: ['<env>', '[<from>]', '[<to>]'],
  options: [
    { name: 'show-values', help: 'show the values themselves (only on a terminal, or with --yes)' },
    { name: 'yes', help: 'with --show-values: print the values even where stdout is not a terminal' },
  ],
  json: 'the comparison as one line of JSON; values only with --show-values --yes',
  routes: [DIFF],
  build({ positionals: [env, from, to], flags }) {
    for (const ts of [from, to]) if (ts !== undefined && !TIMESTAMP.test(ts)) throw new VsyncError('TIMESTAMP_INVALID', JSON.stringify(ts));
    if (flags.has('yes') && !flags.has('show-values')) throw usage('--yes goes with --show-values', 'diff');
    return {
      name: 'diff',
      env: env!,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      showValues: flags.has('show-values'),
      yes: flags.has('yes'),
    };
  },
  async run(command, ctx) {
    // The values go where a person reads them, not into a pipe or a log, unless the person says so.
    if (command.showValues && !command.yes && (ctx.json || !process.stdout.isTTY)) {
      throw usage('--show-values prints secrets, and stdout is not a terminal: add --yes to print them anyway', 'diff');
    }
    const body: DiffRequest = {
      cwd: ctx.cwd(),
      env: command.env,
      ...(command.from ? { from: command.from } : {}),
      ...(command.to ? { to: command.to } : {}),
      ...(command.showValues ? { showValues: true } : {}),
    };
    const result = expectDiff(await ctx.request({ ...DIFF, body }));
    if (ctx.json) ctx.out.json(result);
    else for (const line of diffLines(result)) ctx.out.line(line);
    if (!result.same) process.exitCode = DIFFERS;
  },
});
