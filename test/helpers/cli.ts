// The real `vsync` CLI as a child process: its stdout, stderr and exit code, with a HOME and a socket of
// the test's choosing.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI, built, childEnv } from './built.js';
import { reapAgentOf } from './reaper.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function vsync(args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [fileURLToPath(built(CLI)), ...args],
      { cwd: options.cwd, env: childEnv(options.env), timeout: options.timeoutMs ?? 180_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        // Only a socket the test chose: never the developer's own agent on the default path.
        if (options.env.VSYNC_SOCKET || options.env.XDG_RUNTIME_DIR) reapAgentOf(options.env);
        resolve({ code, stdout, stderr });
      },
    );
  });
}
