// `vsync init` makes sure git ignores the vault folder and `.env`: it appends the lines that are missing to
// the repo's top-level .gitignore (creating it), and never rewrites or reorders what is there. A pattern
// that already covers a path (asked of git: `.env*`, `infra/vault/`, .git/info/exclude) adds nothing.
//
// The .gitignore is the checkout's, so possibly a hostile commit's: it is opened without following a
// symlink, must be a regular file, and is only ever appended to.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ignoredByGit } from './git.js';

/** Read whole only to look for our own lines; a larger .gitignore is left to git's answer alone. */
const MAX_READ_BYTES = 1024 * 1024;

export interface GitignoreUpdate {
  readonly file: string;
  /** The lines appended, in order (empty when git already ignores both). */
  readonly added: string[];
  /** Why nothing could be written, when it could not: the caller warns. */
  readonly problem?: string;
}

export async function ignoreVaultInGit(root: string, vaultFolder: string): Promise<GitignoreUpdate> {
  const file = join(root, '.gitignore');
  const wanted = [`/${vaultFolder}/`, '/.env'];
  const checks = await Promise.all([ignoredByGit(root, `${vaultFolder}/`), ignoredByGit(root, '.env')]);
  let missing = wanted.filter((_, i) => !checks[i]);
  if (missing.length === 0) return { file, added: [] };

  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ELOOP' ? 'it is a symlink' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message;
    return { file, added: [], problem: `could not add ${missing.join(' and ')} to ${file}: ${why}` };
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { file, added: [], problem: `could not add ${missing.join(' and ')} to ${file}: it is not a regular file` };
    let text = '';
    let endsInNewline = true; // an empty file needs no newline before ours
    if (info.size > 0) {
      // Whole, to look for our own lines; of a larger one, its last byte alone.
      const whole = info.size <= MAX_READ_BYTES;
      const buffer = Buffer.alloc(whole ? info.size : 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, whole ? 0 : info.size - 1);
      const bytes = buffer.subarray(0, bytesRead);
      if (whole) text = bytes.toString('utf8');
      endsInNewline = bytes.at(-1) === 0x0a;
    }
    // Outside git (init --repo), git cannot answer: our own exact lines still count.
    const present = new Set(text.split(/\r?\n/).map((line) => line.trim()));
    missing = missing.filter((line) => !present.has(line));
    if (missing.length === 0) return { file, added: [] };
    const lead = endsInNewline ? '' : '\n';
    await handle.write(`${lead}# secrets: kept by vsync, never committed\n${missing.join('\n')}\n`);
    return { file, added: missing };
  } catch (err) {
    return { file, added: [], problem: `could not add ${missing.join(' and ')} to ${file}: ${(err as Error).message}` };
  } finally {
    await handle.close();
  }
}
