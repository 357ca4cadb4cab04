// `vsync events`: the SSE reader fed awkward chunkings, each event's line, the event shape checks, and the
// command against a stand-in agent on a real Unix socket, in process and as the built CLI (signals, the
// stream closing). The real agent's route is test/integration/'s business.
import t from 'tap';
import { standInAgent, type StandInAgent } from '../helpers/stand-in-agent.js';
import { spawn } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { events, type Interrupts } from '../../client/commands/events.js';
import { processContext, type Output } from '../../client/context.js';
import { clockTime, eventLine } from '../../client/render.js';
import { expectEvent } from '../../client/result-shape.js';
import { SseReader, type SseMessage } from '../../client/sse-reader.js';
import { exitCodes } from '../../shared/errors.js';
import type { AgentEvent } from '../../shared/events.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { caught } from '../helpers/caught.js';
import { PATIENCE_MS } from '../helpers/patience.js';

// ---- the SSE reader ----

function readAll(chunks: Buffer[]): SseMessage[] {
  const reader = new SseReader();
  return chunks.flatMap((chunk) => reader.push(chunk));
}

const STREAM = [
  ': keep-alive\n',
  '\n',
  'id: 1\nevent: watch-started\ndata: {"id":1,"text":"→ ü"}\n\n',
  ':\n',
  'id: 2\nevent: push-started\ndata: {"id":2}\n\n',
].join('');
const EXPECTED: SseMessage[] = [
  { type: 'watch-started', data: '{"id":1,"text":"→ ü"}', id: '1' },
  { type: 'push-started', data: '{"id":2}', id: '2' },
];

t.test('SSE: messages split anywhere across chunks come out whole, in order', async (t) => {
  const bytes = Buffer.from(STREAM);
  // Every split point, inside the field names, the multi-byte "→" and "ü", and between the two newlines.
  for (let cut = 0; cut <= bytes.length; cut++) {
    t.same(readAll([bytes.subarray(0, cut), bytes.subarray(cut)]), EXPECTED, `cut at ${cut}`);
  }
  t.same(readAll([...bytes].map((b) => Buffer.from([b]))), EXPECTED, 'one byte at a time');
  const crlf = Buffer.from(STREAM.replaceAll('\n', '\r\n'));
  t.same(readAll([...crlf].map((b) => Buffer.from([b]))), EXPECTED, 'CRLF, one byte at a time (CR and LF in separate chunks)');
  for (let cut = 0; cut <= crlf.length; cut++) t.same(readAll([crlf.subarray(0, cut), crlf.subarray(cut)]), EXPECTED, `CRLF cut at ${cut}`);
});

t.test('SSE: a message is handed over when its blank line arrives, not before', async (t) => {
  const reader = new SseReader();
  t.same(reader.push(Buffer.from('event: locked\ndata: {"a"')), []);
  t.same(reader.push(Buffer.from(':1}\n')), [], 'the data line is complete, the message is not');
  t.same(reader.push(Buffer.from('\n')), [{ type: 'locked', data: '{"a":1}', id: '' }]);
  t.same(reader.push(Buffer.from('data: cut off before its blank line\n')), []);
});

t.test('SSE: the field rules', async (t) => {
  const one = (text: string) => readAll([Buffer.from(text)]);
  t.same(
    one('data: a\ndata:  b\ndata\ndata:c\n\n'),
    [{ type: 'message', data: 'a\n b\n\nc', id: '' }],
    'several data lines; one space dropped, no more',
  );
  t.same(
    one('event: x\n\ndata: y\n\n'),
    [{ type: 'message', data: 'y', id: '' }],
    'a message with no data is dropped, and its type with it',
  );
  t.same(
    one('id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n'),
    [
      { type: 'message', data: 'a', id: '7' },
      { type: 'message', data: 'b', id: '7' },
      { type: 'message', data: 'c', id: '' },
    ],
    'an id carries over until another id (empty, here) replaces it',
  );
  t.same(one('id: a\0b\ndata: a\n\n'), [{ type: 'message', data: 'a', id: '' }], 'an id holding NUL is ignored');
  t.same(
    one('retry: 10\nbogus: 1\n:comment: data: no\n event: spaced\ndata: a\n\n'),
    [{ type: 'message', data: 'a', id: '' }],
    'retry, unknown fields and comments are read past',
  );
  t.same(
    one('data: a\n \ndata: b\n\n'),
    [{ type: 'message', data: 'a\nb', id: '' }],
    'a line of one space is a field (named " "), not the blank line',
  );
  t.same(one('\uFEFFdata: bom\n\n'), [{ type: 'message', data: 'bom', id: '' }], 'a byte-order mark opening the stream');
});

// ---- event lines ----

const VAULT = { repo: 'acme_web', env: 'dev', root: '/home/me/acme' };
const AT = '2026-05-16T18:10:04.123Z';
const base = { id: 1, at: AT };
const utc = (ms: number) => new Date(ms).toISOString().slice(11, 19);

t.test('one line per event, HH:MM:SS then type, vault and detail two spaces apart', async (t) => {
  const cases: Array<[AgentEvent, string]> = [
    [{ ...base, type: 'watch-started', ...VAULT, follow: true }, '18:10:04  watch-started  acme_web/dev  follow'],
    [{ ...base, type: 'watch-started', ...VAULT, follow: false }, '18:10:04  watch-started  acme_web/dev'],
    [{ ...base, type: 'watch-stopped', ...VAULT }, '18:10:04  watch-stopped  acme_web/dev'],
    [{ ...base, type: 'change-seen', ...VAULT }, '18:10:04  change-seen  acme_web/dev'],
    [{ ...base, type: 'push-started', ...VAULT, trigger: 'watch' }, '18:10:04  push-started  acme_web/dev  (watch)'],
    [
      { ...base, type: 'push-finished', ...VAULT, trigger: 'manual', version: '20260516-181004' },
      '18:10:04  push-finished  acme_web/dev  20260516-181004 (manual)',
    ],
    [
      {
        ...base,
        type: 'push-failed',
        ...VAULT,
        trigger: 'watch',
        code: 'STORAGE_TRANSIENT',
        message: 'the store did not answer',
        retryInMs: 30_000,
      },
      '18:10:04  push-failed  acme_web/dev  (watch) STORAGE_TRANSIENT: the store did not answer (retry in 30 s)',
    ],
    [
      { ...base, type: 'push-failed', ...VAULT, trigger: 'watch', code: 'STORAGE_TRANSIENT', message: 'slow', retryInMs: 1_500 },
      '18:10:04  push-failed  acme_web/dev  (watch) STORAGE_TRANSIENT: slow (retry in 1.5 s)',
    ],
    [
      { ...base, type: 'push-failed', ...VAULT, trigger: 'manual', code: 'KEY_MISMATCH', message: 'wrong key' },
      '18:10:04  push-failed  acme_web/dev  (manual) KEY_MISMATCH: wrong key',
    ],
    [{ ...base, type: 'pull-started', ...VAULT, trigger: 'follow' }, '18:10:04  pull-started  acme_web/dev  (follow)'],
    [
      { ...base, type: 'pull-finished', ...VAULT, trigger: 'follow', version: '20260516-180900' },
      '18:10:04  pull-finished  acme_web/dev  20260516-180900 (follow)',
    ],
    [
      { ...base, type: 'pull-failed', ...VAULT, trigger: 'follow', code: 'DECRYPT_FAILED', message: 'decryption failed' },
      '18:10:04  pull-failed  acme_web/dev  (follow) DECRYPT_FAILED: decryption failed',
    ],
    [
      { ...base, type: 'waiting', ...VAULT, code: 'KEY_LOCKED', message: 'the keys are locked' },
      '18:10:04  waiting  acme_web/dev  KEY_LOCKED: the keys are locked',
    ],
    [
      { ...base, type: 'conflict', ...VAULT, code: 'VAULT_CONFLICT', message: 'the remote moved', remote: '20260516-180000' },
      '18:10:04  conflict  acme_web/dev  VAULT_CONFLICT: the remote moved',
    ],
    [{ ...base, type: 'remote-moved', ...VAULT, version: '20260516-181000' }, '18:10:04  remote-moved  acme_web/dev  20260516-181000'],
    [{ ...base, type: 'locked', dropped: 3 }, '18:10:04  locked  3 keys dropped'],
    [{ ...base, type: 'locked', dropped: 1 }, '18:10:04  locked  1 key dropped'],
    [{ ...base, type: 'locked', dropped: 0 }, '18:10:04  locked  0 keys dropped'],
    [
      {
        ...base,
        type: 'storage-retry',
        what: 'put acme_web/dev/latest',
        attempt: 2,
        code: 'STORAGE_TRANSIENT',
        message: 'InternalError (HTTP 500)',
      },
      '18:10:04  storage-retry  put acme_web/dev/latest  attempt 2 STORAGE_TRANSIENT: InternalError (HTTP 500)',
    ],
  ];
  for (const [event, text] of cases) {
    t.equal(eventLine(event, utc), text, `${event.type}: ${text}`);
    t.equal(eventLine(expectEvent(JSON.parse(JSON.stringify(event))), utc), text, `${event.type} passes the shape check`);
  }
  t.equal(
    eventLine({ ...base, at: 'whenever', type: 'locked', dropped: 2 }, utc),
    'whenever  locked  2 keys dropped',
    'a time that is not one is shown as sent',
  );
});

t.test('the clock is local time', async (t) => {
  const zone = process.env.TZ;
  t.teardown(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });
  const ms = Date.parse(AT);
  process.env.TZ = 'UTC';
  t.equal(clockTime(ms), '18:10:04');
  t.equal(eventLine({ ...base, type: 'change-seen', ...VAULT }), '18:10:04  change-seen  acme_web/dev', 'the default clock');
  process.env.TZ = 'Asia/Kolkata';
  t.equal(clockTime(ms), '23:40:04', 'UTC+05:30');
  process.env.TZ = 'America/New_York';
  t.equal(clockTime(Date.parse('2026-01-01T04:05:06Z')), '23:05:06', 'the day before, in winter time; two digits each');
});

t.test('events of another shape are INTERNAL, not lines of "undefined"', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [[], /event is not an object/],
    [{ at: AT, type: 'locked', dropped: 1 }, /has no number id/],
    [{ id: 1, at: AT, type: 'exploded', ...VAULT }, /unknown type "exploded"/],
    [{ id: 1, at: AT, type: 'toString', ...VAULT }, /unknown type "toString"/],
    [{ id: 1, at: AT, type: 'push-finished', ...VAULT, trigger: 'watch' }, /push-finished event has no string version/],
    [
      { id: 1, at: AT, type: 'push-failed', ...VAULT, trigger: 'watch', code: 'X', message: 'm', retryInMs: '30' },
      /push-failed event has retryInMs as string, not number/,
    ],
    [{ id: 1, at: AT, type: 'watch-started', repo: 'r', env: 'e', follow: true }, /has no string root/],
    [{ id: 1, at: AT, type: 'locked' }, /locked event has no number dropped/],
  ];
  for (const [value, message] of cases) t.throws(() => expectEvent(value), { code: 'INTERNAL', message }, String(message));
});

// ---- the command against a stand-in agent ----

const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
const message = (e: AgentEvent) => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;

const E1: AgentEvent = { id: 1, at: AT, type: 'watch-started', ...VAULT, follow: true };
const E2: AgentEvent = {
  id: 2,
  at: '2026-05-16T18:10:09.000Z',
  type: 'push-finished',
  ...VAULT,
  trigger: 'watch',
  version: '20260516-181009',
};
const E3: AgentEvent = { id: 3, at: '2026-05-16T18:11:00.000Z', type: 'locked', dropped: 2 };

function collecting(): Output & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    line: (text) => void lines.push(text),
    warning: (text) => void lines.push(`warning: ${text}`),
    json: (v) => void lines.push(JSON.stringify(v)),
  };
}

/** Signals as a test raises them; `listening()` says how many listeners the command left behind. */
function fakeSignals(): Interrupts & { raise(signal: 'SIGINT' | 'SIGTERM'): void; listening(): number } {
  const listeners = new Map<string, Set<() => void>>([
    ['SIGINT', new Set()],
    ['SIGTERM', new Set()],
  ]);
  return {
    once: (signal, listener) => listeners.get(signal)!.add(listener),
    off: (signal, listener) => listeners.get(signal)!.delete(listener),
    raise: (signal) => {
      const now = [...listeners.get(signal)!];
      listeners.get(signal)!.clear();
      for (const listener of now) listener();
    },
    listening: () => listeners.get('SIGINT')!.size + listeners.get('SIGTERM')!.size,
  };
}

function contextFor(fake: StandInAgent, json: boolean, out: Output) {
  return processContext(json, { HOME: join(fake.dir, 'home'), VSYNC_SOCKET: fake.socket, VSYNC_NO_AUTOSTART: '1' }, out);
}

t.test('events prints each event as it arrives, and fails with AGENT_UNREACHABLE when the agent closes the stream', async (t) => {
  const fake = await standInAgent(t);
  let printedFirst!: () => void;
  const first = new Promise<void>((resolve) => (printedFirst = resolve));
  fake.handle = async (_req, _body, res) => {
    sse(res);
    res.write(`: hello\n\n${message(E1)}`);
    // The rest only once the first line is out: a client that buffered the stream would hang here.
    await first;
    const rest = `: keep-alive\n\n${message(E2)}${message(E3)}`;
    res.write(rest.slice(0, 40));
    res.end(rest.slice(40));
  };
  const out = collecting();
  const line = out.line;
  out.line = (text) => {
    line(text);
    printedFirst();
  };
  const signals = fakeSignals();
  const err = await caught(events(contextFor(fake, false, out), signals, utc));
  t.match(err, { code: 'AGENT_UNREACHABLE', exit: exitCodes.agent, message: /\(the agent closed the event stream\)/ });
  t.same(out.lines, [
    '18:10:04  watch-started  acme_web/dev  follow',
    '18:10:09  push-finished  acme_web/dev  20260516-181009 (watch)',
    '18:11:00  locked  2 keys dropped',
  ]);
  t.same(fake.seen, [{ method: 'GET', url: '/v1/events', accept: 'text/event-stream', body: '' }]);
  t.equal(signals.listening(), 0, 'the signal listeners are gone once the command is');

  fake.handle = (_req, _body, res) => {
    sse(res);
    res.write(message(E1));
    setTimeout(() => res.destroy(), 20);
  };
  t.match(
    await caught(events(contextFor(fake, false, collecting()), fakeSignals(), utc)),
    {
      code: 'AGENT_UNREACHABLE',
      message: /the agent closed the event stream/,
    },
    'a connection cut rather than closed',
  );
});

t.test('--json prints each event as the agent sent it', async (t) => {
  const fake = await standInAgent(t);
  const multiLine = `id: 9\nevent: locked\ndata: {"id":9,\ndata: "at":"${AT}","type":"locked",\ndata: "dropped":0}\n\n`;
  fake.handle = (_req, _body, res) => {
    sse(res);
    // Spacing a re-encoder would drop, to tell "as sent" from "as parsed".
    res.end(`id: 1\nevent: locked\ndata: {"id":1, "at":"${AT}", "type":"locked", "dropped":4}\r\n\r\n${multiLine}`);
  };
  const out = collecting();
  await caught(events(contextFor(fake, true, out), fakeSignals()));
  t.same(out.lines, [`{"id":1, "at":"${AT}", "type":"locked", "dropped":4}`, `{"id":9,"at":"${AT}","type":"locked","dropped":0}`]);
});

t.test('a signal ends events quietly', async (t) => {
  const fake = await standInAgent(t);
  let served!: () => void;
  const streaming = new Promise<void>((resolve) => (served = resolve));
  fake.handle = (_req, _body, res) => {
    sse(res);
    res.write(message(E1));
    served();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const out = collecting();
    const signals = fakeSignals();
    const running = events(contextFor(fake, false, out), signals, utc);
    await streaming;
    while (out.lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    signals.raise(signal);
    t.equal(await running, undefined, `${signal}: resolves`);
    t.same(out.lines, ['18:10:04  watch-started  acme_web/dev  follow']);
    t.equal(signals.listening(), 0);
  }
});

t.test('answers that are not an event stream', async (t) => {
  const fake = await standInAgent(t);
  fake.handle = (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"watches":[]}');
  t.match(await caught(events(contextFor(fake, false, collecting()), fakeSignals())), {
    code: 'INTERNAL',
    message: /\/v1\/events with application\/json instead of an event stream/,
  });

  fake.handle = (_req, _body, res) =>
    void res
      .writeHead(503, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: 'AGENT_SHUTTING_DOWN', message: 'the agent is shutting down', hint: 'h' } }));
  t.match(await caught(events(contextFor(fake, false, collecting()), fakeSignals())), {
    code: 'AGENT_SHUTTING_DOWN',
    exit: exitCodes.agent,
  });

  fake.handle = (_req, _body, res) => {
    sse(res);
    res.write('event: locked\ndata: not json\n\n');
  };
  t.match(await caught(events(contextFor(fake, false, collecting()), fakeSignals())), {
    code: 'INTERNAL',
    message: /an event that is not JSON: not json/,
  });

  fake.handle = (_req, _body, res) => {
    sse(res);
    res.write(`event: x\ndata: ${JSON.stringify({ id: 1, at: AT, type: 'push-finished', ...VAULT })}\n\n`);
  };
  t.match(await caught(events(contextFor(fake, false, collecting()), fakeSignals())), {
    code: 'INTERNAL',
    message: /push-finished event has no string trigger/,
  });
});

// ---- the built CLI ----

interface Running {
  readonly exited: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
  /** Resolves once stdout holds this many lines. */
  lines(n: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

function run(args: string[], fake: StandInAgent): Running {
  const child = spawn(process.execPath, [fileURLToPath(built(CLI)), ...args], {
    cwd: fake.dir,
    env: childEnv({ HOME: join(fake.dir, 'home'), VSYNC_SOCKET: fake.socket, VSYNC_NO_AUTOSTART: '1', TZ: 'UTC' }),
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), PATIENCE_MS);
  void exited.then(() => clearTimeout(timer));
  return {
    exited,
    lines: async (n) => {
      while (stdout.split('\n').length - 1 < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    kill: (signal) => void child.kill(signal),
  };
}

t.test('the built CLI: lines until Ctrl-C or SIGTERM, then exit 0 with nothing on stderr', async (t) => {
  const fake = await standInAgent(t);
  fake.handle = (_req, _body, res) => {
    sse(res);
    res.write(message(E1) + message(E2));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const child = run(['events'], fake);
    await child.lines(2);
    child.kill(signal);
    t.same(
      await child.exited,
      {
        code: 0,
        signal: null,
        stdout: '18:10:04  watch-started  acme_web/dev  follow\n18:10:09  push-finished  acme_web/dev  20260516-181009 (watch)\n',
        stderr: '',
      },
      signal,
    );
  }
  const json = run(['events', '--json'], fake);
  await json.lines(2);
  json.kill('SIGINT');
  t.same(await json.exited, { code: 0, signal: null, stdout: `${JSON.stringify(E1)}\n${JSON.stringify(E2)}\n`, stderr: '' }, '--json');
});

t.test('the built CLI: the agent closing the stream is exit 8 and says so', async (t) => {
  const fake = await standInAgent(t);
  fake.handle = (_req, _body, res) => {
    sse(res);
    res.write(message(E1));
    setTimeout(() => res.end(), 50);
  };
  const done = await run(['events'], fake).exited;
  t.equal(done.code, exitCodes.agent);
  t.equal(done.stdout, '18:10:04  watch-started  acme_web/dev  follow\n');
  t.match(done.stderr, `vsync: error: no vsync agent answers on the socket: ${fake.socket} (the agent closed the event stream); `);
  t.match(done.stderr, /\nvsync: hint: start it with `vsync daemon start`/);

  const json = await run(['events', '--json'], fake).exited;
  t.equal(json.code, exitCodes.agent);
  t.match(JSON.parse(json.stderr), { error: { code: 'AGENT_UNREACHABLE', message: /the agent closed the event stream/ } });
});
