// argv → what to do, as plain data: no I/O, so every good and bad command line is a unit test. Options may
// come before or after positionals (`--opt value` or `--opt=value`); `--json` and `--help` work everywhere.
import { VsyncError } from '../shared/errors.js';

export const COMMANDS = [
  'init',
  'push',
  'pull',
  'versions',
  'use',
  'watch',
  'status',
  'events',
  'lock',
  'daemon',
  'backups',
  'key',
  'doctor',
] as const;
export type CommandName = (typeof COMMANDS)[number];
export const DAEMON_ACTIONS = ['start', 'stop', 'status', 'install', 'uninstall'] as const;
export type DaemonAction = (typeof DAEMON_ACTIONS)[number];

export type Command =
  | {
      readonly name: 'init';
      readonly env: string;
      /** As typed: the init command resolves a relative folder against the working folder. */
      readonly store?: string;
      readonly bucket?: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly prefix?: string;
      readonly pathStyle: boolean;
    }
  | { readonly name: 'push'; readonly env: string; readonly force: boolean }
  | { readonly name: 'pull'; readonly env: string; readonly at?: string; readonly force: boolean }
  | { readonly name: 'versions'; readonly env: string }
  /** `backups <env>` lists; `backups restore <env> [<ts>]` puts one back (the newest without a ts). */
  | { readonly name: 'backups'; readonly env: string; readonly restore: boolean; readonly ts?: string }
  | { readonly name: 'use'; readonly env?: string }
  /** With no env: list the watches (`follow` and `off` are then both false). */
  | { readonly name: 'watch'; readonly env?: string; readonly follow: boolean; readonly off: boolean }
  | { readonly name: 'status' }
  | { readonly name: 'events' }
  | { readonly name: 'lock' }
  /** `dryRun` only with install and uninstall. */
  | { readonly name: 'daemon'; readonly action: DaemonAction; readonly dryRun?: boolean }
  /** With no env: the agent and the keychain only. */
  | { readonly name: 'doctor'; readonly env?: string }
  /** Paths as typed: the key command resolves them against the working folder. */
  | { readonly name: 'key'; readonly action: 'export'; readonly env: string; readonly out?: string; readonly passphraseFile?: string }
  | { readonly name: 'key'; readonly action: 'import'; readonly file: string; readonly passphraseFile?: string };

export type Invocation =
  | { readonly name: 'help'; readonly topic?: CommandName }
  | { readonly name: 'version' }
  | { readonly name: 'run'; readonly command: Command; readonly json: boolean };

interface Spec {
  /** Positional names as help shows them; `[<x>]` is optional and only last. */
  readonly positionals: readonly string[];
  readonly values: readonly string[];
  readonly flags: readonly string[];
}

const SPECS: Readonly<Record<CommandName, Spec>> = {
  init: { positionals: ['<env>'], values: ['store', 'bucket', 'endpoint', 'region', 'prefix'], flags: ['path-style'] },
  push: { positionals: ['<env>'], values: [], flags: ['force'] },
  pull: { positionals: ['<env>'], values: ['at'], flags: ['force'] },
  versions: { positionals: ['<env>'], values: [], flags: [] },
  // `<env>`, or `restore <env> [<ts>]`: build() tells the two apart.
  backups: { positionals: ['<env>', '[<env>]', '[<ts>]'], values: [], flags: [] },
  use: { positionals: ['[<env>]'], values: [], flags: [] },
  watch: { positionals: ['[<env>]'], values: [], flags: ['follow', 'off'] },
  status: { positionals: [], values: [], flags: [] },
  events: { positionals: [], values: [], flags: [] },
  lock: { positionals: [], values: [], flags: [] },
  daemon: { positionals: ['<start|stop|status|install|uninstall>'], values: [], flags: ['dry-run'] },
  doctor: { positionals: ['[<env>]'], values: [], flags: [] },
  // `export <env>` or `import <file>`: build() checks the second word, to name what is missing.
  key: { positionals: ['<export|import>', '[<env|file>]'], values: ['out', 'passphrase-file'], flags: [] },
};

const TIMESTAMP = /^\d{8}-\d{6}$/;

function usage(detail: string, command?: CommandName): VsyncError {
  return new VsyncError('USAGE', detail, command ? { hint: `run \`vsync ${command} --help\`` } : undefined);
}

function isCommand(word: string): word is CommandName {
  return (COMMANDS as readonly string[]).includes(word);
}

/** Throws USAGE (or TIMESTAMP_INVALID for a bad --at) for anything it does not understand. */
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
  // Help wins over everything else on the line, so `vsync push --bogus --help` still helps.
  if (rest.some((a) => a === '--help' || a === '-h')) return { name: 'help', topic: word };
  const parsed = parseOptions(word, rest);
  return { name: 'run', command: build(word, parsed), json: json || parsed.json };
}

interface Parsed {
  readonly positionals: string[];
  readonly values: Map<string, string>;
  readonly flags: Set<string>;
  json: boolean;
}

function parseOptions(name: CommandName, args: readonly string[]): Parsed {
  const spec = SPECS[name];
  const parsed: Parsed = { positionals: [], values: new Map(), flags: new Set(), json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      parsed.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const option = arg.startsWith('--') ? arg.slice(2, eq === -1 ? undefined : eq) : '';
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    if (option === 'json' || spec.flags.includes(option)) {
      if (inline !== undefined) throw usage(`--${option} takes no value`, name);
      if (option === 'json') parsed.json = true;
      else if (parsed.flags.has(option)) throw usage(`--${option} given twice`, name);
      else parsed.flags.add(option);
    } else if (spec.values.includes(option)) {
      let value = inline;
      if (value === undefined) {
        const next = args[i + 1];
        if (next === undefined || next.startsWith('--')) throw usage(`--${option} needs a value`, name);
        value = next;
        i++;
      }
      if (parsed.values.has(option)) throw usage(`--${option} given twice`, name);
      parsed.values.set(option, value);
    } else {
      throw usage(`unknown option ${JSON.stringify(eq === -1 ? arg : arg.slice(0, eq))} for ${name}`, name);
    }
  }
  const required = spec.positionals.filter((p) => !p.startsWith('[')).length;
  if (parsed.positionals.length < required) throw usage(`${name} needs ${spec.positionals[parsed.positionals.length]}`, name);
  if (parsed.positionals.length > spec.positionals.length) {
    throw usage(`unexpected argument ${JSON.stringify(parsed.positionals[spec.positionals.length])}`, name);
  }
  return parsed;
}

function build(name: CommandName, p: Parsed): Command {
  const env = p.positionals[0];
  switch (name) {
    case 'init': {
      const value = (option: string) => p.values.get(option);
      const command = {
        name,
        env: env!,
        store: value('store'),
        bucket: value('bucket'),
        endpoint: value('endpoint'),
        region: value('region'),
        prefix: value('prefix'),
        pathStyle: p.flags.has('path-style'),
      };
      if (command.store !== undefined && command.bucket !== undefined)
        throw usage('give --store (a local folder) or --bucket (S3), not both', name);
      const s3Only = (['endpoint', 'region', 'prefix'] as const).filter((o) => command[o] !== undefined).map((o) => `--${o}`);
      if (command.pathStyle) s3Only.push('--path-style');
      if (command.bucket === undefined && s3Only.length > 0) throw usage(`${s3Only.join(', ')} go with --bucket`, name);
      return command;
    }
    case 'push':
      return { name, env: env!, force: p.flags.has('force') };
    case 'pull': {
      const at = p.values.get('at');
      if (at !== undefined && !TIMESTAMP.test(at)) throw new VsyncError('TIMESTAMP_INVALID', `--at ${JSON.stringify(at)}`);
      return { name, env: env!, at, force: p.flags.has('force') };
    }
    case 'versions':
      return { name, env: env! };
    case 'backups': {
      // `restore` as the first word is always the action, so an env named `restore` cannot be listed: a
      // forgotten <env> after it must not quietly list instead of restoring.
      if (env !== 'restore') {
        if (p.positionals.length > 1) throw usage(`unexpected argument ${JSON.stringify(p.positionals[1])}`, name);
        return { name, env: env!, restore: false };
      }
      const [, target, ts] = p.positionals;
      if (target === undefined) throw usage('backups restore needs <env>', name);
      if (ts !== undefined && !TIMESTAMP.test(ts)) throw new VsyncError('TIMESTAMP_INVALID', JSON.stringify(ts));
      return { name, env: target, restore: true, ...(ts !== undefined ? { ts } : {}) };
    }
    case 'use':
    case 'doctor':
      return { name, env };
    case 'watch': {
      const follow = p.flags.has('follow');
      const off = p.flags.has('off');
      if (follow && off) throw usage('give --follow or --off, not both', name);
      // Without an env the command lists the watches: a flag there would be silently ignored.
      if (env === undefined && (follow || off)) throw usage(`--${follow ? 'follow' : 'off'} needs <env>`, name);
      return { name, env, follow, off };
    }
    case 'status':
    case 'events':
    case 'lock':
      return { name };
    case 'daemon': {
      const action = env!;
      if (!(DAEMON_ACTIONS as readonly string[]).includes(action)) {
        throw usage(`unknown daemon command ${JSON.stringify(action)}: start, stop, status, install or uninstall`, name);
      }
      if (action === 'install' || action === 'uninstall') return { name, action, dryRun: p.flags.has('dry-run') };
      if (p.flags.has('dry-run')) throw usage('--dry-run goes with install or uninstall', name);
      return { name, action: action as DaemonAction };
    }
    case 'key': {
      const [action, target] = p.positionals;
      const out = p.values.get('out');
      const passphraseFile = p.values.get('passphrase-file');
      const file = passphraseFile !== undefined ? { passphraseFile } : {};
      if (action === 'export') {
        if (target === undefined) throw usage('key export needs <env>', name);
        return { name, action, env: target, ...(out !== undefined ? { out } : {}), ...file };
      }
      if (action === 'import') {
        if (target === undefined) throw usage('key import needs <file>, the share file to import', name);
        if (out !== undefined) throw usage('--out goes with key export', name);
        return { name, action, file: target, ...file };
      }
      throw usage(`unknown key command ${JSON.stringify(action)}: export or import`, name);
    }
  }
}
