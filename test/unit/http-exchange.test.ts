// The client's HTTP/1.1 on node:net (client/http-exchange.ts), against a server on a real Unix socket that
// writes exact bytes: each framing of an answer whole and cut into single bytes, the request as sent, and
// every broken answer an error rather than a short or padded body. The agent's real answers (fastify's) are
// covered by test/integration/, which runs the built CLI against the real agent.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { type Answer, type Exchange, exchange } from '../../client/http-exchange.js';
import { caught } from '../helpers/caught.js';

const GET: Exchange = { method: 'GET', path: '/v1/status', headers: { accept: 'application/json' } };

/** A server that hands each connection to `serve`, and the socket path to reach it. */
async function server(t: Test, serve: (conn: Socket, request: Promise<Buffer>) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vsync-exchange-'));
  const socket = join(dir, 's.sock');
  const listening = createServer((conn) => {
    // The request as received: everything up to the blank line, and the body its content-length names.
    const request = new Promise<Buffer>((resolve) => {
      let got = Buffer.alloc(0);
      conn.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        const end = got.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(got.subarray(0, end).toString())?.[1] ?? 0);
        if (got.length >= end + 4 + length) resolve(got);
      });
    });
    serve(conn, request);
  });
  await new Promise<void>((resolve) => listening.listen(socket, resolve));
  t.teardown(() => {
    listening.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return socket;
}

/** Answers every request with `bytes`, in one write or one byte at a time, then closes (or not). */
function replying(bytes: string, how: { bytewise?: boolean; close?: boolean } = {}) {
  return (conn: Socket, request: Promise<Buffer>) => {
    void request.then(async () => {
      if (!how.bytewise) conn.write(bytes);
      else
        for (const byte of Buffer.from(bytes)) {
          conn.write(Buffer.of(byte));
          await new Promise((resolve) => setImmediate(resolve));
        }
      if (how.close !== false) conn.end();
    });
  };
}

async function bodyOf(answer: Answer): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of answer.body) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

const FRAMINGS: Array<[string, string, string]> = [
  ['content-length', 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}', '{"ok":true}'],
  [
    'chunked, with an extension and a trailer',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"ok"\r\n6;x=y\r\n:true}\r\n0\r\nx-trailer: 1\r\n\r\n',
    '{"ok":true}',
  ],
  ['chunked, sizes in upper-case hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n', '0123456789'],
  ['the end of the connection', 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end', 'until the end'],
  ['an empty body', 'HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n', ''],
];

for (const [framing, bytes, body] of FRAMINGS) {
  t.test(`an answer framed by ${framing}, whole and one byte at a time`, async (t) => {
    for (const bytewise of [false, true]) {
      const answer = await exchange(await server(t, replying(bytes, { bytewise })), GET);
      t.equal(answer.status, Number(bytes.slice(9, 12)));
      t.equal(await bodyOf(answer), body, bytewise ? 'byte by byte' : 'in one write');
    }
  });
}

t.test('a body framed by its length is not read past its end', async (t) => {
  // The server leaves the connection open: the body ends at its length, not at the connection's end.
  const socket = await server(t, replying('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA', { close: false }));
  t.equal(await bodyOf(await exchange(socket, GET)), 'ok');
});

t.test('headers: names in lower case, repeated ones joined, values trimmed', async (t) => {
  const socket = await server(
    t,
    replying('HTTP/1.1 404 Not Found\r\nX-A:  one \r\nx-a: two\r\nContent-Type: text/plain\r\ncontent-length: 0\r\n\r\n'),
  );
  const answer = await exchange(socket, GET);
  t.equal(answer.status, 404);
  t.equal(answer.headers.get('x-a'), 'one, two');
  t.equal(answer.headers.get('content-type'), 'text/plain');
});

t.test('the request goes out as one HTTP/1.1 message that closes the connection', async (t) => {
  let received: Promise<Buffer> | undefined;
  const socket = await server(t, (conn, request) => {
    received = request;
    replying('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')(conn, request);
  });
  const body = Buffer.from(JSON.stringify({ cwd: '/r', env: 'dev', note: 'ünïcode' }));
  await bodyOf(await exchange(socket, { method: 'POST', path: '/v1/push?x=1', headers: { 'content-type': 'application/json' }, body }));
  const text = (await received!).toString();
  const [head = '', sent] = text.split('\r\n\r\n');
  const lines = head.split('\r\n');
  t.equal(lines[0], 'POST /v1/push?x=1 HTTP/1.1');
  t.ok(lines.includes('connection: close') && lines.includes('host: localhost'));
  t.ok(lines.includes('content-type: application/json'));
  t.ok(lines.includes(`content-length: ${body.length}`), 'the length in bytes, not characters');
  t.equal(sent, body.toString());
});

const BROKEN: Array<[string, string, RegExp]> = [
  ['a body cut short of its length', 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort', /closed 5 bytes before the end of the body/],
  ['a chunked body cut off in a chunk', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nA\r\n01234', /closed 5 bytes before the end/],
  ['a chunked body with no last chunk', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n', /closed in a chunk size/],
  ['a chunk longer than its size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n', /longer than/],
  ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n', /malformed chunk size/],
  ['a content-length that is not a number', 'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n', /unreadable content-length/],
  ['a transfer coding other than chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nxx', /transfer coding/],
];

for (const [what, bytes, error] of BROKEN) {
  t.test(`${what} is an error, not a short body`, async (t) => {
    const answer = await exchange(await server(t, replying(bytes)), GET);
    t.match(await caught(bodyOf(answer)), { message: error });
  });
}

const BAD_HEADS: Array<[string, string, RegExp]> = [
  ['no status line', 'SSH-2.0-OpenSSH\r\n\r\n', /does not start with an HTTP\/1.1 status line/],
  ['an interim answer', 'HTTP/1.1 100 Continue\r\n\r\n', /interim 100/],
  ['a header line with no name', 'HTTP/1.1 200 OK\r\n: x\r\n\r\n', /malformed header line/],
  ['a connection closed in the head', 'HTTP/1.1 200 OK\r\ncontent-le', /closed in the head of the answer/],
  ['a head that never ends', `HTTP/1.1 200 OK\r\n${'x-pad: y\r\n'.repeat(8000)}`, /longer than 65536 bytes/],
];

for (const [what, bytes, error] of BAD_HEADS) {
  t.test(`${what} is an error`, async (t) => {
    // The head that never ends is not closed either: the limit, not the end of the connection, stops it.
    const socket = await server(t, replying(bytes, { close: !what.includes('never ends') }));
    t.match(await caught(exchange(socket, GET)), { message: error });
  });
}

t.test('no answer within the idle time is the error the caller names', async (t) => {
  const socket = await server(t, () => {});
  const idle = { ms: 50, error: () => new Error('no answer in time') };
  t.match(await caught(exchange(socket, { ...GET, idle })), { message: 'no answer in time' });
});

t.test('an abort ends the wait for the head and the read of the body', async (t) => {
  const silent = await server(t, () => {});
  const stop = new AbortController();
  const pending = caught(exchange(silent, { ...GET, signal: stop.signal }));
  stop.abort();
  t.ok((await pending) instanceof Error, 'waiting for the head');
  const streaming = await server(
    t,
    (conn, request) => void request.then(() => conn.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n')),
  );
  const reading = new AbortController();
  const answer = await exchange(streaming, { ...GET, signal: reading.signal });
  const chunks: string[] = [];
  const read = caught(
    (async () => {
      for await (const chunk of answer.body) {
        chunks.push(chunk.toString());
        reading.abort();
      }
    })(),
  );
  t.ok((await read) instanceof Error, 'reading the body');
  t.same(chunks, ['ok']);
  t.match(await caught(exchange(silent, { ...GET, signal: reading.signal })), { name: 'AbortError' }, 'already aborted');
});

t.test('no listener: the connect error itself, with its code', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vsync-exchange-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.match(await caught(exchange(join(dir, 'none.sock'), GET)), { code: 'ENOENT' });
});
