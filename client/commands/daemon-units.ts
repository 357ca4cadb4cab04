// The service files `vsync daemon install` writes: the templates in systemd/ and launchd/ with this
// machine's paths filled in, each escaped for the format it lands in. Pure, so every path a machine may
// have (spaces, %, $, &) is a unit test.
import { VsyncError } from '../../shared/errors.js';

/** launchd's name for the agent, reverse-DNS like the keychain service (tools.vsync). */
export const LAUNCHD_LABEL = 'tools.vsync.vsyncd';

/** In every file install writes; uninstall removes, and install replaces, only files that carry it. */
export const WRITTEN_BY = 'Written by `vsync daemon install`';

export interface ServicePaths {
  /** Absolute: the node that runs this vsync (process.execPath). */
  readonly node: string;
  /** Absolute: the agent's entry, dist/daemon/main.js. */
  readonly vsyncd: string;
}

export interface LaunchdPaths extends ServicePaths {
  /** Where this user's vsync looks for the agent. */
  readonly socket: string;
  /** The agent's stdout and stderr. */
  readonly log: string;
}

function refuseOdd(value: string, what: string): void {
  // A newline would end the directive (or the XML text) early; no real path holds control characters.
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new VsyncError('SERVICE_INSTALL_FAILED', `the ${what} path ${JSON.stringify(value)} holds a control character`, {
      hint: 'run vsync from a node and a checkout whose paths have no newlines or other control characters',
    });
  }
  if (!value.startsWith('/')) throw new VsyncError('INTERNAL', `the ${what} path ${JSON.stringify(value)} is not absolute`);
}

/**
 * One word of a systemd command line (systemd.service(5), "Command lines"). `%` starts a specifier
 * anywhere, so it is doubled; `$` starts a variable in the arguments but not in the executable's path
 * (systemd execs that path as written), so it is doubled in arguments only. A word with anything but the
 * plainest characters is double-quoted, with `\` and `"` escaped inside.
 */
export function systemdWord(value: string, position: 'executable' | 'argument'): string {
  const literal = (text: string) => {
    const specifiers = text.replace(/%/g, '%%');
    return position === 'argument' ? specifiers.replace(/\$/g, '$$$$') : specifiers;
  };
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return literal(value);
  return `"${literal(value.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}"`;
}

/** Text for a plist <string>. */
export function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function fill(template: string, values: Readonly<Record<string, string>>): string {
  const out = template.replace(/@([A-Z]+)@/g, (whole, name: string) => values[name] ?? whole);
  const left = /@[A-Z]+@/.exec(out);
  if (left) throw new VsyncError('INTERNAL', `the service template still holds ${left[0]} after filling it in`);
  if (!out.includes(WRITTEN_BY)) throw new VsyncError('INTERNAL', `the service template lacks the line "${WRITTEN_BY}"`);
  return out;
}

/** systemd/vsyncd.service or systemd/vsyncd.socket for this machine. */
export function renderSystemdUnit(template: string, paths: ServicePaths): string {
  refuseOdd(paths.node, 'node');
  refuseOdd(paths.vsyncd, 'vsyncd');
  return fill(template, { NODE: systemdWord(paths.node, 'executable'), VSYNCD: systemdWord(paths.vsyncd, 'argument') });
}

/** launchd/tools.vsync.vsyncd.plist for this machine. */
export function renderPlist(template: string, paths: LaunchdPaths): string {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries({ NODE: paths.node, VSYNCD: paths.vsyncd, SOCKET: paths.socket, LOG: paths.log })) {
    refuseOdd(value, name.toLowerCase());
    values[name] = xmlText(value);
  }
  return fill(template, values);
}
