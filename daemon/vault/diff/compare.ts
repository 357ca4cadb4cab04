// Two sides of a vault compared file by file, and dotenv files key by key (pure: the sides are read by
// contents.ts). Values never leave here bare unless asked: each is shown by its length and keyed fingerprint
// (crypto/value-mask.ts), so a diff can be pasted into a chat or a CI log.
import type { FileChange, KeyChange, MaskedValue } from '../../../shared/api.js';
import type { ContentFile } from '../../bundle/bundle-contents.js';
import { fingerprint, maskKey } from '../../crypto/value-mask.js';
import { isDotenvFile, parseDotenv } from './dotenv-file.js';

export interface SideFile {
  readonly size: number;
  /** SHA-256, hex. */
  readonly sha256: string;
  /** The variables, for a dotenv file that parsed: each by length and fingerprint, and by value where it was read. */
  readonly vars?: Readonly<Record<string, MaskedValue>>;
}

/** One side: its files by path in the vault folder. */
export type Contents = ReadonlyMap<string, SideFile>;

export interface Masking {
  /** The value's fingerprint (value-mask.ts fingerprint under the vault's mask key). */
  fingerprint(value: string): string;
  /** Put the values themselves in the answer too. */
  readonly showValues: boolean;
}

/** The masking of a vault's values: fingerprints under its mask key (value-mask.ts). */
export function vaultMasking(aesKey: Buffer, showValues: boolean): Masking {
  const mask = maskKey(aesKey);
  return { fingerprint: (value) => fingerprint(mask, value), showValues };
}

/** A side's files as read (bundle-contents.ts), each dotenv file whose bytes were kept parsed and its values masked. */
export function toContents(files: readonly ContentFile[], masking: Masking): Contents {
  return new Map(
    files.map((file) => {
      const parsed = file.data !== undefined && isDotenvFile(file.path) ? parseDotenv(file.data) : undefined;
      const vars = parsed && Object.fromEntries(Object.entries(parsed).map(([name, value]) => [name, masked(value, masking)]));
      return [file.path, { size: file.size, sha256: file.sha256.toString('hex'), ...(vars ? { vars } : {}) }];
    }),
  );
}

/** What differs from `from` to `to`, in byte order of the paths; empty when they hold the same files. */
export function compareContents(from: Contents, to: Contents, masking: Masking): FileChange[] {
  const changes: FileChange[] = [];
  for (const path of byteOrder([...new Set([...from.keys(), ...to.keys()])])) {
    const before = from.get(path);
    const after = to.get(path);
    if (before && after && before.sha256 === after.sha256) continue;
    const keys = before?.vars || after?.vars ? compareVars(before, after, masking) : undefined;
    changes.push({
      path,
      change: before === undefined ? 'added' : after === undefined ? 'removed' : 'changed',
      ...(before ? { fromBytes: before.size } : {}),
      ...(after ? { toBytes: after.size } : {}),
      ...(keys ? { keys } : {}),
    });
  }
  return changes;
}

/** Key by key, when every side present parsed as dotenv (a file that stopped parsing is compared as bytes). */
function compareVars(before: SideFile | undefined, after: SideFile | undefined, masking: Masking): KeyChange[] | undefined {
  if ((before && !before.vars) || (after && !after.vars)) return undefined;
  const a = before?.vars ?? {};
  const b = after?.vars ?? {};
  const keys: KeyChange[] = [];
  for (const name of byteOrder([...new Set([...Object.keys(a), ...Object.keys(b)])])) {
    const was = Object.hasOwn(a, name) ? a[name] : undefined;
    const is = Object.hasOwn(b, name) ? b[name] : undefined;
    if (was && is && sameValue(was, is)) continue;
    keys.push({
      name,
      change: was === undefined ? 'added' : is === undefined ? 'removed' : 'changed',
      ...(was !== undefined ? { from: shown(was, masking) } : {}),
      ...(is !== undefined ? { to: shown(is, masking) } : {}),
    });
  }
  return keys;
}

/** By value where both sides were read; else (a log entry holds fingerprints only) by length and fingerprint. */
function sameValue(a: MaskedValue, b: MaskedValue): boolean {
  return a.value !== undefined && b.value !== undefined ? a.value === b.value : a.length === b.length && a.hash === b.hash;
}

function masked(value: string, masking: Masking): MaskedValue {
  return { length: [...value].length, hash: masking.fingerprint(value), value };
}

/** As the answer carries it: the value only when asked for. */
function shown({ value, ...rest }: MaskedValue, masking: Masking): MaskedValue {
  return masking.showValues && value !== undefined ? { ...rest, value } : rest;
}

/** Names in UTF-8 byte order (which is code point order): how vsync orders files and variables everywhere. */
export function byteOrder(names: string[]): string[] {
  return names.sort((x, y) => Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')));
}
