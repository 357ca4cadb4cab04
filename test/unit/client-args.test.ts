import t from 'tap';
import { COMMANDS, parseArgs } from '../../client/args.js';
import { helpText } from '../../client/help.js';
import { commandSpec } from '../../client/command-table.js';

t.test('good command lines', async (t) => {
  const cases: Array<[string[], unknown]> = [
    [[], { name: 'help' }],
    [['--help'], { name: 'help' }],
    [['-h'], { name: 'help' }],
    [['--version'], { name: 'version' }],
    [['-V'], { name: 'version' }],
    [['push', 'dev'], { name: 'run', json: false, command: { name: 'push', env: 'dev', force: false } }],
    [['push', '--force', 'dev'], { name: 'run', json: false, command: { name: 'push', env: 'dev', force: true } }],
    [['push', 'dev', '--json'], { name: 'run', json: true, command: { name: 'push', env: 'dev', force: false } }],
    [['--json', 'status'], { name: 'run', json: true, command: { name: 'status' } }],
    [
      ['pull', 'dev', '--at', '20260516-113343'],
      { name: 'run', json: false, command: { name: 'pull', env: 'dev', at: '20260516-113343', force: false } },
    ],
    [
      ['pull', '--at=20260516-113343', '--force', 'dev'],
      { name: 'run', json: false, command: { name: 'pull', env: 'dev', at: '20260516-113343', force: true } },
    ],
    [['versions', 'prod'], { name: 'run', json: false, command: { name: 'versions', env: 'prod' } }],
    [['use'], { name: 'run', json: false, command: { name: 'use' } }],
    [['use', 'dev'], { name: 'run', json: false, command: { name: 'use', env: 'dev' } }],
    [['lock'], { name: 'run', json: false, command: { name: 'lock' } }],
    [['daemon', 'start'], { name: 'run', json: false, command: { name: 'daemon', action: 'start' } }],
    [['daemon', 'stop', '--json'], { name: 'run', json: true, command: { name: 'daemon', action: 'stop' } }],
    [['daemon', 'status'], { name: 'run', json: false, command: { name: 'daemon', action: 'status' } }],
    [['init', 'dev'], { name: 'run', json: false, command: { name: 'init', env: 'dev', pathStyle: false } }],
    [
      ['init', 'dev', '--store', '../store'],
      { name: 'run', json: false, command: { name: 'init', env: 'dev', store: '../store', pathStyle: false } },
    ],
    [
      ['init', 'prod', '--bucket', 'b', '--endpoint=http://127.0.0.1:7480', '--region', 'us-east-1', '--prefix', '', '--path-style'],
      {
        name: 'run',
        json: false,
        command: {
          name: 'init',
          env: 'prod',
          bucket: 'b',
          endpoint: 'http://127.0.0.1:7480',
          region: 'us-east-1',
          prefix: '',
          pathStyle: true,
        },
      },
    ],
    // A value that starts with one dash is a value; with two, it is the next option (see the bad lines).
    [
      ['init', 'dev', '--bucket', 'b', '--prefix', '-p'],
      { name: 'run', json: false, command: { name: 'init', env: 'dev', bucket: 'b', prefix: '-p', pathStyle: false } },
    ],
    [['push', '-'], { name: 'run', json: false, command: { name: 'push', env: '-', force: false } }],
  ];
  for (const [argv, expected] of cases) t.same(parseArgs(argv), expected, argv.join(' ') || '(nothing)');
});

t.test('--help on every command, whatever else is on the line', async (t) => {
  for (const name of COMMANDS) {
    t.same(parseArgs([name, '--help']), { name: 'help', topic: name });
    t.same(parseArgs([name, '-h', '--bogus', 'x', 'y', 'z']), { name: 'help', topic: name });
    t.match(helpText(name), new RegExp(`^usage: vsync ${name}`));
    if (commandSpec(name).noJson === undefined) t.match(helpText(name), /--json/);
    else t.notMatch(helpText(name), /--json/, `${name} takes no --json`);
  }
  t.same(parseArgs(['--json', '--help']), { name: 'help' });
  for (const name of COMMANDS) t.match(helpText(), new RegExp(`\\n  ${name}\\b`), `global help names ${name}`);
});

t.test('bad command lines are USAGE errors (exit 2) with a hint naming the help to read', async (t) => {
  const cases: Array<[string[], RegExp, RegExp]> = [
    [['bogus'], /^invalid usage: unknown command "bogus"$/, /vsync --help/],
    [['--bogus'], /^invalid usage: unknown option "--bogus"$/, /vsync --help/],
    [['push'], /^invalid usage: push needs <env>$/, /`vsync push --help`/],
    [['pull', '--force'], /^invalid usage: pull needs <env>$/, /`vsync pull --help`/],
    [['versions'], /needs <env>/, /`vsync versions --help`/],
    [['init'], /needs <env>/, /`vsync init --help`/],
    [['daemon'], /daemon needs <start\|stop\|restart\|status\|install\|uninstall>/, /`vsync daemon --help`/],
    [['daemon', 'reload'], /unknown daemon command "reload"/, /`vsync daemon --help`/],
    [['push', 'dev', 'prod'], /unexpected argument "prod"/, /`vsync push --help`/],
    [['status', 'now'], /unexpected argument "now"/, /`vsync status --help`/],
    [['push', 'dev', '--at', '20260516-113343'], /unknown option "--at" for push/, /`vsync push --help`/],
    [['push', 'dev', '-f'], /unknown option "-f" for push/, /push --help/],
    [['push', 'dev', '--force=yes'], /--force takes no value/, /push --help/],
    [['push', 'dev', '--force', '--force'], /--force given twice/, /push --help/],
    [['pull', 'dev', '--at'], /--at needs a value/, /pull --help/],
    [['pull', 'dev', '--at', '--force'], /--at needs a value/, /pull --help/],
    [['init', 'dev', '--store', 'a', '--bucket', 'b'], /--store .* or --bucket .*, not both/, /init --help/],
    [['init', 'dev', '--region', 'eu-west-1', '--path-style'], /--region, --path-style go with --bucket/, /init --help/],
    [['lock', '--json=1'], /--json takes no value/, /lock --help/],
    // Where node:util's parseArgs, which splits the line, would read it otherwise: `--` ends nothing, a group
    // of short options is named as typed, and a value option may not be given twice.
    [['push', '--', 'dev'], /^invalid usage: unknown option "--" for push$/, /push --help/],
    [['push', 'dev', '-abc'], /^invalid usage: unknown option "-abc" for push$/, /push --help/],
    [['push', 'dev', '--bogus=1'], /^invalid usage: unknown option "--bogus" for push$/, /push --help/],
    [['key', 'export', 'dev', '--out', 'a', '--out=b'], /^invalid usage: --out given twice$/, /key --help/],
    [['key', 'bogus'], /^invalid usage: unknown key command "bogus": export, import or rotate$/, /key --help/],
  ];
  for (const [argv, message, hint] of cases) {
    t.throws(() => parseArgs(argv), { code: 'USAGE', exit: 2, message, hint }, argv.join(' '));
  }
});

t.test('a malformed --at is the timestamp error, before any agent is asked', async (t) => {
  t.throws(() => parseArgs(['pull', 'dev', '--at', '2026-05-16']), { code: 'TIMESTAMP_INVALID', exit: 2, message: /--at "2026-05-16"/ });
});

t.test('run: vsync options before the command, the command line after it untouched', async (t) => {
  const run = (argv: string[]) => {
    const parsed = parseArgs(argv);
    return parsed.name === 'run' ? parsed.command : parsed;
  };
  const base = { name: 'run', env: 'dev', latest: false, offlineOk: false, override: false };
  t.same(run(['run', 'dev', 'node', 'app.js']), { ...base, command: 'node', args: ['app.js'] });
  t.same(run(['run', 'dev', '--', 'node', '--json', '--help', '--']), { ...base, command: 'node', args: ['--json', '--help', '--'] });
  t.same(run(['run', 'dev', 'jq', '--json', '-h']), { ...base, command: 'jq', args: ['--json', '-h'] }, 'after the command: its options');
  t.same(run(['run', '--latest', '--offline-ok', 'dev', '--override', 'env']), {
    ...base,
    latest: true,
    offlineOk: true,
    override: true,
    command: 'env',
    args: [],
  });
  t.same(
    run(['run', 'dev', '--file', 'api/.env', 'printenv']),
    { ...base, file: 'api/.env', command: 'printenv', args: [] },
    'a value is not the command',
  );
  t.same(run(['run', '--file=x', 'dev', '--', '-weird-name']), { ...base, file: 'x', command: '-weird-name', args: [] });
  t.same(parseArgs(['run', 'dev', '--help']), { name: 'help', topic: 'run' });
  t.same(parseArgs(['run', 'dev', 'cmd', '--help']).name, 'run', "the command's --help is the command's");

  const refused: Array<[string[], RegExp]> = [
    [['run', 'dev'], /^invalid usage: run needs <command> \[args…\]$/],
    [['run', 'dev', '--'], /run needs <command>/],
    [['run', '--json', 'dev', 'x'], /^invalid usage: run has no --json: it would print secrets$/],
    [['--json', 'run', 'dev', 'x'], /run has no --json/],
    [['run', 'dev', '--offline-ok', 'x'], /--offline-ok goes with --latest/],
    [['run', 'dev', '--bogus', 'x'], /unknown option "--bogus" for run/],
    [['run'], /run needs <env>/],
  ];
  for (const [argv, message] of refused) t.throws(() => parseArgs(argv), { code: 'USAGE', exit: 2, message }, argv.join(' '));
});

t.test('diff: up to two versions; --yes only with --show-values', async (t) => {
  t.same(parseArgs(['diff', 'dev']), { name: 'run', json: false, command: { name: 'diff', env: 'dev', showValues: false, yes: false } });
  t.same(parseArgs(['diff', 'dev', '20260516-113304', '20260516-113305', '--show-values', '--yes']), {
    name: 'run',
    json: false,
    command: { name: 'diff', env: 'dev', from: '20260516-113304', to: '20260516-113305', showValues: true, yes: true },
  });
  t.throws(() => parseArgs(['diff', 'dev', 'yesterday']), { code: 'TIMESTAMP_INVALID' });
  t.throws(() => parseArgs(['diff', 'dev', '--yes']), { code: 'USAGE', message: /--yes goes with --show-values/ });
  t.throws(() => parseArgs(['diff', 'dev', '20260516-113304', '20260516-113305', '20260516-113306']), {
    code: 'USAGE',
    message: /unexpected argument/,
  });
});
