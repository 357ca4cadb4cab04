// `vsync log`'s printout: the versions as `versions` lists them (newest first, * on latest), each with who
// pushed it and from which machine, and under it what it changed against the version before it, in one line
// (names only; values never). Anything from the store is shown so that no byte of it can drive the terminal.
import type { LogEntry, LogResult } from '../shared/api.js';
import { ageOf, formatSize, plural, printable } from './render.js';

const UNKNOWN: Record<Exclude<LogEntry['entry'], 'ok'>, string> = {
  missing: 'unknown (no log entry: pushed by the upstream tool or an older vsync)',
  invalid: 'unknown (its log entry is damaged or not its own)',
  'other-key': "under another key than this machine's (a key rotation, docs/FORMAT.md §15): who and what unknown",
};

export function logLines(r: LogResult, nowMs: number): string[] {
  const shown = r.entries.length + r.more;
  const header = `${r.location} (${plural(shown, 'version', 'versions')})`;
  if (shown === 0) return [header, `  (none yet: push one with \`vsync push ${r.env}\`)`];
  const lines = [header];
  for (const e of r.entries) {
    lines.push(`${e.latest ? '*' : ' '} ${e.ts} ${formatSize(e.size)} ${ageOf(e.ts, nowMs)}  ${who(e)}`);
    if (e.reencrypted !== undefined) lines.push(`      key rotated: version ${e.reencrypted} re-encrypted under the new key`);
    else if (e.summary !== undefined) lines.push(`      ${printable(e.summary)}`);
  }
  if (r.more > 0)
    lines.push(`  … ${plural(r.more, 'older version', 'older versions')} (--limit ${r.entries.length + r.more} shows every one)`);
  return lines;
}

function who(e: LogEntry): string {
  if (e.entry !== 'ok' || e.by === undefined || e.machine === undefined) return UNKNOWN[e.entry === 'ok' ? 'invalid' : e.entry];
  const machine = e.machine.name !== undefined ? `${e.machine.name} (${e.machine.id})` : e.machine.id;
  return `${printable(e.by)} on ${printable(machine)}`;
}
