// The agent's configuration failures exit with the config class (3), which the systemd unit names in
// RestartPreventExitStatus=: a service manager restarts a crash, never an agent that would only fail the
// same way again. (The unsafe socket folder and the over-long socket path are in agent-lifecycle.test.ts.)
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodes } from '../../shared/errors.js';
import { agentStateFile } from '../../shared/socket-path.js';
import { freshSocket, startAgent } from '../helpers/agent.js';
import { built, childEnv } from '../helpers/built.js';
import { tempBase } from '../helpers/vault-fixture.js';

const { base, cleanup } = tempBase('vsync-cfg-exit-');
t.teardown(cleanup);
const home = join(base, 'home');

t.test('a VSYNC_* setting the agent cannot use: exit 3, naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ VSYNC_IDLE_TTL_SECONDS: 'banana' }, /VSYNC_IDLE_TTL_SECONDS: /],
    [{ VSYNC_WATCH_DEBOUNCE_MS: '600001' }, /VSYNC_WATCH_DEBOUNCE_MS: /],
    [{ VSYNC_SHUTDOWN_SECONDS: '-1', VSYNC_RETRY_SECONDS: '0' }, /VSYNC_SHUTDOWN_SECONDS: .*; VSYNC_RETRY_SECONDS: /],
    [{ VSYNC_MAX_BUNDLE_ENTRIES: '0', VSYNC_MAX_FILE_BYTES: '1.5' }, /VSYNC_MAX_BUNDLE_ENTRIES: .*; VSYNC_MAX_FILE_BYTES: /],
    [{ VSYNC_MAX_BUNDLE_BYTES: 'lots' }, /VSYNC_MAX_BUNDLE_BYTES: /],
    [{ VSYNC_TRACE_FILE: 'relative/trace' }, /VSYNC_TRACE_FILE: must be an absolute path/],
    [{ VSYNC_TRACE_FILE: '/nonexistent-folder/trace' }, /VSYNC_TRACE_FILE: cannot open \/nonexistent-folder\/trace \(ENOENT\)/],
  ];
  for (const [env, names] of cases) {
    const socket = freshSocket();
    const agent = await startAgent({ home, socket, env, waitReady: false });
    t.equal(await agent.exited, exitCodes.config, JSON.stringify(env));
    t.match(agent.output(), /^vsyncd: error: an agent setting in the environment is not valid: /m);
    t.match(agent.output(), names);
    t.match(agent.output(), /vsyncd: hint: run `vsyncd --help` for the VSYNC_\* variables/);
    t.notOk(existsSync(socket), 'nothing listens');
  }
});

t.test('socket activation whose fd 3 is not a socket: exit 3, nothing bound at the path', async (t) => {
  const socket = freshSocket();
  const file = join(base, 'not-a-socket');
  writeFileSync(file, 'x');
  const fd = openSync(file, 'r');
  t.teardown(() => closeSync(fd));
  // LISTEN_PID must be the agent's own pid: the shell exports its own and execs node in its place.
  const child = spawn(
    '/bin/sh',
    ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$1"', process.execPath, fileURLToPath(built('daemon/main'))],
    {
      env: childEnv({ HOME: home, VSYNC_SOCKET: socket }),
      stdio: ['ignore', 'pipe', 'pipe', fd],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, exitCodes.config, out);
  t.match(out, /vsyncd: error: the socket the service manager passed cannot be used: fd 3 is not a socket/);
  t.notOk(existsSync(socket), 'the agent did not bind a socket of its own instead');
  t.notOk(existsSync(agentStateFile(socket)));
  t.equal(readFileSync(file, 'utf8'), 'x');
});

t.test('LISTEN_PID naming another process: the variables are not for this agent, which binds its own socket', async (t) => {
  const socket = freshSocket();
  const agent = await startAgent({ home, socket, env: { LISTEN_PID: '1', LISTEN_FDS: '1' } });
  t.teardown(() => agent.stop('SIGKILL'));
  t.ok(existsSync(agentStateFile(socket)), 'it started and announced itself');
  t.notMatch(agent.output(), /from the service manager/);
  t.equal(await agent.stop('SIGTERM'), 0);
  t.notOk(existsSync(socket), 'and, its own, removed its socket at the end');
});
