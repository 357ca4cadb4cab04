// Every command of `vsync`, in the order `vsync --help` lists them. Each is declared once, in its own
// client/commands/<name>.ts; the parser (args.ts), the help (help.ts) and the dispatch below are made from
// this list, so a command is added by writing its file and naming it here.
import type { Context } from './context.js';
import { backupsCommand } from './commands/backups.js';
import { daemonCommand } from './commands/daemon.js';
import { diffCommand } from './commands/diff.js';
import { logCommand } from './commands/log.js';
import { doctorCommand } from './commands/doctor.js';
import { eventsCommand } from './commands/events.js';
import { initCommand } from './commands/init.js';
import { forgetCommand } from './commands/forget.js';
import { keyCommand } from './commands/key.js';
import { lockCommand } from './commands/lock.js';
import { pullCommand } from './commands/pull.js';
import { runEnvCommand } from './commands/run.js';
import { pushCommand } from './commands/push.js';
import { statusCommand } from './commands/status.js';
import { useCommand } from './commands/use.js';
import { versionsCommand } from './commands/versions.js';
import { watchCommand } from './commands/watch.js';

export const COMMAND_TABLE = [
  initCommand,
  pushCommand,
  pullCommand,
  versionsCommand,
  diffCommand,
  logCommand,
  backupsCommand,
  useCommand,
  runEnvCommand,
  watchCommand,
  statusCommand,
  eventsCommand,
  lockCommand,
  keyCommand,
  daemonCommand,
  doctorCommand,
  forgetCommand,
] as const;

export type CommandSpecs = (typeof COMMAND_TABLE)[number];
/** What a command line asks for, once parsed: one of the commands' own inputs, told apart by `name`. */
export type Command = ReturnType<CommandSpecs['build']>;
export type CommandName = Command['name'];

export const COMMANDS: readonly CommandName[] = COMMAND_TABLE.map((spec) => spec.name);

export function commandSpec(name: CommandName): CommandSpecs {
  return COMMAND_TABLE.find((spec) => spec.name === name)!;
}

export function runCommand(command: Command, ctx: Context): Promise<void> {
  // Each spec's run takes what its own build made, and the command came from the spec of its name.
  const run = commandSpec(command.name).run as (command: Command, ctx: Context) => Promise<void>;
  return run(command, ctx);
}
