// Which files of a vault are dotenv files, and what they hold, as Node reads them (util.parseEnv: the same
// parser as `node --env-file`, so quoting, `export`, comments and multi-line values mean what they mean to
// the programs that load these files).
import { parseEnv } from 'node:util';

/** `.env`, `.env.dev`, `.env.local`, …, anywhere in the vault folder. */
export function isDotenvFile(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === '.env' || base.startsWith('.env.');
}

/**
 * The variables a dotenv file sets, or undefined when its bytes are not UTF-8 text (a file named like one
 * that is not one is compared as bytes). The result has no prototype: a key named `__proto__` is a key.
 */
export function parseDotenv(data: Buffer): Record<string, string> | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
  if (text.includes('\0')) return undefined;
  return Object.assign(Object.create(null) as Record<string, string>, parseEnv(text));
}
