// test/vectors/reference.py: an implementation of docs/FORMAT.md that shares no code with vsync. The vector
// tests read its frozen files and ask it to check the same files, so that FORMAT.md alone is enough.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './built.js';
import { skipUnless } from './real-component.js';

export const PYTHON = '/usr/bin/python3';
export const VECTORS = join(projectRoot, 'test', 'vectors');
export const REFERENCE = join(VECTORS, 'reference.py');

/** The vector files (`*.json`) in a folder, in name order. */
export function vectorFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

function hasReference(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import cryptography'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The `skip` option of a t.test that runs reference.py (never a skip under CI). */
export function referenceSkip(): string | false {
  return skipUnless(hasReference(), 'reference.py needs /usr/bin/python3 with python3-cryptography');
}

/** reference.py's `command` over the vector files named in `dir`: its output and how many of its lines say `ok `. */
export function referenceChecks(command: 'check' | 'check-share', dir: string, files: string[]): { out: string; ok: number } {
  const out = execFileSync(PYTHON, [REFERENCE, command, ...files.map((f) => join(dir, f))], { encoding: 'utf8' });
  return {
    out,
    ok: out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('ok ')).length,
  };
}
