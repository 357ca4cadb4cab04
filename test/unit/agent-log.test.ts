// The agent's log as the AGENT_UNREACHABLE error shows it: pino's JSON lines as a person reads a log, the
// request noise left out, plain lines as they are.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentUnreachable, logLine, logTail, readableTail } from '../../client/agent-log.js';
import { agentLogFile } from '../../shared/socket-path.js';

// Local time is what the lines show: fixed here so the expected clock is known (Node reads TZ anew when it is set).
process.env.TZ = 'UTC';

/** 2026-05-16 08:13:02.345 UTC. */
const TIME = Date.UTC(2026, 4, 16, 8, 13, 2, 345);
const json = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, time: TIME, pid: 4242, hostname: 'vm', ...fields });

t.test('a JSON line: local time, level name, message', async (t) => {
  t.equal(
    logLine(json({ msg: 'vsyncd 0.1.0 listening on /run/s.sock (keys from secret-service)' })),
    '08:13:02 info  vsyncd 0.1.0 listening on /run/s.sock (keys from secret-service)',
  );
  const levels: Array<[number, string]> = [
    [10, 'trace'],
    [20, 'debug'],
    [30, 'info '],
    [40, 'warn '],
    [50, 'error'],
    [60, 'fatal'],
    [35, '35   '],
  ];
  for (const [level, name] of levels) t.equal(logLine(json({ level, msg: 'm' })), `08:13:02 ${name} m`, `level ${level}`);
  t.equal(logLine(json({ time: Date.UTC(2026, 0, 1, 23, 5, 9), msg: 'late' })), '23:05:09 info  late', 'two digits each');
});

t.test("an error's message and code are shown; the message only once", async (t) => {
  t.equal(
    logLine(
      json({
        level: 50,
        err: { type: 'Error', message: 'EADDRINUSE: address in use', stack: 'Error: …\n    at …' },
        msg: 'could not listen',
      }),
    ),
    '08:13:02 error could not listen: EADDRINUSE: address in use',
  );
  t.equal(logLine(json({ level: 50, err: { type: 'Error', message: 'boom', stack: '…' }, msg: 'boom' })), '08:13:02 error boom');
  t.equal(logLine(json({ level: 60, err: { message: 'out of memory' } })), '08:13:02 fatal out of memory', 'no msg: the error message');
  t.equal(
    logLine(json({ reqId: 'req-2', code: 'CONFIG_NOT_FOUND', msg: '/v1/push failed' })),
    '08:13:02 info  /v1/push failed (CONFIG_NOT_FOUND)',
  );
  t.equal(
    logLine(json({ msg: 'a\u001b[2Jb' })),
    '08:13:02 info  "a\\u001b[2Jb"',
    'a control character JSON decoding made cannot drive the terminal',
  );
});

t.test("fastify's lines for every request are left out; other lines are kept as they are", async (t) => {
  t.equal(logLine(json({ reqId: 'req-1', req: { method: 'GET', url: '/v1/status' }, msg: 'incoming request' })), undefined);
  t.equal(logLine(json({ reqId: 'req-1', res: { statusCode: 200 }, responseTime: 3.5, msg: 'request completed' })), undefined);
  for (const plain of [
    'vsyncd: error: an agent setting in the environment is not valid: VSYNC_IDLE_TTL_SECONDS: expected number',
    'vsyncd: hint: run `vsyncd --help` for the VSYNC_* variables',
    '    at main (file:///dist/daemon/main.js:12:3)',
    '{"level":30, cut short',
    '{"msg":"JSON, but not a log entry"}',
    '',
  ]) {
    t.equal(logLine(plain), plain, JSON.stringify(plain));
  }
});

t.test('the tail: the last 15 lines that say something', async (t) => {
  const raw = [
    ...Array.from({ length: 20 }, (_, i) => json({ msg: `line ${i}` })),
    ...Array.from({ length: 40 }, (_, i) => json({ reqId: `req-${i}`, msg: i % 2 === 0 ? 'incoming request' : 'request completed' })),
    json({ msg: 'stopping (shutdown requested)' }),
  ];
  const tail = readableTail(raw);
  t.equal(tail.length, 15);
  t.equal(tail[0], '08:13:02 info  line 6');
  t.equal(tail.at(-1), '08:13:02 info  stopping (shutdown requested)');
});

t.test('AGENT_UNREACHABLE shows the rendered tail, and says so when the log holds only requests', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vsync-agent-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { HOME: dir };
  const log = agentLogFile(env);
  mkdirSync(join(log, '..'), { recursive: true });
  writeFileSync(
    log,
    `${[
      json({ msg: 'vsyncd 0.1.0 listening on /s.sock (keys from env)' }),
      json({ reqId: 'req-1', msg: 'incoming request' }),
      json({ reqId: 'req-1', msg: 'request completed' }),
      json({ level: 40, msg: 'stopping (SIGTERM)' }),
      'vsyncd: error: the socket folder /x is not safe',
    ].join('\n')}\n`,
  );
  t.same(logTail(log)?.length, 5, 'logTail reads the lines as they are');
  const err = agentUnreachable('/s.sock', 'it exited', env);
  t.equal(
    err.message,
    `no vsync agent answers on the socket: /s.sock (it exited); the agent log ${log} ends:\n` +
      '  | 08:13:02 info  vsyncd 0.1.0 listening on /s.sock (keys from env)\n' +
      '  | 08:13:02 warn  stopping (SIGTERM)\n' +
      '  | vsyncd: error: the socket folder /x is not safe',
  );
  writeFileSync(log, `${json({ reqId: 'req-1', msg: 'incoming request' })}\n${json({ reqId: 'req-1', msg: 'request completed' })}\n`);
  t.match(agentUnreachable('/s.sock', 'it exited', env).message, /the agent log .* ends with requests it served, nothing else$/);
  writeFileSync(log, '');
  t.match(agentUnreachable('/s.sock', 'it exited', env).message, /the agent log .* is empty$/);
});
