// An HTTP proxy in front of the test's Ceph RGW that breaks chosen requests the way a hostile or failing
// network does: it stalls (accepts and never answers), resets a request halfway through its upload or a
// response halfway through its download, sends a body shorter than its Content-Length, sends half a body
// and then nothing more (the connection held open), or answers 5xx itself. Everything else passes through byte for byte, Host header included, so SigV4 signatures hold.
// A stalled request is held, not dropped: release() sends the held ones on to the store at last, as a
// network that was only very slow would, and their answers go back to whoever is still listening.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type Fault = 'stall' | 'stall-midway' | 'reset-upload' | 'reset-download' | 'truncate' | '500';

/** Which fault, if any, a request meets: by method and path (`/bucket/key`, path-style). */
export type FaultRule = (method: string, path: string) => Fault | undefined;

export interface FaultyProxy {
  readonly endpoint: string;
  /** The rule for the requests from now on; `undefined` passes everything. */
  rule: FaultRule | undefined;
  /** Requests that met a fault, as `<fault> <METHOD> <path>`. */
  readonly met: string[];
  /** Stalled requests held now (not yet released, their client still connected or not). */
  held(): number;
  /** Sends every held request on to the store; resolves with how many once each has its answer or failed. */
  release(): Promise<number>;
  close(): Promise<void>;
}

export async function faultyProxy(target: URL): Promise<FaultyProxy> {
  const sockets = new Set<Socket>();
  const holding: Array<{ req: IncomingMessage; res: ServerResponse; body: Promise<Buffer> }> = [];
  const proxy: FaultyProxy = {
    endpoint: '',
    rule: undefined,
    met: [],
    held: () => holding.length,
    release: async () => 0,
    close: async () => undefined,
  };

  /** `body`: the request's body already read (a held request), else it is piped from `req`. */
  const forward = (req: IncomingMessage, res: ServerResponse, fault: Fault | undefined, body?: Buffer): Promise<void> => {
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    res.on('close', done);
    const upstream = request(
      { host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        answer.on('end', done);
        if (res.destroyed) {
          answer.resume(); // a held request whose client went away: the store answers, nobody hears it
          return;
        }
        if (fault === 'reset-download' || fault === 'truncate' || fault === 'stall-midway') {
          const length = Number(answer.headers['content-length'] ?? 0);
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.write(body.subarray(0, Math.floor(length / 2)));
            // Reset: the connection dies. Truncate: the server says it is done, short of Content-Length.
            // Stall midway: the rest never comes, and the connection stays open until close().
            if (fault === 'reset-download') res.socket?.resetAndDestroy();
            else if (fault === 'truncate') res.socket?.end();
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.socket?.destroy();
      done();
    });
    if (body) upstream.end(body);
    else req.pipe(upstream);
    return finished;
  };

  const server: Server = createServer((req, res) => {
    const fault = proxy.rule?.(req.method ?? '', req.url ?? '');
    if (fault) proxy.met.push(`${fault} ${req.method} ${req.url}`);
    switch (fault) {
      case 'stall': {
        // Take the upload and hold the request, answering nothing until release().
        const chunks: Buffer[] = [];
        const body = new Promise<Buffer>((resolve) => {
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => resolve(Buffer.concat(chunks)));
        });
        holding.push({ req, res, body });
        return;
      }
      case 'reset-upload': {
        const half = Number(req.headers['content-length'] ?? 0) / 2;
        let seen = 0;
        req.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen >= half) req.socket.resetAndDestroy();
        });
        if (half === 0) req.socket.resetAndDestroy();
        return;
      }
      case '500':
        req.resume();
        req.on('end', () => {
          res.writeHead(500, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
        });
        return;
      default:
        void forward(req, res, fault);
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${port}`,
    release: async () => {
      const released = holding.splice(0);
      await Promise.all(released.map(async (h) => forward(h.req, h.res, undefined, await h.body)));
      return released.length;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}
