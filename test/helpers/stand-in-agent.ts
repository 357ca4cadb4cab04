// A stand-in for the agent on a real Unix socket, for the client's tests: every request recorded (method,
// URL, Accept, body) and answered by whatever `handle` the test sets; a 404 until it sets one. The real
// agent's side is test/integration/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOnExit } from './reaper.js';
import type { TestContext } from './tap-types.js';

export type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => unknown;

export interface StandInAgent {
  readonly socket: string;
  /** The test's own folder (removed at teardown), holding the socket and `home`. */
  readonly dir: string;
  /** An empty HOME for the client. */
  readonly home: string;
  handle: Handler;
  readonly seen: Array<{ method: string; url: string; accept: string; body: string }>;
}

export async function standInAgent(t: TestContext): Promise<StandInAgent> {
  const dir = removeOnExit(mkdtempSync(join(tmpdir(), 'vsi-')));
  const fake: StandInAgent = {
    socket: join(dir, 's.sock'),
    dir,
    home: join(dir, 'home'),
    handle: (_req, _body, res) => void res.writeHead(404).end(),
    seen: [],
  };
  mkdirSync(fake.home);
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      fake.seen.push({ method: req.method ?? '', url: req.url ?? '', accept: req.headers.accept ?? '', body });
      void fake.handle(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(fake.socket, resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  return fake;
}
