// A mistyped command, subcommand or option is told the word it is nearest to; garbage is told nothing; and
// `vsync help [<command>]` and `vsync version` are words of the parser's own.
import t from 'tap';
import { COMMANDS, parseArgs } from '../../client/args.js';
import { didYouMean, editDistance } from '../../client/did-you-mean.js';

const WORDS = [...COMMANDS, 'help', 'version'];

t.test('editDistance: insertions, deletions, substitutions and swaps of neighbours', async (t) => {
  const cases: Array<[string, string, number]> = [
    ['', '', 0],
    ['', 'abc', 3],
    ['push', 'push', 0],
    ['pul', 'pull', 1],
    ['psuh', 'push', 1],
    ['forse', 'force', 1],
    ['stauts', 'status', 1],
    ['restart', 'start', 2],
    ['ca', 'abc', 3],
    ['kitten', 'sitting', 3],
  ];
  for (const [a, b, d] of cases) {
    t.equal(editDistance(a, b), d, `${a} → ${b}`);
    t.equal(editDistance(b, a), d, `${b} → ${a}`);
  }
});

t.test('didYouMean: the nearest word, a unique beginning, or nothing', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['pul', 'pull'],
    ['psuh', 'push'],
    ['PUSH', 'push'],
    ['stauts', 'status'],
    ['verions', 'versions'],
    ['verison', 'version'],
    ['dameon', 'daemon'],
    ['hlep', 'help'],
    ['ev', 'events'],
    ['doc', 'doctor'],
    ['versio', 'version'],
    // Garbage, and what is near two words alike, get nothing.
    ['xyzzy', undefined],
    ['bogus', undefined],
    ['ls', undefined],
    ['foo', undefined],
    ['pu', undefined],
    ['pusl', undefined],
    ['p', undefined],
    ['', undefined],
  ];
  for (const [typed, expected] of cases) t.equal(didYouMean(typed, WORDS), expected, JSON.stringify(typed));
  t.equal(didYouMean('forse', ['force', 'json', 'help']), 'force');
  t.equal(didYouMean('f', ['force', 'json', 'help']), undefined, 'one letter is no beginning to go by');
});

t.test('a mistyped command or option is USAGE with a hint naming the word meant', async (t) => {
  const cases: Array<[string[], RegExp, RegExp]> = [
    [['pul', 'dev'], /^invalid usage: unknown command "pul"$/, /^did you mean `vsync pull`\?$/],
    [['--json', 'stauts'], /^invalid usage: unknown command "stauts"$/, /^did you mean `vsync status`\?$/],
    [['verison'], /^invalid usage: unknown command "verison"$/, /^did you mean `vsync version`\?$/],
    [
      ['push', 'dev', '--forse'],
      /^invalid usage: unknown option "--forse" for push$/,
      /^did you mean `--force`\? \(`vsync push --help` lists them all\)$/,
    ],
    [['pull', 'dev', '--at=20260516-113343', '--forc'], /unknown option "--forc" for pull$/, /^did you mean `--force`\?/],
    [['push', 'dev', '--jsno'], /unknown option "--jsno" for push$/, /^did you mean `--json`\?/],
    [['daemon', 'strat'], /^invalid usage: unknown daemon command "strat": /, /^did you mean `vsync daemon start`\?/],
    [['--verison'], /^invalid usage: unknown option "--verison"$/, /^did you mean `--version`\?$/],
    [['help', 'pus'], /^invalid usage: no help on "pus": it is not a command$/, /^did you mean `vsync help push`\?$/],
    // Garbage: the help to read, as before.
    [['xyzzy', 'dev'], /^invalid usage: unknown command "xyzzy"$/, /^run `vsync --help`/],
    [['push', 'dev', '--quietly'], /^invalid usage: unknown option "--quietly" for push$/, /^run `vsync push --help`$/],
    [['help', 'xyzzy'], /^invalid usage: no help on "xyzzy": it is not a command$/, /^run `vsync --help`/],
    [['help', 'push', 'pull'], /^invalid usage: unexpected argument "pull"/, /vsync --help/],
    [['help', '--forse'], /^invalid usage: unknown option "--forse" for help$/, /vsync --help/],
    [['version', 'now'], /^invalid usage: unexpected argument "now"/, /vsync --help/],
  ];
  for (const [argv, message, hint] of cases) t.throws(() => parseArgs(argv), { code: 'USAGE', exit: 2, message, hint }, argv.join(' '));
});

t.test('vsync help [<command>] and vsync version are the --help and --version', async (t) => {
  t.same(parseArgs(['help']), { name: 'help' });
  t.same(parseArgs(['help', 'push']), { name: 'help', topic: 'push' });
  t.same(parseArgs(['--json', 'help', 'daemon']), { name: 'help', topic: 'daemon' });
  t.same(parseArgs(['help', 'push', '--help']), { name: 'help', topic: 'push' });
  t.same(parseArgs(['help', 'help']), { name: 'help' });
  t.same(parseArgs(['help', 'version']), { name: 'help' });
  t.same(parseArgs(['version']), { name: 'version' });
  t.same(parseArgs(['version', '--json']), { name: 'version' });
  t.same(parseArgs(['version', '--help']), { name: 'help' });
  for (const name of COMMANDS) t.same(parseArgs(['help', name]), parseArgs([name, '--help']), `help ${name}`);
});
