// How both programs print a failure (the age convention): `<program>: error: …` then `<program>: hint: …`,
// on stderr, and the exit code from the registry.
import type { VsyncError } from './errors.js';

export function reportError(program: 'vsync' | 'vsyncd', err: VsyncError): void {
  process.stderr.write(`${program}: error: ${err.message}\n${program}: hint: ${err.hint}\n`);
  process.exitCode = err.exit;
}
