// vsync run <env> [--] <command> [args…]: starts the command with the vault's env file in its environment,
// without writing a .env anywhere. The agent reads the file (or, with --latest, the store's latest version in
// memory) and hands the variables over this user's socket; here they go into the child's environment and
// nowhere else. The child has our stdin, stdout and stderr; SIGINT, SIGTERM and SIGHUP sent to vsync are
// passed on to it, as npm and dotenv-cli do; vsync exits with its exit code, or 128 + the signal's number
// when a signal ended it, as a shell reports it.
import { constants } from 'node:os';
import type { EnvRequest, EnvResult } from '../../shared/api.js';
import { VsyncError } from '../../shared/errors.js';
import { defineCommand, route, usage } from '../command.js';
import type { Context } from '../context.js';
import { onDemand } from '../on-demand.js';
import { expectEnv } from '../result-shape.js';

export interface Run {
  readonly name: 'run';
  readonly env: string;
  readonly file?: string;
  readonly latest: boolean;
  readonly offlineOk: boolean;
  readonly override: boolean;
  readonly command: string;
  readonly args: readonly string[];
}

const ENV = route('POST', '/v1/env');
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export const runEnvCommand = defineCommand<Run>({
  name: 'run',
  summary: "start a command with the env's variables, no .env written",
  about: `Starts <command> with the variables of the vault's .env.<env> (or --file <path>, a path inside the vault
folder) added to its environment; nothing is written to disk. Variables already set in vsync's environment
win, unless --override. With --latest the values come from the store's latest version, decrypted in the
agent's memory; when the store cannot be reached that fails, unless --offline-ok takes the vault folder's
file instead (said on stderr). The command gets vsync's stdin, stdout and stderr; SIGINT, SIGTERM and SIGHUP
are passed on to it; vsync exits with its exit code (128 + n when signal n ended it).`,
  positionals: ['<env>'],
  trailing: '<command> [args…]',
  noJson: 'it would print secrets',
  options: [
    { name: 'file', value: 'path', help: 'the env file, as a path inside the vault folder (default .env.<env>)' },
    { name: 'latest', help: "take the values from the store's latest version, not the vault folder" },
    { name: 'offline-ok', help: 'with --latest: use the vault folder when the store cannot be reached' },
    { name: 'override', help: "the env file's values win over variables already set" },
  ],
  routes: [ENV],
  build({ positionals: [env], values, flags, trailing }) {
    if (flags.has('offline-ok') && !flags.has('latest')) throw usage('--offline-ok goes with --latest', 'run');
    const file = values.get('file');
    return {
      name: 'run',
      env: env!,
      ...(file !== undefined ? { file } : {}),
      latest: flags.has('latest'),
      offlineOk: flags.has('offline-ok'),
      override: flags.has('override'),
      command: trailing[0]!,
      args: trailing.slice(1),
    };
  },
  run,
});

async function run(command: Run, ctx: Context): Promise<void> {
  const body: EnvRequest = {
    cwd: ctx.cwd(),
    env: command.env,
    ...(command.file !== undefined ? { file: command.file } : {}),
    ...(command.latest ? { latest: true } : {}),
    ...(command.offlineOk ? { offlineOk: true } : {}),
  };
  const result = expectEnv(await ctx.request({ ...ENV, body }));
  if (result.offline) ctx.out.warning(`${result.offline.message}; using ${result.file} from the vault folder here (--offline-ok)`);
  process.exitCode = await runChild(command, childEnvironment(result, command.override));
}

/** The child's environment: ours and the file's, ours winning unless --override. */
export function childEnvironment(result: EnvResult, override: boolean, ours: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return override ? { ...ours, ...result.variables } : { ...result.variables, ...ours };
}

/** Runs the child to its end; its exit code, or 128 + n for signal n. */
function runChild(command: Run, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = onDemand.childProcess().spawn(command.command, command.args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => () => {
      // Our own signal: the child may already have it too (a terminal's Ctrl-C reaches the whole group).
      child.kill(signal);
    };
    const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const stop = () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      stop();
      reject(new VsyncError('RUN_COMMAND_NOT_STARTED', `${JSON.stringify(command.command)}: ${err.code ?? err.message}`, { cause: err }));
    });
    child.once('exit', (code, signal) => {
      stop();
      resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
