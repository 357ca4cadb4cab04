// `vsync diff`'s printout: a header naming the two sides, then each file that differs (+ added, - removed,
// ~ changed) with its sizes, and under a dotenv file each variable that differs, its value shown by length and
// fingerprint (docs/FORMAT.md §13), or as a JSON string with --show-values. Names and values are printed so
// that no byte of them can drive the terminal: anything with a control character is shown JSON-quoted.
import type { DiffResult, DiffSide, FileChange, KeyChange, MaskedValue } from '../shared/api.js';
import { formatSize, printable } from './render.js';

const MARK = { added: '+', removed: '-', changed: '~' } as const;

export function diffLines(r: DiffResult): string[] {
  const header = `${sideText(r.from)} → ${sideText(r.to)}`;
  if (r.same) return [`no differences: ${header}`];
  return [header, ...r.files.flatMap(fileLines)];
}

export function sideText(side: DiffSide): string {
  if (side.kind === 'version') return `version ${side.ts}`;
  if (side.kind === 'none') return 'nothing (never pushed)';
  return side.exists ? side.folder : `${side.folder} (not there)`;
}

function fileLines(file: FileChange): string[] {
  const sizes =
    file.change === 'changed'
      ? `${formatSize(file.fromBytes ?? 0)} → ${formatSize(file.toBytes ?? 0)}`
      : formatSize(file.toBytes ?? file.fromBytes ?? 0);
  const lines = [`${MARK[file.change]} ${printable(file.path)} (${sizes})`];
  if (file.keys?.length === 0) lines.push('    (no variable changed: comments or layout only)');
  for (const key of file.keys ?? []) lines.push(`    ${keyLine(key)}`);
  return lines;
}

function keyLine(key: KeyChange): string {
  const name = printable(key.name);
  if (key.change === 'changed') return `~ ${name}: ${valueText(key.from!)} → ${valueText(key.to!)}`;
  return `${MARK[key.change]} ${name} ${key.change === 'added' ? '=' : 'was'} ${valueText((key.to ?? key.from)!)}`;
}

function valueText(value: MaskedValue): string {
  if (value.value !== undefined) return JSON.stringify(value.value);
  return `‹${value.length} char${value.length === 1 ? '' : 's'} #${value.hash}›`;
}
