// argv → what to do, as plain data: no I/O, so every good and bad command line is a unit test. The words and
// options each command takes come from its declaration in client/command-table.ts. Options may come before
// or after positionals (`--opt value` or `--opt=value`); `--json` and `--help` work everywhere.
import { parseArgs as parseTokens } from 'node:util';
import { type CommandLine, usage } from './command.js';
import { COMMAND_TABLE, COMMANDS, type Command, type CommandName, type CommandSpecs, commandSpec } from './command-table.js';

export { COMMANDS, type Command, type CommandName };

export type Invocation =
  | { readonly name: 'help'; readonly topic?: CommandName }
  | { readonly name: 'version' }
  | { readonly name: 'run'; readonly command: Command; readonly json: boolean };

function isCommand(word: string): word is CommandName {
  return COMMAND_TABLE.some((spec) => spec.name === word);
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
    else throw usage(`unknown option ${JSON.stringify(arg)}`);
  }
  const word = argv[i];
  if (word === undefined) return { name: 'help' };
  if (!isCommand(word)) throw usage(`unknown command ${JSON.stringify(word)}`);
  const rest = argv.slice(i + 1);
  const spec = commandSpec(word);
  const [own, trailing] = spec.trailing === undefined ? [rest, []] : splitTrailing(spec, rest);
  // Help wins over everything else on the line, so `vsync push --bogus --help` still helps.
  if (own.some((a) => a === '--help' || a === '-h')) return { name: 'help', topic: word };
  const line = parseLine(spec, own, trailing);
  if (spec.noJson !== undefined && (json || line.json)) throw usage(`${spec.name} has no --json: ${spec.noJson}`, spec.name);
  return { name: 'run', command: spec.build(line), json: json || line.json };
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
      throw usage(`unknown option ${JSON.stringify(eq === -1 ? raw : raw.slice(0, eq))} for ${name}`, name);
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
    throw usage(`unknown ${name} command ${JSON.stringify(positionals[0])}: ${choices}`, name);
  }
  if (spec.trailing !== undefined && trailing.length === 0) throw usage(`${name} needs ${spec.trailing}`, name);
  return { positionals, values, flags, trailing, json };
}
