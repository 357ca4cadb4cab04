// What a command is, as client/command-table.ts lists it: each client/commands/<name>.ts declares its own in
// one place (its words, options and help, the routes it calls, how it turns a parsed line into its input and
// how it runs), and the parser (args.ts), the help (help.ts) and the dispatch (main.ts) are made from that.
import { VsyncError } from '../shared/errors.js';
import type { Context } from './context.js';

/** An option as typed after the command. `--json` and `--help` are every command's and are not declared. */
export interface OptionSpec {
  /** Without the dashes: `path-style`. */
  readonly name: string;
  /** A value option's placeholder in help (`dir` shows as `--store <dir>`); a flag has none. */
  readonly value?: string;
  /** What --help says of it; further lines go under the first. */
  readonly help: string;
}

/** A subcommand: the first positional's word (`daemon start`), with its line in --help when it has one. */
export interface ActionSpec {
  readonly name: string;
  readonly help?: string;
}

/** A route of the agent's, as docs/API.md heads it; a command's request spreads it and adds its body. */
export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: `/v1/${string}`;
}

export function route(method: Route['method'], path: Route['path']): Route {
  return { method, path };
}

/** A command line after parsing, before the command makes its input of it. */
export interface CommandLine {
  readonly positionals: readonly string[];
  readonly values: ReadonlyMap<string, string>;
  readonly flags: ReadonlySet<string>;
  /** CommandSpec.trailing's words, as typed. */
  readonly trailing: readonly string[];
}

export interface CommandSpec<C extends { readonly name: string }> {
  readonly name: C['name'];
  /**
   * Its lines in `vsync --help`: what it does in one line after `<name> <positionals>`; or, for a command
   * with several forms, each form with its own line. A text's further lines go under its first.
   */
  readonly summary: string | readonly (readonly [form: string, text: string])[];
  /** The forms --help shows after `usage: `; by default `vsync <name> <positionals> [--option <value>]…`. */
  readonly usage?: readonly string[];
  /** What --help says of the command before its options. */
  readonly about?: string;
  /** As help and errors name them: `<x>` is required, `[<x>]` optional (and only after the required ones). */
  readonly positionals: readonly string[];
  /**
   * A command line of its own after the positionals (`vsync run <env> [--] <command> [args…]`), as help names
   * it: from `--` or from the first word past the positionals, nothing is vsync's, options included.
   */
  readonly trailing?: string;
  /** Why the command has no --json (refused as USAGE), when it has none. */
  readonly noJson?: string;
  /** When given, the first positional must be one of these words; those with help are listed in --help. */
  readonly actions?: readonly ActionSpec[];
  readonly options: readonly OptionSpec[];
  /** What --help says of --json, when the command's JSON is not its result on one line. */
  readonly json?: string;
  /** Every route of the agent's it calls; test/unit/command-table.test.ts holds them to docs/API.md. */
  readonly routes: readonly Route[];
  /** The command's input from a line the parser checked against the declaration; throws USAGE for bad combinations. */
  build(line: CommandLine): C;
  /** Calls the agent and prints the answer (or, under --json, the answer as one line of JSON). */
  run(command: C, ctx: Context): Promise<void>;
}

/** Only for the inference: C comes from build() and is what run() takes. */
export function defineCommand<C extends { readonly name: string }>(spec: CommandSpec<C>): CommandSpec<C> {
  return spec;
}

/** A bad command line: USAGE (exit 2), with a hint naming the help to read. */
export function usage(detail: string, command?: string): VsyncError {
  return new VsyncError('USAGE', detail, command ? { hint: `run \`vsync ${command} --help\`` } : undefined);
}

export const TIMESTAMP = /^\d{8}-\d{6}$/;
