// Results as the lines the product page shows, and the quantities in them as people read them: sizes in
// B/KiB/MiB, ages ("2h ago"), uptimes ("2h 5m"). Pure: a result (and a clock) in, lines out, so tests fix
// the clock; the commands decide where the lines go. One module rather than two: each costs start-up time.
import type {
  BackupsResult,
  RestoreResult,
  DoctorCheck,
  InitResult,
  KeyExportResult,
  KeyImportResult,
  KeyRotateResult,
  LockResult,
  PullResult,
  ForgetResult,
  PushResult,
  StatusResult,
  UnwatchResult,
  UseResult,
  VersionsResult,
  WatchEntry,
  WatchListResult,
} from '../shared/api.js';
import type { AgentEvent } from '../shared/events.js';
import type { ProgressEvent } from '../shared/progress.js';

// ---- quantities ----
const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `646 B` under 1 KiB, else one decimal in the largest binary unit that keeps the number at least 1. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  // 1023.95 and up would print as "1024.0": that is the next unit.
  while (value >= 1023.95 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

const VERSION_TS = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/;

/** Milliseconds since the epoch of a version timestamp (UTC `YYYYMMDD-HHmmss`) or an ISO time; NaN if neither. */
export function parseTime(text: string): number {
  const m = VERSION_TS.exec(text);
  if (m) return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Date.parse(text);
}

/** `just now` under a minute (and for a clock that runs behind), then `Nm ago`, `Nh ago`, `Nd ago`. */
export function formatAge(thenMs: number, nowMs: number): string {
  const seconds = Math.floor((nowMs - thenMs) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

/** The age of a timestamp text; the text itself when it is not a time. */
export function ageOf(text: string, nowMs: number): string {
  const then = parseTime(text);
  return Number.isNaN(then) ? text : formatAge(then, nowMs);
}

/** `3s`, `5m`, `2h 5m`, `1d 3h`: the two largest units, the second left out when zero. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    small > 0 ? `${big}${bigUnit} ${small}${smallUnit}` : `${big}${bigUnit}`;
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return pair(Math.floor(s / 3600), 'h', Math.floor((s % 3600) / 60), 'm');
  return pair(Math.floor(s / 86400), 'd', Math.floor((s % 86400) / 3600), 'h');
}

/** `HH:MM:SS` in the local time zone: an event stream is read as it happens, against the wall clock. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** `30 s`, `1.5 s`: a retry delay, to a tenth of a second. */
function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

// ---- results ----

/** What a command prints: lines for stdout, and warnings (printed `vsync: warning: …` on stderr). */
export interface Printout {
  readonly lines: readonly string[];
  readonly warnings: readonly string[];
}

export const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Text from the store or a file as it is, unless it holds a control character (it could drive the terminal): then JSON-quoted. */
export function printable(text: string): string {
  return /[\u0000-\u001f\u007f-\u009f]/.test(text) ? JSON.stringify(text) : text;
}

/** A progress event: a step as `[n/of] text`, a detail (`→ /path`) as its text; warnings go to stderr. */
export function progressPrintout(event: ProgressEvent): Printout {
  if (event.kind === 'warning') return { lines: [], warnings: [event.text] };
  return { lines: [event.kind === 'step' ? `[${event.n}/${event.of}] ${event.text}` : event.text], warnings: [] };
}

export function initPrintout(r: InitResult): Printout {
  const lines = [
    `✅ initialised ${r.repo}/${r.env}`,
    `  config: ${r.configFile}`,
    `  vault folder: ${r.vaultFolder.replace(/\/+$/, '')}/`,
    `  store: ${r.store}`,
  ];
  if (r.gitignore !== undefined) {
    lines.push(
      r.gitignore.added.length > 0
        ? `  ${r.gitignore.file}: added ${r.gitignore.added.join(' and ')} (commit it)`
        : `  ${r.gitignore.file}: git already ignores the vault folder and .env`,
    );
  }
  if (r.repoFile !== undefined) lines.push(`  repo name: ${r.repo}, written to ${r.repoFile} (commit it: teammates' vsync reads it)`);
  return { lines, warnings: r.warnings ?? [] };
}

/** After `forget <env>`: what went, where the key's backup is, and what stayed. */
export function forgetLines(r: ForgetResult): string[] {
  const lines = [`✅ forgot ${r.repo}/${r.env} on this machine`];
  if (r.configFile !== undefined) lines.push(`  removed config: ${r.configFile}`);
  lines.push(
    r.keychain !== undefined
      ? `  removed key: ${r.repo}/${r.env} (${r.keychain})`
      : '  no key removed (none stored here, or it comes from VSYNC_KEY)',
  );
  if (r.backup?.kind === 'share') {
    lines.push(`  key backed up: ${r.backup.file}`);
    if (r.backup.passphrase !== undefined)
      lines.push(`  its passphrase: ${r.backup.passphrase}  (to undo: vsync key import ${r.backup.file})`);
  } else if (r.backup !== undefined) {
    lines.push(`  key backed up (no config opens it, so as bare text): ${r.backup.file}`);
  }
  lines.push(
    `  kept: the vault folder, its backups and the store's versions`,
    `next: vsync init ${r.env}   or   vsync key import <share file>`,
  );
  return lines;
}

export function pushLine(r: PushResult): string {
  return `✅ pushed ${r.repo}/${r.env} (version: ${r.version})`;
}

export function pullLine(r: PullResult): string {
  return `✅ pulled ${r.repo}/${r.env} version ${r.version}`;
}

export function versionsLines(r: VersionsResult, nowMs: number): string[] {
  const header = `${r.location} (${plural(r.versions.length, 'version', 'versions')})`;
  if (r.versions.length === 0) return [header, `  (none yet: push one with \`vsync push ${r.env}\`)`];
  const keys = { earlier: '  (earlier key)', later: '  (later key: import a share file of it)' } as const;
  return [
    header,
    ...r.versions.map((v) => `${v.latest ? '*' : ' '} ${v.ts} ${formatSize(v.size)} ${ageOf(v.ts, nowMs)}${v.key ? keys[v.key] : ''}`),
  ];
}

/** `backups <env>`: laid out like versions, with each backup's file at the end of its line. */
export function backupsLines(r: BackupsResult, nowMs: number): string[] {
  const header = `${r.folder.replace(/\/+$/, '')}/ (${plural(r.backups.length, 'backup', 'backups')} of ${r.env})`;
  if (r.backups.length === 0) return [header, '  (none yet: each pull writes one before it replaces the vault folder)'];
  return [header, ...r.backups.map((b) => `  ${b.ts} ${formatSize(b.size)} ${ageOf(b.ts, nowMs)} ${b.path}`)];
}

/** After `backups restore`: what was put back, and how the folder now stands against the last sync. */
export function restoreLines(r: RestoreResult): string[] {
  const lines = [`✅ restored ${r.repo}/${r.env} from backup ${r.restored}`];
  if (r.synced !== undefined) {
    lines.push(
      r.unpushed
        ? `  unpushed: differs from ${r.synced}, the version last synced here (\`vsync push ${r.env}\` shares it)`
        : `  in step with ${r.synced}, the version last synced here`,
    );
  }
  return lines;
}

/** After `use <env>`: where `.env` now points. */
export function usePrintout(r: UseResult): Printout {
  return { lines: [`.env → ${r.target ?? ''}`], warnings: r.gitWarnings ?? [] };
}

/** After `use` with no env: what `.env` is now. */
export function showUseLine(r: UseResult): string {
  if (r.kind === 'symlink') return `.env → ${r.target ?? ''}`;
  if (r.kind === 'file') return '.env is a regular file (not managed by vsync)';
  return '.env does not exist';
}

export function statusLines(r: StatusResult, nowMs: number): string[] {
  const lines = [
    `vsyncd ${r.version} (pid ${r.pid}), up ${formatUptime(r.uptimeMs)}`,
    `socket: ${r.socket}`,
    r.locked || r.unlocked.length === 0 ? 'keys: locked' : `keys: unlocked for ${r.unlocked.join(', ')}`,
  ];
  if (r.vaults.length === 0) lines.push('vaults: none yet');
  else lines.push('vaults:');
  for (const { repo, env, last } of r.vaults) {
    const outcome = last.ok ? 'ok' : last.code ? `failed (${last.code})` : 'failed';
    lines.push(`  ${repo}/${env}: ${last.operation} ${outcome} ${ageOf(last.at, nowMs)}`);
  }
  // No section at all when nothing is watched: status reads as it did before watching existed. An agent
  // started before the upgrade that brought watching sends no `watches` (result-shape.ts lets that pass).
  const watches = r.watches ?? [];
  if (watches.length > 0) lines.push('watching:');
  for (const w of watches) {
    // A conflict is the one state that waits for the user, so the line says what to do.
    const todo = w.state === 'conflict' ? ' — pull --force (edits kept in a backup), or push --force' : '';
    lines.push(`  ${w.repo}/${w.env} (${w.root}): ${w.state}${w.follow ? ', follow' : ''}${w.message ? `: ${w.message}` : ''}${todo}`);
  }
  return lines;
}

export function lockLine(r: LockResult): string {
  return `🔒 locked (${plural(r.dropped, 'key', 'keys')} dropped)`;
}

/**
 * After `key export`: the file, the passphrase (shown this once, when the agent made it; else the file it
 * came from), and the rule that the two travel apart.
 */
export function keyExportLines(r: KeyExportResult, passphraseFile?: string): string[] {
  const name = r.file.slice(r.file.lastIndexOf('/') + 1);
  return [
    `✅ exported ${r.repo}/${r.env} to ${r.file}`,
    r.passphrase !== undefined ? `  passphrase: ${r.passphrase}` : `  passphrase: the one in ${passphraseFile ?? 'your passphrase file'}`,
    ...(r.passphrase !== undefined ? ['  (shown only now: vsync keeps no copy of it)'] : []),
    '  send the file and the passphrase by two different channels (say, the file by chat and the passphrase',
    '  by phone): either alone is useless, together they give the key',
    `  your teammate then runs, in their checkout: vsync key import ${name}`,
  ];
}

/** After `key import`: what was stored and what was there already; a warning when run in another repo. */
/** After `key rotate`: what happened, and what the team does next. */
export function keyRotateLines(r: KeyRotateResult): string[] {
  const exportIt = `  vsync key export ${r.env}   `;
  return [
    `✅ rotated the key of ${r.repo}/${r.env}: version ${r.version} holds version ${r.from} under the new key (${r.keychain})`,
    'next:',
    `${exportIt}a share file of the new key for each teammate who stays;`,
    `${' '.repeat(exportIt.length)}until they \`vsync key import\` it, their pulls say KEY_ROTATED`,
    `  versions before ${r.version} stay under the old key: only the old key opens them (pull --at)`,
    "  whoever left may still hold store credentials: revoke them (S3 access keys, the folder's permissions)",
  ];
}

export function keyImportPrintout(r: KeyImportResult): Printout {
  const both = r.key === 'present' && r.config === 'present';
  const lines = [
    both ? `✅ ${r.repo}/${r.env} was already imported: the same key and config are here` : `✅ imported ${r.repo}/${r.env}`,
    `  key: ${r.key === 'added' ? 'stored in' : r.key === 'replaced' ? "the vault's new key (after a rotation) replaced the old one in" : 'already in'} the keychain (${r.keychain})`,
    `  config: ${r.configFile}${r.config === 'present' ? ' (already there)' : r.config === 'replaced' ? ' (its new salt and key check)' : ''}`,
    `  store: ${r.store}`,
    `  next: vsync pull ${r.env}, then delete the share file`,
  ];
  const warnings =
    r.checkoutRepo !== undefined
      ? [
          `this folder is a checkout of "${r.checkoutRepo}", not "${r.repo}": vsync commands here use ${r.checkoutRepo}'s vaults; ` +
            `to use the imported one here, add a .vsync file with repo=${r.repo} at the top of this checkout`,
        ]
      : [];
  return { lines, warnings };
}

const folder = (path: string) => `${path.replace(/\/+$/, '')}/`;

/** After `watch <env>`: what the agent will now do on its own. */
export function watchLine(w: WatchEntry): string {
  const follow = w.follow ? ` and follows the remote every ${w.followEverySeconds} s` : '';
  return `👀 watching ${w.repo}/${w.env}: ${folder(w.vaultFolder)} pushes on save (debounce ${w.debounceMs} ms)${follow}`;
}

export function unwatchLine(r: UnwatchResult): string {
  return r.stopped ? `stopped watching ${r.repo}/${r.env}` : `${r.repo}/${r.env} was not being watched`;
}

/** `watch` with no env: one line per watch, its fields two spaces apart. */
export function watchListLines(r: WatchListResult): string[] {
  if (r.watches.length === 0) return ['not watching any vault (start with: vsync watch <env>)'];
  return r.watches.map((w) => {
    const state = `${w.state}${w.message ? `: ${w.message}` : ''}`;
    const last = w.lastVersion ? `  (last ${w.lastVersion})` : '';
    return `${w.repo}/${w.env}  ${w.root}  ${folder(w.vaultFolder)}  ${w.follow ? 'on save, follow' : 'on save'}  ${state}${last}`;
  });
}

/**
 * One event as `HH:MM:SS  type  repo/env  detail`, parts two spaces apart and empty parts left out. `time`
 * turns the event's instant into the clock text (clockTime, local; tests pass a fixed zone).
 */
export function eventLine(e: AgentEvent, time: (ms: number) => string = clockTime): string {
  const at = parseTime(e.at);
  const parts = [Number.isNaN(at) ? e.at : time(at), e.type];
  if (e.type === 'locked') parts.push(`${plural(e.dropped, 'key', 'keys')} dropped`);
  else if (e.type === 'storage-retry') parts.push(e.what, `attempt ${e.attempt} ${e.code}: ${e.message}`);
  else parts.push(`${e.repo}/${e.env}`, eventDetail(e));
  return parts.filter((part) => part !== '').join('  ');
}

function eventDetail(e: Exclude<AgentEvent, { type: 'locked' | 'storage-retry' }>): string {
  switch (e.type) {
    case 'watch-started':
      return e.follow ? 'follow' : '';
    case 'watch-stopped':
    case 'change-seen':
      return '';
    case 'push-started':
    case 'pull-started':
      return `(${e.trigger})`;
    case 'push-finished':
    case 'pull-finished':
      return `${e.version} (${e.trigger})`;
    case 'push-failed':
      return `(${e.trigger}) ${e.code}: ${e.message}${e.retryInMs !== undefined ? ` (retry in ${seconds(e.retryInMs)})` : ''}`;
    case 'pull-failed':
      return `(${e.trigger}) ${e.code}: ${e.message}`;
    case 'waiting':
    case 'conflict':
      return `${e.code}: ${e.message}`;
    case 'remote-moved':
      return e.version;
  }
}

// ---- doctor ----

// The longest check name (`if-none-match`): the columns line up the same with or without an env.
const CHECK_NAME_WIDTH = 13;

/**
 * `vsync doctor`: `<status>  <check>  <detail>` per check, the hint under each warning and failure, then one
 * line that sums it up.
 */
export function doctorLines(checks: readonly DoctorCheck[]): string[] {
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.status.padEnd(4)}  ${c.name.padEnd(CHECK_NAME_WIDTH)}  ${c.detail}`);
    if (c.hint && (c.status === 'warn' || c.status === 'fail')) lines.push(`${' '.repeat(4 + 2 + CHECK_NAME_WIDTH + 2)}hint: ${c.hint}`);
  }
  const named = (status: DoctorCheck['status']) => checks.filter((c) => c.status === status).map((c) => c.name);
  const failed = named('fail');
  const warned = named('warn');
  if (failed.length > 0) lines.push(`❌ ${plural(failed.length, 'check', 'checks')} failed: ${failed.join(', ')}`);
  else if (warned.length > 0) lines.push(`⚠️  nothing failed; ${plural(warned.length, 'warning', 'warnings')}: ${warned.join(', ')}`);
  else lines.push(`✅ all ${plural(checks.length, 'check', 'checks')} passed`);
  return lines;
}
