// vsync doctor [<env>]: the agent's checks of the keychain, the config and the store, after one of the
// client's own: that an agent answers at all, and is of this build. Prints every check, and exits with the
// registry's exit code of the first failure (0 when nothing failed), so a script can gate on it.
import type { DoctorCheck, DoctorRequest, DoctorResult } from '../../shared/api.js';
import { VsyncError, exitCodes, isErrorCode, registry } from '../../shared/errors.js';
import { VERSION } from '../../shared/version.js';
import { defineCommand, route } from '../command.js';
import type { Context } from '../context.js';
import { doctorLines } from '../render.js';
import { expectDoctor } from '../result-shape.js';

export interface Doctor {
  readonly name: 'doctor';
  /** With no env: the agent and the keychain only. */
  readonly env?: string;
}

const DOCTOR = route('POST', '/v1/doctor');

export const doctorCommand = defineCommand<Doctor>({
  name: 'doctor',
  summary: "check the agent and the keychain, and <env>'s config, key and store",
  about: `Checks what vsync relies on before you trust it, one line each: ok, warn, fail (with a hint), or skip
(a check it needs failed first).

  agent          the agent answers, and is of this vsync's version
  config         <env>'s config file for this repo reads
  keychain       <env>'s key is in the keychain and is the key the config was made with;
                 with no <env>: the keychain answers
  git            git ignores the vault folder and .env, and tracks neither
  store          the bucket (or folder) answers with these credentials
  clock          this machine's clock is within 2 minutes of the store's (fails beyond 15)
  if-none-match  the store refuses a second put-if-absent on a scratch object
  if-match       the store refuses a put-if-match with a stale ETag

The last three write a scratch object under <repo>/<env>/_doctor/ and remove it. Some S3-compatible
servers ignore conditional writes; on those, two teammates pushing at once can lose each other's push.
Exits 0 when nothing failed, else with the exit code of the first failure (docs/ERRORS.md).`,
  positionals: ['[<env>]'],
  options: [],
  routes: [DOCTOR],
  build: ({ positionals: [env] }) => ({ name: 'doctor', env }),
  run: doctor,
});

async function doctor(command: Doctor, ctx: Context): Promise<void> {
  const body: DoctorRequest = { cwd: ctx.cwd(), ...(command.env !== undefined ? { env: command.env } : {}) };
  let report: { agent?: DoctorResult['agent']; repo?: string; env?: string; checks: DoctorCheck[] };
  try {
    // Like every command, this starts an agent when none answers (unless VSYNC_NO_AUTOSTART says not to).
    const result = expectDoctor(await ctx.request({ ...DOCTOR, body }));
    report = { ...result, checks: [agentCheck(result.agent, VERSION), ...result.checks] };
  } catch (err) {
    // No agent to ask (none started, or it is going away): that is the one check there is to report.
    if (!(err instanceof VsyncError) || err.exit !== exitCodes.agent) throw err;
    report = { checks: [{ name: 'agent', status: 'fail', code: err.code, detail: err.message, hint: err.hint }] };
  }
  if (ctx.json) ctx.out.json(report);
  else for (const line of doctorLines(report.checks)) ctx.out.line(line);
  const failure = report.checks.find((c) => c.status === 'fail');
  if (failure)
    process.exitCode = failure.code !== undefined && isErrorCode(failure.code) ? registry[failure.code].exit : exitCodes.internal;
}

/** The agent answered; a different version (an agent left running across an upgrade) is worth a warning. */
export function agentCheck(agent: DoctorResult['agent'], clientVersion: string): DoctorCheck {
  const detail = `vsyncd ${agent.version} (pid ${agent.pid}) answers on ${agent.socket}`;
  if (agent.version === clientVersion) return { name: 'agent', status: 'ok', detail };
  return {
    name: 'agent',
    status: 'warn',
    detail: `${detail}, but this is vsync ${clientVersion}`,
    hint: 'restart the agent so that both are of one version: `vsync daemon stop` (the next command starts the new one)',
  };
}
