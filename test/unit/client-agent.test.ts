// The client's side of the wire, against a stand-in agent on a real Unix socket: the NDJSON stream printed
// as it arrives, errors mapped to the registry's exit codes, a dead agent's log shown, and the built CLI's
// exact output. The real agent's side is test/integration/.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentClient, isNoAgent } from '../../client/agent-client.js';
import { processContext, type Output } from '../../client/context.js';
import { exitCodes, registry } from '../../shared/errors.js';
import type { ProgressEvent } from '../../shared/progress.js';
import { agentLogFile } from '../../shared/socket-path.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { caught } from '../helpers/caught.js';
import { standInAgent } from '../helpers/stand-in-agent.js';
import { PATIENCE_MS } from '../helpers/patience.js';

const line = (value: unknown) => `${JSON.stringify(value)}\n`;
const ndjson = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/x-ndjson' });
const jsonReply = (res: ServerResponse, status: number, value: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

const PUSH_RESULT = {
  repo: 'vsync',
  env: 'dev',
  version: '20260516-113304',
  bytes: 646,
  url: 's3://b/vsync/dev/versions/20260516-113304.enc',
};

t.test('progress lines are handed over while the agent is still working', async (t) => {
  const fake = await standInAgent(t);
  let firstSeen!: () => void;
  const clientHasFirst = new Promise<void>((resolve) => (firstSeen = resolve));
  fake.handle = async (_req, _body, res) => {
    ndjson(res);
    res.write(line({ type: 'progress', event: { kind: 'step', n: 1, of: 5, text: 'zipping infra/vault/dev/' } }));
    // The rest only once the client has printed the first line: a client that buffered would hang here.
    await clientHasFirst;
    const rest = line({ type: 'progress', event: { kind: 'detail', text: '→ /tmp/x' } }) + line({ type: 'result', result: PUSH_RESULT });
    res.write(rest.slice(0, 17));
    res.end(rest.slice(17));
  };
  const events: ProgressEvent[] = [];
  const client = new AgentClient(fake.socket, { HOME: fake.home });
  const result = await client.call({
    method: 'POST',
    path: '/v1/push',
    body: { cwd: '/p', env: 'dev' },
    onProgress: (e) => {
      events.push(e);
      if (events.length === 1) firstSeen();
    },
  });
  t.same(result, PUSH_RESULT);
  t.same(events, [
    { kind: 'step', n: 1, of: 5, text: 'zipping infra/vault/dev/' },
    { kind: 'detail', text: '→ /tmp/x' },
  ]);
  t.same(fake.seen[0], { method: 'POST', url: '/v1/push', accept: 'application/x-ndjson', body: '{"cwd":"/p","env":"dev"}' });
});

t.test("the agent's errors keep their code, message and hint; exits come from the registry", async (t) => {
  const fake = await standInAgent(t);
  const client = new AgentClient(fake.socket, { HOME: fake.home });
  const conflict = {
    code: 'VAULT_CONFLICT',
    message: 'the remote moved since this machine last synced: the remote latest is X',
    hint: 'pull first',
  };

  fake.handle = (_req, _body, res) => {
    ndjson(res);
    res.end(line({ type: 'progress', event: { kind: 'step', n: 1, of: 5, text: 'zipping' } }) + line({ type: 'error', error: conflict }));
  };
  t.match(await caught(client.call({ method: 'POST', path: '/v1/push', body: {}, onProgress: () => undefined })), {
    ...conflict,
    exit: exitCodes.conflict,
  });

  fake.handle = (_req, _body, res) => jsonReply(res, 409, { error: conflict });
  t.match(
    await caught(client.call({ method: 'POST', path: '/v1/push', body: {} })),
    { ...conflict, exit: exitCodes.conflict },
    'plain JSON mode',
  );
  t.equal(fake.seen.at(-1)!.accept, 'application/json');

  fake.handle = (_req, _body, res) =>
    jsonReply(res, 400, { error: { code: 'AGENT_BAD_REQUEST', message: 'the request is not valid: env', hint: 'h' } });
  t.match(
    await caught(client.call({ method: 'POST', path: '/v1/push', body: {}, onProgress: () => undefined })),
    {
      code: 'AGENT_BAD_REQUEST',
      exit: 2,
    },
    'an error before the stream starts comes as plain JSON',
  );

  fake.handle = (_req, _body, res) => jsonReply(res, 500, { error: { code: 'NO_SUCH_CODE', message: 'm', hint: 'h' } });
  t.match(await caught(client.call({ method: 'GET', path: '/v1/status' })), {
    code: 'INTERNAL',
    exit: registry.INTERNAL.exit,
    message: /NO_SUCH_CODE/,
  });

  fake.handle = (_req, _body, res) => void res.writeHead(502).end('<html>');
  t.match(await caught(client.call({ method: 'GET', path: '/v1/status' })), { code: 'INTERNAL', message: /not JSON/ });

  fake.handle = (_req, _body, res) => {
    ndjson(res);
    res.end(line({ type: 'surprise' }));
  };
  t.match(await caught(client.call({ method: 'POST', path: '/v1/push', body: {}, onProgress: () => undefined })), { code: 'INTERNAL' });
});

t.test('an agent that dies mid-stream, or is not there at all', async (t) => {
  const fake = await standInAgent(t);
  const client = new AgentClient(fake.socket, { HOME: fake.home });
  fake.handle = (_req, _body, res) => {
    ndjson(res);
    res.write(line({ type: 'progress', event: { kind: 'step', n: 1, of: 5, text: 'zipping' } }));
    setTimeout(() => res.destroy(), 20);
  };
  t.match(await caught(client.call({ method: 'POST', path: '/v1/push', body: {}, onProgress: () => undefined })), {
    code: 'AGENT_UNREACHABLE',
    exit: exitCodes.agent,
  });
  fake.handle = (_req, _body, res) => {
    ndjson(res);
    res.end(line({ type: 'progress', event: { kind: 'step', n: 1, of: 5, text: 'zipping' } }));
  };
  t.match(await caught(client.call({ method: 'POST', path: '/v1/push', body: {}, onProgress: () => undefined })), {
    code: 'AGENT_UNREACHABLE',
    message: /ended the stream before the operation finished/,
  });

  // In the test's own 0700 folder: a client refuses a socket in a folder others may reach (socket-trust.test.ts).
  const nobody = new AgentClient(join(fake.dir, 'none.sock'), { HOME: fake.home });
  t.ok(isNoAgent(await caught(nobody.call({ method: 'GET', path: '/v1/status' }))), 'no socket: the raw connect error, for autostart');

  // With autostart off, the error names the socket and shows the end of the agent's log.
  const env = { HOME: fake.home, VSYNC_NO_AUTOSTART: '1', VSYNC_SOCKET: join(fake.dir, 'none.sock') };
  const log = agentLogFile(env);
  mkdirSync(join(log, '..'), { recursive: true });
  writeFileSync(log, `${Array.from({ length: 40 }, (_, i) => `log line ${i}`).join('\n')}\n`);
  const silent: Output = { line: () => undefined, warning: () => undefined, json: () => undefined };
  const err = (await caught(processContext(false, env, silent).request({ method: 'GET', path: '/v1/status' }))) as Error;
  t.match(err, { code: 'AGENT_UNREACHABLE', exit: exitCodes.agent });
  t.match(err.message, `none.sock (none is running, and VSYNC_NO_AUTOSTART is set); the agent log ${log} ends:\n  | log line 25\n`);
  t.match(err.message, /\| log line 39$/);
  t.notMatch(err.message, /log line 24\n/);
});

function cli(args: string[], socket: string, home: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [fileURLToPath(built(CLI)), ...args],
      { cwd, env: childEnv({ HOME: home, VSYNC_SOCKET: socket, VSYNC_NO_AUTOSTART: '1', NO_COLOR: '1' }), timeout: PATIENCE_MS },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr }),
    );
  });
}

t.test('the built CLI: exact output, --json, exit codes', async (t) => {
  const fake = await standInAgent(t);
  const cwd = fake.home;
  fake.handle = (req, body, res) => {
    if (req.url === '/v1/push' && req.headers.accept === 'application/x-ndjson') {
      ndjson(res);
      res.write(line({ type: 'progress', event: { kind: 'step', n: 1, of: 5, text: 'zipping infra/vault/dev/' } }));
      res.write(line({ type: 'progress', event: { kind: 'warning', text: 'something to know' } }));
      res.end(line({ type: 'result', result: PUSH_RESULT }));
    } else if (req.url === '/v1/push') {
      jsonReply(res, 200, PUSH_RESULT);
    } else if (req.url === '/v1/pull') {
      jsonReply(res, 409, {
        error: {
          code: 'VAULT_UNPUSHED_CHANGES',
          message: 'the vault folder holds changes that were never pushed',
          hint: 'push them first',
        },
      });
    } else if (req.url === '/v1/status') {
      jsonReply(res, 200, {
        version: '0.1.0',
        pid: 77,
        socket: fake.socket,
        startedAt: '',
        uptimeMs: 5000,
        locked: true,
        unlocked: [],
        vaults: [],
      });
    } else if (req.url?.startsWith('/v1/versions?')) {
      jsonReply(res, 200, { repo: 'r', env: 'dev', location: 'file:///s/r/dev/versions/', versions: [] });
    } else {
      jsonReply(res, 200, { unexpected: true, body });
    }
  };

  const pushed = await cli(['push', 'dev'], fake.socket, fake.home, cwd);
  t.same(pushed, {
    code: 0,
    stdout: '[1/5] zipping infra/vault/dev/\n✅ pushed vsync/dev (version: 20260516-113304)\n',
    stderr: 'vsync: warning: something to know\n',
  });
  t.same(JSON.parse(fake.seen.at(-1)!.body), { cwd, env: 'dev' }, 'cwd is the working folder');

  const json = await cli(['push', 'dev', '--json', '--force'], fake.socket, fake.home, cwd);
  t.same(json, { code: 0, stdout: `${JSON.stringify(PUSH_RESULT)}\n`, stderr: '' });
  t.same(JSON.parse(fake.seen.at(-1)!.body), { cwd, env: 'dev', force: true });

  const refused = await cli(['pull', 'dev'], fake.socket, fake.home, cwd);
  t.same(refused, {
    code: exitCodes.conflict,
    stdout: '',
    stderr: 'vsync: error: the vault folder holds changes that were never pushed\nvsync: hint: push them first\n',
  });
  const refusedJson = await cli(['--json', 'pull', 'dev'], fake.socket, fake.home, cwd);
  t.equal(refusedJson.code, exitCodes.conflict);
  t.same(JSON.parse(refusedJson.stderr), {
    error: { code: 'VAULT_UNPUSHED_CHANGES', message: 'the vault folder holds changes that were never pushed', hint: 'push them first' },
  });

  const versions = await cli(['versions', 'dev'], fake.socket, fake.home, cwd);
  t.equal(versions.stdout, 'file:///s/r/dev/versions/ (0 versions)\n  (none yet: push one with `vsync push dev`)\n');
  t.equal(fake.seen.at(-1)!.url, `/v1/versions?${new URLSearchParams({ cwd, env: 'dev' })}`);

  const daemon = await cli(['daemon', 'status'], fake.socket, fake.home, cwd);
  t.same(daemon, { code: 0, stdout: `vsyncd running (pid 77, socket ${fake.socket})\n`, stderr: '' });

  const lock = await cli(['lock'], fake.socket, fake.home, cwd);
  t.equal(lock.code, registry.INTERNAL.exit, 'a result of the wrong shape is INTERNAL');
  t.match(lock.stderr, /^vsync: error: an unexpected internal error: the agent's lock result has no number dropped\n/);

  const usage = await cli(['push'], fake.socket, fake.home, cwd);
  t.same(usage, { code: 2, stdout: '', stderr: 'vsync: error: invalid usage: push needs <env>\nvsync: hint: run `vsync push --help`\n' });
  const usageJson = await cli(['push', '--json'], fake.socket, fake.home, cwd);
  t.match(JSON.parse(usageJson.stderr), { error: { code: 'USAGE' } });
});

t.test('the built CLI with no agent and autostart off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vsc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 's.sock');
  const status = await cli(['daemon', 'status'], socket, dir, dir);
  t.same(status, { code: exitCodes.agent, stdout: 'vsyncd is not running\n', stderr: '' });
  const stop = await cli(['daemon', 'stop'], socket, dir, dir);
  t.same(stop, { code: 0, stdout: 'vsyncd is not running\n', stderr: '' });
  const lock = await cli(['lock'], socket, dir, dir);
  t.same(lock, { code: 0, stdout: '🔒 locked (0 keys dropped)\n', stderr: '' }, 'no agent, no keys held');
  const push = await cli(['push', 'dev'], socket, dir, dir);
  t.equal(push.code, exitCodes.agent);
  t.match(
    push.stderr,
    `vsync: error: no vsync agent answers on the socket: ${socket} (none is running, and VSYNC_NO_AUTOSTART is set); there is no agent log at `,
  );
  t.match(push.stderr, /\nvsync: hint: start it with `vsync daemon start`/);
});
