// vsync doctor [<env>]: the agent's checks of the keychain, the config and the store, after one of the
// client's own: that an agent answers at all, and is of this build. Prints every check, and exits with the
// registry's exit code of the first failure (0 when nothing failed), so a script can gate on it.
import type { DoctorCheck, DoctorRequest, DoctorResult } from '../../shared/api.js';
import { VsyncError, exitCodes, isErrorCode, registry } from '../../shared/errors.js';
import { VERSION } from '../../shared/version.js';
import type { Command } from '../args.js';
import type { Context } from '../context.js';
import { doctorLines } from '../render.js';
import { expectDoctor } from '../result-shape.js';

export async function doctor(command: Extract<Command, { name: 'doctor' }>, ctx: Context): Promise<void> {
  const body: DoctorRequest = { cwd: ctx.cwd(), ...(command.env !== undefined ? { env: command.env } : {}) };
  let report: { agent?: DoctorResult['agent']; repo?: string; env?: string; checks: DoctorCheck[] };
  try {
    // Like every command, this starts an agent when none answers (unless VSYNC_NO_AUTOSTART says not to).
    const result = expectDoctor(await ctx.request({ method: 'POST', path: '/v1/doctor', body }));
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
