// A real vsyncd on a real socket, for integration tests: started from the built code with its own HOME
// and socket, talked to over HTTP on the socket, stopped or killed at will.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { agentStateFile } from '../../shared/socket-path.js';
import { built, childEnv } from './built.js';
import { reapOnExit, removeOnExit, tiedToTest } from './reaper.js';
import { PATIENCE_MS } from './patience.js';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  json<T = unknown>(): T;
}

export function call(
  socket: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { socketPath: socket, method, path, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A short socket path in a fresh 0700 folder (Unix socket paths are limited to ~104 bytes), removed when the test process ends. */
export function freshSocket(): string {
  const dir = removeOnExit(mkdtempSync(join(tmpdir(), 'vsa-')));
  return join(dir, 's.sock');
}

/** The pid in the socket's state file (a killed agent leaves its own behind), or undefined. */
function statePid(socket: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(agentStateFile(socket), 'utf8')) as { pid?: number }).pid;
  } catch {
    return undefined;
  }
}

export interface Agent {
  readonly child: ChildProcess;
  readonly socket: string;
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface AgentOptions {
  readonly home: string;
  readonly socket: string;
  readonly env?: Record<string, string>;
  /** Wait for the socket to answer (default); false returns at once (for agents expected to fail). */
  readonly waitReady?: boolean;
}

export async function startAgent(options: AgentOptions): Promise<Agent> {
  mkdirSync(options.home, { recursive: true });
  const [command, args] = tiedToTest(process.execPath, [fileURLToPath(built('daemon/main'))]);
  const child = spawn(command, args, {
    env: childEnv({ HOME: options.home, VSYNC_SOCKET: options.socket, ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  reapOnExit(child.pid);
  // 'close', not 'exit': by then the pipes are drained, so output() holds the agent's last words.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const agent: Agent = {
    child,
    socket: options.socket,
    output: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (options.waitReady !== false) {
    // A guard against a hang, not a speed target: a loaded machine can take many seconds to start node.
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      // Ready: answering, and announced in its state file (written just after it starts listening).
      const ok = await call(options.socket, 'GET', '/v1/status').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok && statePid(options.socket) === child.pid) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`vsyncd did not start:\n${out}`);
      await sleep(25);
    }
  }
  return agent;
}
