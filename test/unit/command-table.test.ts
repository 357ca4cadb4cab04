// The command table (client/command-table.ts) is what the parser, the help and the dispatch are made of; this
// holds it to what a user reads and to the agent it calls: every option and subcommand is in its command's
// help, every command in `vsync --help`, every route it calls is one docs/API.md documents (api-doc.test.ts
// holds that to the routes the agent serves), and no client file calls a route the table does not declare.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from '../../client/args.js';
import type { CommandSpec } from '../../client/command.js';
import { COMMAND_TABLE } from '../../client/command-table.js';
import { helpText } from '../../client/help.js';
import { projectRoot } from '../helpers/built.js';
import { filesUnder } from '../helpers/import-graph.js';

type AnySpec = Pick<CommandSpec<{ name: string }>, 'name' | 'options' | 'actions' | 'positionals' | 'noJson'>;

/** What the command's help leaves out: each option as `  --name <value>` with its text, each subcommand with its text. */
function helpGaps(spec: AnySpec, help: string): string[] {
  const gaps: string[] = [];
  for (const o of spec.options) {
    const label = `--${o.name}${o.value === undefined ? '' : ` <${o.value}>`}`;
    const row = new RegExp(`\\n  ${literal(label)} +${literal(o.help.split('\n')[0]!)}\\n`);
    if (!row.test(help)) gaps.push(label);
  }
  for (const a of spec.actions ?? []) {
    if (a.help !== undefined && !new RegExp(`\\n  ${literal(a.name)} +${literal(a.help.split('\n')[0]!)}\\n`).test(help)) gaps.push(a.name);
    if (!help.includes(`vsync ${spec.name} ${a.name}`) && !new RegExp(`vsync ${spec.name} \\S*\\b${a.name}\\b`).test(help))
      gaps.push(`usage of ${a.name}`);
  }
  for (const always of spec.noJson === undefined ? ['--json', '-h, --help'] : ['-h, --help'])
    if (!help.includes(`\n  ${always} `)) gaps.push(always);
  if (spec.noJson !== undefined && help.includes('\n  --json ')) gaps.push('--json, which it does not take');
  if (!help.startsWith(`usage: vsync ${spec.name}`)) gaps.push('usage line');
  return gaps;
}

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

t.test('every option and subcommand of every command is in its help', async (t) => {
  for (const spec of COMMAND_TABLE) t.same(helpGaps(spec, helpText(spec.name)), [], `vsync ${spec.name} --help`);
  const options = COMMAND_TABLE.reduce((n, spec) => n + spec.options.length, 0);
  t.ok(options >= 14, `the table declares the options (${options})`);
});

t.test('every command is in the global help, in the table order', async (t) => {
  const help = helpText();
  const at = COMMAND_TABLE.map((spec) => help.indexOf(`\n  ${spec.name} `));
  for (const [i, spec] of COMMAND_TABLE.entries()) t.ok(at[i]! > 0, `vsync --help lists ${spec.name}`);
  t.same(
    [...at].sort((a, b) => a - b),
    at,
    'in the order of the table',
  );
});

t.test('the check itself: an option or subcommand left out of the help is seen', async (t) => {
  const push = COMMAND_TABLE.find((spec) => spec.name === 'push')!;
  const daemon = COMMAND_TABLE.find((spec) => spec.name === 'daemon')!;
  t.same(helpGaps({ ...push, options: [...push.options, { name: 'quiet', help: 'say nothing' }] }, helpText('push')), ['--quiet']);
  t.same(helpGaps({ ...push, options: [{ name: 'force', value: 'x', help: push.options[0]!.help }] }, helpText('push')), ['--force <x>']);
  t.same(
    helpGaps({ ...daemon, actions: [...(daemon.actions ?? []), { name: 'reload', help: 'read the settings again' }] }, helpText('daemon')),
    ['reload', 'usage of reload'],
  );
  t.same(helpGaps(push, helpText('pull')), ['--force', 'usage line']);
});

t.test('the table is well formed: unique names, optional positionals last, options the parser takes', async (t) => {
  t.same(new Set(COMMAND_TABLE.map((spec) => spec.name)).size, COMMAND_TABLE.length, 'command names are unique');
  for (const spec of COMMAND_TABLE) {
    const names = spec.options.map((o) => o.name);
    t.same(new Set(names).size, names.length, `${spec.name}: option names are unique`);
    t.notOk(names.includes('json') || names.includes('help'), `${spec.name}: --json and --help are everyone's, not declared`);
    const firstOptional = spec.positionals.findIndex((p) => p.startsWith('['));
    t.ok(firstOptional === -1 || spec.positionals.slice(firstOptional).every((p) => p.startsWith('[')), `${spec.name}: optional last`);
    t.ok(typeof spec.summary === 'string' || spec.summary.length > 0, `${spec.name}: a summary`);
    // Each declared option is taken by the parser: a flag alone, a value option with `=`, neither twice.
    const words = spec.positionals.filter((p) => !p.startsWith('['));
    const first = spec.actions?.[0]?.name;
    const line = words.map((_word, i) => (i === 0 && first !== undefined ? first : 'dev'));
    for (const o of spec.options) {
      const argv = [spec.name, ...line, o.value === undefined ? `--${o.name}` : `--${o.name}=x`];
      let error: unknown;
      try {
        parseArgs(argv);
      } catch (err) {
        error = err;
      }
      t.notMatch(String((error as Error | undefined)?.message), /unknown option|takes no value|needs a value/, argv.join(' '));
    }
  }
});

/** `METHOD /path` for each route heading of docs/API.md, as api-doc.test.ts reads them. */
function documented(): Set<string> {
  const text = readFileSync(join(projectRoot, 'docs', 'API.md'), 'utf8');
  return new Set([...text.matchAll(/^### (GET|POST|PUT|DELETE) (\/v1\/[^\s?]*)/gm)].map((m) => `${m[1]} ${m[2]}`));
}

t.test("the routes the table declares are the agent's (docs/API.md, held to the server by api-doc.test.ts)", async (t) => {
  const routes = documented();
  t.ok(routes.size >= 15, `docs/API.md was read (${routes.size} routes)`);
  for (const spec of COMMAND_TABLE) {
    t.ok(spec.routes.length > 0, `${spec.name} declares the routes it calls`);
    for (const r of spec.routes) t.ok(routes.has(`${r.method} ${r.path}`), `${spec.name}: ${r.method} ${r.path} is documented`);
  }
});

t.test('no client file names a route but through route(): each path is written once, where it is declared', async (t) => {
  const declared: string[] = [];
  for (const file of filesUnder(join(projectRoot, 'client'), '.ts')) {
    const code = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\/?\*)/.test(line));
    for (const line of code) {
      for (const m of line.matchAll(/['`](\/v1\/[a-z][^'`?$]*)/g)) {
        const by = /route\('(GET|POST)', '(\/v1\/[^']*)'\)/.exec(line);
        t.ok(by !== null && by[2] === m[1], `${file.slice(projectRoot.length + 1)}: ${m[1]} only in a route() declaration`);
        if (by) declared.push(`${by[1]} ${by[2]}`);
      }
    }
  }
  const inTable = new Set(COMMAND_TABLE.flatMap((spec) => spec.routes.map((r) => `${r.method} ${r.path}`)));
  t.same([...new Set(declared)].sort(), [...inTable].sort(), "every route the client declares is in some command's routes");
});
