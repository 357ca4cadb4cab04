// The real vsync CLI on a real terminal: util-linux's `script` runs it on a pseudo-terminal, and the test
// types into it once the prompt is there, as a person would. The answer holds the terminal's transcript:
// whatever the terminal echoed would be in it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI, built, childEnv } from './built.js';

export interface TerminalRun {
  readonly code: number | null;
  readonly transcript: string;
}

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** Runs `vsync <args>` on a terminal; types `keys` once `prompt` shows in the transcript. */
export function vsyncOnTerminal(
  args: string[],
  options: { cwd: string; env: Record<string, string>; prompt: string; keys: string },
): Promise<TerminalRun> {
  const command = [process.execPath, fileURLToPath(built(CLI)), ...args].map(quote).join(' ');
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let transcript = '';
  let typed = false;
  const collect = (d: Buffer): void => {
    transcript += d.toString();
    if (!typed && transcript.includes(options.prompt)) {
      typed = true;
      child.stdin!.write(options.keys);
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin!.end();
      resolve({ code, transcript });
    });
  });
}
