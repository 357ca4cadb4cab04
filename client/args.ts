// argv → what to do, as plain data: no I/O, so every good and bad command line is a unit test. The words and
// options each command takes come from its declaration in client/command-table.ts. Options may come before
// or after positionals (`--opt value` or `--opt=value`); `--json` and `--help` work everywhere. `vsync help
// [<command>]` and `vsync version` are the parser's own words. A mistyped command, subcommand or option is
// told the word it is nearest to (did-you-mean.ts).
import { parseArgs as parseTokens } from 'node:util';
import { VsyncError } from '../shared/errors.js';
import { type CommandLine, usage } from './command.js';
import { COMMAND_TABLE, COMMANDS, type Command, type CommandName, type CommandSpecs, commandSpec } from './command-table.js';
import { didYouMean } from './did-you-mean.js';

export { COMMANDS, type Command, type CommandName };

export type Invocation =
  | { readonly name: 'help'; readonly topic?: CommandName }
  | { readonly name: 'version' }
  | { readonly name: 'run'; readonly command: Command; readonly json: boolean };

function isCommand(word: string): word is CommandName {
  return COMMAND_TABLE.some((spec) => spec.name === word);
}

/** `vsync help` and `vsync version`: words of the parser's own, not commands of the table (no agent, no --json). */
const OWN_WORDS = ['help', 'version'] as const;

/** USAGE whose hint is the word the user probably meant, when there is one; else the help to read. */
function mistyped(detail: string, suggestion: string | undefined, command?: string): VsyncError {
  if (suggestion === undefined) return usage(detail, command);
  const help = command === undefined ? '' : ` (\`vsync ${command} --help\` lists them all)`;
  return new VsyncError('USAGE', detail, { hint: `did you mean \`${suggestion}\`?${help}` });
}

/** An option as typed (`--forse`, `-f`, up to any `=`) and the declared one it is nearest to, as `--name`. */
function nearestOption(typed: string, names: readonly string[]): string | undefined {
  const word = typed.replace(/^-+/, '');
  const near = word === '' ? undefined : didYouMean(word, names);
  return near === undefined ? undefined : `--${near}`;
}

/** Throws USAGE (or TIMESTAMP_INVALID for a bad timestamp) for anything it does not understand. */
export function parseArgs(argv: readonly string[]): Invocation {
  let json = false;
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { name: 'help' };
    if (arg === '--version' || arg === '-V') return { name: 'version' };
    if (arg === '--json') json = true;
    else throw mistyped(`unknown option ${JSON.stringify(arg)}`, nearestOption(arg.split('=')[0]!, ['help', 'version', 'json']));
  }
  const word = argv[i];
  if (word === undefined) return { name: 'help' };
  const rest = argv.slice(i + 1);
  if (word === 'help') return helpInvocation(rest);
  if (word === 'version') return versionInvocation(rest);
  if (!isCommand(word)) {
    const near = didYouMean(word, [...COMMANDS, ...OWN_WORDS]);
    throw mistyped(`unknown command ${JSON.stringify(word)}`, near === undefined ? undefined : `vsync ${near}`);
  }
  const spec = commandSpec(word);
  const [own, trailing] = spec.trailing === undefined ? [rest, []] : splitTrailing(spec, rest);
  // Help wins over everything else on the line, so `vsync push --bogus --help` still helps.
  if (own.some((a) => a === '--help' || a === '-h')) return { name: 'help', topic: word };
  const line = parseLine(spec, own, trailing);
  if (spec.noJson !== undefined && (json || line.json)) throw usage(`${spec.name} has no --json: ${spec.noJson}`, spec.name);
  return { name: 'run', command: spec.build(line), json: json || line.json };
}

/** `vsync help [<command>]`: the same text as `vsync [<command>] --help`. */
function helpInvocation(rest: readonly string[]): Invocation {
  const words = rest.filter((a) => a !== '--json' && a !== '--help' && a !== '-h');
  const option = words.find((a) => a.startsWith('-'));
  if (option !== undefined) {
    const typed = option.split('=')[0]!;
    throw mistyped(`unknown option ${JSON.stringify(typed)} for help`, nearestOption(typed, ['help', 'json']));
  }
  const [topic, extra] = words;
  if (extra !== undefined) throw usage(`unexpected argument ${JSON.stringify(extra)}: \`vsync help <command>\` takes one command`);
  if (topic === undefined || (OWN_WORDS as readonly string[]).includes(topic)) return { name: 'help' };
  if (isCommand(topic)) return { name: 'help', topic };
  const near = didYouMean(topic, [...COMMANDS, ...OWN_WORDS]);
  throw mistyped(`no help on ${JSON.stringify(topic)}: it is not a command`, near === undefined ? undefined : `vsync help ${near}`);
}

/** `vsync version`: the same as `vsync --version`. */
function versionInvocation(rest: readonly string[]): Invocation {
  if (rest.some((a) => a === '--help' || a === '-h')) return { name: 'help' };
  const other = rest.find((a) => a !== '--json');
  if (other === undefined) return { name: 'version' };
  if (other.startsWith('-')) {
    const typed = other.split('=')[0]!;
    throw mistyped(`unknown option ${JSON.stringify(typed)} for version`, nearestOption(typed, ['help', 'json']));
  }
  throw usage(`unexpected argument ${JSON.stringify(other)}: \`vsync version\` takes none`);
}

/**
 * A line with a command line of its own after it (CommandSpec.trailing): vsync's part ends at `--`, or at
 * the first word once the positionals are filled; an option's value is not a word (`--file x cmd`).
 */
function splitTrailing(spec: CommandSpecs, args: readonly string[]): [readonly string[], readonly string[]] {
  const valued = new Set(spec.options.filter((o) => o.value !== undefined).map((o) => `--${o.name}`));
  let filled = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return [args.slice(0, i), args.slice(i + 1)];
    if (arg.startsWith('-')) {
      if (valued.has(arg)) i++;
      continue;
    }
    if (filled === spec.positionals.length) return [args.slice(0, i), args.slice(i)];
    filled++;
  }
  return [args, []];
}

/**
 * node:util's parseArgs splits the line into tokens; the checks are ours, so that each bad line gets the
 * message it always had (its strict mode words them its own way, and lets an option be given twice).
 */
function parseLine(spec: CommandSpecs, args: readonly string[], trailing: readonly string[]): CommandLine & { readonly json: boolean } {
  const name = spec.name;
  const declared = new Map(spec.options.map((o) => [o.name, o]));
  const options = Object.fromEntries([
    ['json', { type: 'boolean' as const }],
    ...spec.options.map((o) => [o.name, { type: o.value === undefined ? ('boolean' as const) : ('string' as const) }]),
  ]);
  const { tokens } = parseTokens({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  let json = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    // An unknown option (or `--`, or a group of short ones) is named as typed, up to any `=`.
    const raw = args[token.index]!;
    const option = token.kind === 'option' && token.rawName.startsWith('--') ? token.name : undefined;
    const known = option === undefined ? undefined : declared.get(option);
    if (option === 'json' || (known !== undefined && known.value === undefined)) {
      if (token.kind === 'option' && token.value !== undefined) throw usage(`--${option} takes no value`, name);
      if (option === 'json') json = true;
      else if (flags.has(option!)) throw usage(`--${option} given twice`, name);
      else flags.add(option!);
    } else if (known !== undefined && token.kind === 'option') {
      // A value that looks like the next option is that option, forgotten the value before it.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) throw usage(`--${option} needs a value`, name);
      if (values.has(known.name)) throw usage(`--${option} given twice`, name);
      values.set(known.name, token.value);
    } else {
      const eq = raw.indexOf('=');
      const typed = eq === -1 ? raw : raw.slice(0, eq);
      const near = nearestOption(typed, ['json', 'help', ...declared.keys()]);
      throw mistyped(`unknown option ${JSON.stringify(typed)} for ${name}`, near, name);
    }
  }
  const required = spec.positionals.filter((p) => !p.startsWith('[')).length;
  if (positionals.length < required) throw usage(`${name} needs ${spec.positionals[positionals.length]}`, name);
  if (positionals.length > spec.positionals.length) {
    throw usage(`unexpected argument ${JSON.stringify(positionals[spec.positionals.length])}`, name);
  }
  const actions = spec.actions?.map((a) => a.name);
  if (actions !== undefined && !actions.includes(positionals[0]!)) {
    const choices = `${actions.slice(0, -1).join(', ')} or ${actions.at(-1)}`;
    const near = didYouMean(positionals[0]!, actions);
    throw mistyped(`unknown ${name} command ${JSON.stringify(positionals[0])}: ${choices}`, near && `vsync ${name} ${near}`, name);
  }
  if (spec.trailing !== undefined && trailing.length === 0) throw usage(`${name} needs ${spec.trailing}`, name);
  return { positionals, values, flags, trailing, json };
}
