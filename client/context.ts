// What a command needs from the world, in one object: where it runs, how to reach the agent, where its
// output goes, and the time. Commands stay plain functions over (input, context).
import { VsyncError } from '../shared/errors.js';
import type { Env } from '../shared/paths.js';
import { socketPath } from '../shared/socket-path.js';
import { AgentClient, isNoAgent, type AgentRequest } from './agent-client.js';
import { progressPrintout, type Printout } from './render.js';
import { retryAfterStart } from './autostart.js';

export interface Output {
  /** One line on stdout. */
  line(text: string): void;
  /** `vsync: warning: <text>` on stderr. */
  warning(text: string): void;
  /** The --json answer: one line on stdout. */
  json(value: unknown): void;
}

export interface Context {
  /** The working folder, absolute: the agent finds the repo from it. */
  cwd(): string;
  readonly json: boolean;
  readonly out: Output;
  /** The agent, without autostart: for the commands that must not start one (daemon stop, lock, …). */
  readonly client: AgentClient;
  /** One request, starting the agent first when none answers. */
  request(req: AgentRequest): Promise<unknown>;
  now(): number;
}

export const stdio: Output = {
  line: (text) => void process.stdout.write(`${text}\n`),
  warning: (text) => void process.stderr.write(`vsync: warning: ${text}\n`),
  json: (value) => void process.stdout.write(`${JSON.stringify(value)}\n`),
};

export function print(out: Output, printout: Printout): void {
  for (const line of printout.lines) out.line(line);
  for (const warning of printout.warnings) out.warning(warning);
}

export function processContext(json: boolean, env: Env = process.env, out: Output = stdio): Context {
  const client = new AgentClient(socketPath(env), env);
  return {
    cwd: () => {
      try {
        return process.cwd();
      } catch (err) {
        throw new VsyncError('USAGE', 'the working folder no longer exists', {
          cause: err,
          hint: 'cd into the repo and run the command again',
        });
      }
    },
    json,
    out,
    client,
    request: async (req) => {
      try {
        return await client.call(req);
      } catch (err) {
        if (!isNoAgent(err)) throw err;
      }
      return retryAfterStart(client, req);
    },
    now: () => Date.now(),
  };
}

/** For init, push and pull: print progress as it streams in; --json asks for the plain JSON answer instead. */
export function streamProgress(ctx: Context): Pick<AgentRequest, 'onProgress'> {
  return ctx.json ? {} : { onProgress: (event) => print(ctx.out, progressPrintout(event)) };
}
