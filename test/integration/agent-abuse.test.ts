// The real agent under abuse, on its real socket: raw bytes Node's HTTP parser refuses, requests too slow
// to arrive, connections that never send anything, hundreds of idle connections, a reader of the event
// stream that never reads, a shutdown with a body that is not `{}`, and paths that could never work. Each
// gets a coded answer or a closed connection, and the agent goes on answering everyone else.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorBodySchema } from '../../shared/api.js';
import { configFile } from '../../shared/paths.js';
import { call, freshSocket, startAgent, type Agent } from '../helpers/agent.js';
import { vsync } from '../helpers/cli.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';

const { base, cleanup } = tempBase('vsync-abuse-');
t.teardown(cleanup);
const HANG_GUARD_MS = 60_000;

// Nine agents, 1500 connections and thousands of requests on a shared machine: more than tap's default.
t.setTimeout(600_000);

async function agentWith(t: TestContext, name: string, env: Record<string, string> = {}): Promise<Agent> {
  const agent = await startAgent({
    home: join(base, name),
    socket: freshSocket(),
    env: { VSYNC_KEY: randomBytes(32).toString('base64'), ...env },
    waitReady: false,
  });
  t.teardown(() => agent.stop('SIGKILL'));
  // startAgent's own wait gives up after 10 s, which a busy machine can take.
  await waitFor('the agent to answer', async () => {
    if (agent.child.exitCode !== null) throw new Error(`vsyncd exited:\n${agent.output()}`);
    return statusOk(agent);
  });
  return agent;
}

/** Polls until `ok()`; the limit only keeps a broken agent from hanging the run. */
async function waitFor(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + HANG_GUARD_MS;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

interface Raw {
  readonly socket: Socket;
  readonly closed: Promise<string>;
  isClosed(): boolean;
}

/** A raw connection to the agent's socket: everything it receives, once the agent closes it. */
function raw(path: string, bytes?: string | Buffer): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let text = '';
    let closed = false;
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => undefined);
    const done = new Promise<string>((resolveClosed) =>
      socket.on('close', () => {
        closed = true;
        resolveClosed(text);
      }),
    );
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      if (bytes !== undefined) socket.write(bytes);
      resolve({ socket, closed: done, isClosed: () => closed });
    });
  });
}

async function exchange(path: string, bytes: string | Buffer): Promise<{ status: number; body: unknown; text: string }> {
  const connection = await raw(path, bytes);
  const guard = setTimeout(() => connection.socket.destroy(), HANG_GUARD_MS);
  const text = await connection.closed;
  clearTimeout(guard);
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
  const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4);
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    body = undefined;
  }
  return { status, body, text };
}

const statusOk = async (agent: Agent): Promise<boolean> =>
  (await call(agent.socket, 'GET', '/v1/status').catch(() => ({ status: 0 }))).status === 200;

/** The agent's log lines at level error (50) or worse: a stack where a debug line belongs. */
const errorLines = (agent: Agent): string[] =>
  agent
    .output()
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l));

t.test("what Node's HTTP parser refuses gets a coded error body, and the agent goes on", async (t) => {
  const agent = await agentWith(t, 'parser');
  const cases: Array<[string, string | Buffer, number, string]> = [
    ['a bad request line', 'GARBAGE\r\n\r\n', 400, 'AGENT_HTTP_INVALID'],
    ['an unknown method', 'BREW /v1/status HTTP/1.1\r\nHost: vsync\r\n\r\n', 400, 'AGENT_HTTP_INVALID'],
    [
      'bad chunking',
      'POST /v1/lock HTTP/1.1\r\nHost: vsync\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      400,
      'AGENT_HTTP_INVALID',
    ],
    ['a header without a colon', 'GET /v1/status HTTP/1.1\r\nHost: vsync\r\nno colon here\r\n\r\n', 400, 'AGENT_HTTP_INVALID'],
    [
      'headers over 16 KiB',
      `GET /v1/status HTTP/1.1\r\nHost: vsync\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'AGENT_HEADERS_TOO_LARGE',
    ],
    ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 404, 'AGENT_BAD_REQUEST'],
    ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, 'AGENT_HTTP_INVALID'],
    ['a TLS hello', Buffer.from('16030100a5010000a103030000000000', 'hex'), 400, 'AGENT_HTTP_INVALID'],
    [
      'both Content-Length and chunked',
      'POST /v1/lock HTTP/1.1\r\nHost: vsync\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}',
      400,
      'AGENT_HTTP_INVALID',
    ],
  ];
  for (const [name, bytes, status, code] of cases) {
    const answer = await exchange(agent.socket, bytes);
    t.equal(answer.status, status, `${name}: HTTP ${status}`);
    const body = ErrorBodySchema.safeParse(answer.body);
    t.ok(body.success, `${name}: {"error":{"code","message","hint"}} (${answer.text.slice(0, 80).replace(/\r\n/g, ' ')})`);
    t.equal(body.data?.error.code, code, `${name}: ${code}`);
    t.ok(await statusOk(agent), `${name}: the agent still answers`);
  }
  t.same(errorLines(agent), [], 'no error lines in the log');
  t.equal(agent.child.exitCode, null, 'still running');
});

t.test('POST /v1/shutdown with a body that is not {} is refused and stops nothing', async (t) => {
  const agent = await agentWith(t, 'shutdown');
  const post = (body: string, type = 'application/json') =>
    `POST /v1/shutdown HTTP/1.1\r\nHost: vsync\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  const cases: Array<[string, string]> = [
    ['not JSON', post('stop')],
    ['half a JSON object', post('{"now":')],
    ['a field', post('{"now":true}')],
    ['null', post('null')],
    ['an array', post('[]')],
    ['a 1 MiB body', post(JSON.stringify({ pad: 'x'.repeat(1 << 20) }))],
    ['text/plain', post('{}', 'text/plain')],
  ];
  for (const [name, bytes] of cases) {
    const answer = await exchange(agent.socket, bytes);
    // A body over the limit is refused before it is read; the refusal can be lost to the reset that closing a
    // connection with unread bytes causes, depending on who gets the CPU first. Refused either way.
    if (name === 'a 1 MiB body' && answer.status === 0) {
      t.pass(`${name}: cut off before it was read`);
    } else {
      t.equal(answer.status, 400, `${name}: 400`);
      t.match(answer.body, { error: { code: 'AGENT_BAD_REQUEST' } }, `${name}: AGENT_BAD_REQUEST`);
    }
    t.ok(await statusOk(agent), `${name}: the agent still answers`);
  }
  t.notMatch(agent.output(), /stopping \(shutdown requested\)/, 'never began to stop');
  const bye = await call(agent.socket, 'POST', '/v1/shutdown', {});
  t.equal(bye.status, 202);
  t.equal(await agent.exited, 0, 'a good shutdown still stops it');
});

t.test('requests too slow to arrive are cut with 408, and answers are not timed', async (t) => {
  const agent = await agentWith(t, 'slow', { VSYNC_REQUEST_TIMEOUT_SECONDS: '0.5' });
  // An event stream is an answer that never ends: it must outlive the request limit.
  const events: string[] = [];
  const follower = request({ socketPath: agent.socket, path: '/v1/events' }, (res) =>
    res.on('data', (d: Buffer) => events.push(d.toString())),
  );
  follower.on('error', () => undefined);
  follower.end();
  t.teardown(() => follower.destroy());
  await waitFor('the event stream to open', () => events.join('').includes(': vsyncd events'));

  const slowBody = await exchange(
    agent.socket,
    'POST /v1/lock HTTP/1.1\r\nHost: vsync\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a',
  );
  t.equal(slowBody.status, 408, 'a body that stops arriving: 408');
  t.match(slowBody.body, { error: { code: 'AGENT_REQUEST_TIMEOUT' } });

  const slowHeaders = await exchange(agent.socket, 'GET /v1/status HTTP/1.1\r\nHost: vsync\r\nX-Slow: ');
  t.equal(slowHeaders.status, 408, 'headers that stop arriving: 408');
  t.match(slowHeaders.body, { error: { code: 'AGENT_REQUEST_TIMEOUT' } });

  const lock = await call(agent.socket, 'POST', '/v1/lock', {});
  t.equal(lock.status, 200);
  await waitFor('the locked event on the stream opened before all that', () => events.join('').includes('event: locked'));
  t.pass('the event stream outlived the request limit');
  t.same(errorLines(agent), [], 'an aborted upload is no error line');
  t.notMatch(agent.output(), /"stack"/, 'no stack in the log');
});

t.test('idle connections are closed: before a first request, and after an answer', async (t) => {
  const agent = await agentWith(t, 'idle', { VSYNC_CONNECTION_IDLE_SECONDS: '0.5' });
  const silent = await raw(agent.socket);
  t.equal(await silent.closed, '', 'a connection that never sends a byte is closed, without an answer');
  const keptAlive = await raw(agent.socket, 'GET /v1/status HTTP/1.1\r\nHost: vsync\r\n\r\n');
  t.match(await keptAlive.closed, /^HTTP\/1\.1 200 /, 'a keep-alive connection idle after its answer is closed');
  t.ok(await statusOk(agent), 'status answers');
});

t.test('500 idle connections do not keep `vsync status` out', async (t) => {
  const agent = await agentWith(t, 'idle500');
  const idle: Raw[] = [];
  t.teardown(() => {
    for (const c of idle) c.socket.destroy();
  });
  for (let i = 0; i < 500; i++) idle.push(await raw(agent.socket));
  const env = { HOME: join(base, 'idle500'), VSYNC_SOCKET: agent.socket, VSYNC_NO_AUTOSTART: '1' };
  const status = await vsync(['status'], { cwd: base, env });
  t.equal(status.code, 0, `vsync status answers: ${status.stderr}`);
  t.equal(idle.filter((c) => c.isClosed()).length, 0, 'under the cap, no idle connection was closed');
});

t.test('at VSYNC_MAX_CONNECTIONS the oldest idle connection makes room', async (t) => {
  const agent = await agentWith(t, 'cap', { VSYNC_MAX_CONNECTIONS: '64' });
  const idle: Raw[] = [];
  t.teardown(() => {
    for (const c of idle) c.socket.destroy();
  });
  for (let i = 0; i < 500; i++) idle.push(await raw(agent.socket));
  await waitFor('the idle connections over the cap to be closed', () => idle.filter((c) => c.isClosed()).length >= 500 - 64);
  t.ok(
    idle.slice(0, 500 - 64).every((c) => c.isClosed()),
    'the oldest ones went',
  );
  const env = { HOME: join(base, 'cap'), VSYNC_SOCKET: agent.socket, VSYNC_NO_AUTOSTART: '1' };
  const status = await vsync(['status'], { cwd: base, env });
  t.equal(status.code, 0, `vsync status answers: ${status.stderr}`);
});

t.test('when every connection is busy, a new one is refused with a coded 503', async (t) => {
  const agent = await agentWith(t, 'busy', { VSYNC_MAX_CONNECTIONS: '4' });
  const streams: Raw[] = [];
  t.teardown(() => {
    for (const c of streams) c.socket.destroy();
  });
  for (let i = 0; i < 4; i++) {
    const stream = await raw(agent.socket, 'GET /v1/events HTTP/1.1\r\nHost: vsync\r\n\r\n');
    let seen = '';
    stream.socket.on('data', (d: Buffer) => (seen += d.toString()));
    await waitFor('an event stream to open', () => seen.includes(': vsyncd events'));
    streams.push(stream);
  }
  const refused = await exchange(agent.socket, 'GET /v1/status HTTP/1.1\r\nHost: vsync\r\n\r\n');
  t.equal(refused.status, 503);
  t.match(refused.body, { error: { code: 'AGENT_TOO_MANY_CONNECTIONS' } });
  streams.pop()!.socket.destroy();
  await waitFor('a connection to be free again', () => statusOk(agent));
  t.pass('answers again once one is free');
});

t.test('a reader of the event stream that never reads is dropped; memory stays bounded; others go on', async (t) => {
  const agent = await agentWith(t, 'events', { VSYNC_EVENT_BUFFER_KIB: '64' });
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'))?.[1]) / 1024;
  // The reader that does read, counting events.
  let followed = '';
  const follower = request({ socketPath: agent.socket, path: '/v1/events' }, (res) =>
    res.on('data', (d: Buffer) => (followed += d.toString())),
  );
  follower.on('error', () => undefined);
  follower.end();
  t.teardown(() => follower.destroy());
  await waitFor('the follower to connect', () => followed.includes(': vsyncd events'));

  const stuck = await raw(agent.socket, 'GET /v1/events HTTP/1.1\r\nHost: vsync\r\n\r\n');
  stuck.socket.pause(); // never reads: the agent's writes pile up
  t.teardown(() => stuck.socket.destroy());
  const rssBefore = rss();
  let locks = 0;
  while (!/dropped an event stream whose reader fell behind/.test(agent.output())) {
    // Eight at a time: each lock is one event for every follower.
    await Promise.all(Array.from({ length: 8 }, () => call(agent.socket, 'POST', '/v1/lock', {})));
    locks += 8;
    if (locks > 20_000) throw new Error('the stuck reader was never dropped');
  }
  const grew = rss() - rssBefore;
  t.comment(`dropped after ${locks} events; RSS grew ${grew.toFixed(1)} MiB`);
  t.ok(grew < 64, `RSS grew ${grew.toFixed(1)} MiB, bounded`);
  stuck.socket.resume();
  await stuck.closed;
  t.pass('the stuck reader was disconnected');

  const before = (followed.match(/event: locked/g) ?? []).length;
  t.equal(before, locks, 'the reading follower saw every event');
  t.equal((await call(agent.socket, 'POST', '/v1/lock', {})).status, 200);
  await waitFor('the follower to see one more', () => (followed.match(/event: locked/g) ?? []).length === locks + 1);
  t.ok(await statusOk(agent), 'status answers');
  t.same(errorLines(agent), [], 'no error lines');
});

t.test('the real CLI: a store or bucket that could never work is refused before any config exists', async (t) => {
  const agent = await agentWith(t, 'cli');
  const repo = join(base, 'cli-repo');
  mkdirSync(repo, { recursive: true });
  execFileSync('git', ['init', '-q', repo]);
  writeFileSync(join(repo, '.vsync'), 'repo=abuse_cli\n');
  const home = join(base, 'cli');
  const env = { HOME: home, VSYNC_SOCKET: agent.socket, VSYNC_NO_AUTOSTART: '1' };
  const cases: Array<[string, string[], RegExp]> = [
    ['--store over PATH_MAX', ['init', 'dev', '--store', `/${'s'.repeat(5000)}`], /store: must be at most 4096 bytes/],
    [
      '--store relative, resolved here but still over PATH_MAX',
      ['init', 'dev', '--store', 'x'.repeat(4100)],
      /store: must be at most 4096 bytes/,
    ],
    ['--bucket with capitals', ['init', 'dev', '--bucket', 'My_Bucket'], /bucket: must be an S3 bucket name/],
    [
      '--endpoint not http(s)',
      ['init', 'dev', '--bucket', 'ok-bucket', '--endpoint', 'ftp://example.com'],
      /endpoint: must be an http\(s\) URL/,
    ],
    ['--prefix with ..', ['init', 'dev', '--bucket', 'ok-bucket', '--prefix', '../other'], /prefix: must not hold/],
  ];
  for (const [name, args, message] of cases) {
    const run = await vsync(args, { cwd: repo, env });
    t.equal(run.code, 2, `${name}: exit 2`);
    t.match(run.stderr, message, name);
    t.match(run.stderr, /AGENT_BAD_REQUEST|request is not valid/, `${name}: the code`);
  }
  t.notOk(existsSync(configFile('abuse_cli', 'dev', { HOME: home })), 'no config written');
  const ok = await vsync(['init', 'dev', '--store', join(base, 'cli-store')], { cwd: repo, env });
  t.equal(ok.code, 0, `a good --store still works: ${ok.stderr}`);
});

t.test('the limits are settings, checked like the others: a bad one keeps the agent from starting (exit 3)', async (t) => {
  const cases: Array<Record<string, string>> = [
    { VSYNC_REQUEST_TIMEOUT_SECONDS: '0' },
    { VSYNC_CONNECTION_IDLE_SECONDS: 'soon' },
    { VSYNC_MAX_CONNECTIONS: '1.5' },
    { VSYNC_EVENT_BUFFER_KIB: '1' },
  ];
  for (const env of cases) {
    const agent = await startAgent({ home: join(base, 'settings'), socket: freshSocket(), env, waitReady: false });
    t.equal(await agent.exited, 3, `${JSON.stringify(env)}: exit 3`);
    t.match(agent.output(), new RegExp(`an agent setting in the environment is not valid: ${Object.keys(env)[0]}`), 'names the setting');
  }
});
