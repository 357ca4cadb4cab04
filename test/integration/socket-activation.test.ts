// vsyncd under socket activation, with the real systemd-socket-activate (Debian's systemd package): it
// binds the socket and, on the first connection, execs the agent with the socket as fd 3 and LISTEN_PID /
// LISTEN_FDS naming it, as systemd's vsyncd.socket does. The real `vsync` reaches that agent; the agent
// announces itself and takes its lock as always, but never removes or re-binds the socket, which stays the
// activator's after the agent stops. Handovers it cannot serve are configuration errors (exit 3).
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodes } from '../../shared/errors.js';
import { agentLockFile, agentStateFile } from '../../shared/socket-path.js';
import { call, freshSocket, startAgent } from '../helpers/agent.js';
import { built } from '../helpers/built.js';
import { vsync } from '../helpers/cli.js';
import { skipUnless } from '../helpers/real-component.js';
import type { TestContext } from '../helpers/tap-types.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { PATIENCE_MS } from '../helpers/patience.js';

const hasActivator = spawnSync('systemd-socket-activate', ['--version']).status === 0;
const skip = skipUnless(hasActivator, 'systemd-socket-activate is not installed (apt-get install systemd)');

const { base, cleanup } = tempBase('vsync-activate-');
t.teardown(cleanup);
const home = join(base, 'home');
mkdirSync(home, { recursive: true });

interface Activated {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

/** systemd-socket-activate listening on `listen` (paths or host:port), ready to exec the agent on the first connection. */
async function activate(t: TestContext, listen: string[], env: Record<string, string>, extra: string[] = []): Promise<Activated> {
  const args = [...listen.flatMap((l) => ['-l', l]), ...extra, ...Object.entries(env).flatMap(([k, v]) => ['-E', `${k}=${v}`])];
  const child = spawn('systemd-socket-activate', [...args, process.execPath, fileURLToPath(built('daemon/main'))], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + PATIENCE_MS;
  while ((out.match(/^Listening on /gm) ?? []).length < listen.length) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`systemd-socket-activate did not listen:\n${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, output: () => out, exited };
}

/** A connection that only wakes the activator; what it gets back does not matter. */
function poke(target: { path: string } | { host: string; port: number }): void {
  const socket = connect(target as { path: string });
  socket.on('error', () => undefined);
  socket.setTimeout(5_000, () => socket.destroy());
}

const cliEnv = (socket: string) => ({ HOME: home, VSYNC_SOCKET: socket, VSYNC_NO_AUTOSTART: '1' });

t.test("the first connection starts the agent on the activator's socket; SIGTERM leaves that socket alone", { skip }, async (t) => {
  const socket = freshSocket();
  const act = await activate(t, [socket], { HOME: home, VSYNC_SOCKET: socket });
  const bound = statSync(socket);
  t.ok(bound.isSocket(), 'the activator bound the socket');
  t.notOk(existsSync(agentStateFile(socket)), 'no agent before the first connection');

  // The real client, with autostart off: only the activator can have started what answers.
  const status = await vsync(['daemon', 'status'], { cwd: home, env: cliEnv(socket) });
  t.equal(status.code, 0, status.stderr);
  t.equal(
    status.stdout,
    `vsyncd running (pid ${act.child.pid}, socket ${socket})\n`,
    "the agent is the activator's child (it execs in place)",
  );
  const full = await vsync(['status', '--json'], { cwd: home, env: cliEnv(socket) });
  t.equal(full.code, 0, full.stderr);
  t.match(JSON.parse(full.stdout), { pid: act.child.pid, socket });

  t.match(JSON.parse(readFileSync(agentStateFile(socket), 'utf8')), { pid: act.child.pid, socket }, 'the state file announces it');
  t.ok(existsSync(agentLockFile(socket)), 'it holds the agent lock');
  t.match(act.output(), new RegExp(`listening on ${socket}, fd 3 from the service manager`));
  const serving = statSync(socket);
  t.equal(serving.ino, bound.ino, 'the same socket file: not removed or re-bound');

  // A second agent by hand finds the socket answering and leaves it to the first.
  const second = await startAgent({ home, socket, waitReady: false });
  t.equal(await second.exited, exitCodes.agent);
  t.match(second.output(), /another vsync agent is already running on this socket/);
  t.equal(statSync(socket).ino, bound.ino, 'the second agent did not take the socket either');
  t.equal((await call(socket, 'GET', '/v1/status')).json<{ pid: number }>().pid, act.child.pid);

  act.child.kill('SIGTERM');
  t.equal(await act.exited, 0, 'SIGTERM: a clean exit');
  t.ok(existsSync(socket), "the socket file stays: it is the service manager's to remove");
  t.equal(statSync(socket).ino, bound.ino, 'untouched');
  t.notOk(existsSync(agentStateFile(socket)), 'the state file is removed');
  t.notOk(existsSync(agentLockFile(socket)), 'the lock is released');
});

/**
 * The exit status of the agent the activator started (in --accept mode the activator reports its children),
 * or 'still running' after a generous bound: an agent that serves a handover it should refuse never exits.
 */
async function agentExit(act: Activated, accept = false): Promise<number | string | null> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    if (accept) {
      const died = /Child \d+ died with code (\d+)/.exec(act.output());
      if (died) return Number(died[1]);
    } else if (act.child.exitCode !== null || act.child.signalCode !== null) {
      return act.child.exitCode;
    }
    if (Date.now() > deadline) return 'still running';
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('handovers the agent cannot serve: exit 3 with the reason, and the socket left as it was', { skip }, async (t) => {
  t.test('two sockets', async (t) => {
    const one = freshSocket();
    const two = freshSocket();
    const act = await activate(t, [one, two], { HOME: home, VSYNC_SOCKET: one });
    poke({ path: one });
    t.equal(await agentExit(act), exitCodes.config);
    t.match(
      act.output(),
      /vsyncd: error: the socket the service manager passed cannot be used: 2 descriptors were passed \(LISTEN_FDS\); vsyncd serves exactly one socket\nvsyncd: hint: vsyncd takes one listening Unix socket/,
    );
    t.ok(statSync(one).isSocket() && statSync(two).isSocket());
    t.notOk(existsSync(agentStateFile(one)), 'never announced');
  });

  t.test('a connection instead of a listening socket (Accept=yes)', async (t) => {
    const socket = freshSocket();
    const act = await activate(t, [socket], { HOME: home, VSYNC_SOCKET: socket }, ['--accept']);
    poke({ path: socket });
    t.equal(await agentExit(act, true), exitCodes.config);
    t.match(act.output(), /cannot be used: fd 3 cannot be listened on \(.*\); it must be a listening stream socket \(Accept=no\)/);
    t.notOk(existsSync(agentStateFile(socket)));
  });

  t.test('a TCP port: the API never goes on the network', async (t) => {
    const port = await freePort();
    // A socket at the agent's own path, so that only the kind of the descriptor is wrong.
    const socket = freshSocket();
    const decoy = await listening(socket);
    t.teardown(() => decoy.close());
    const act = await activate(t, [`127.0.0.1:${port}`], { HOME: home, VSYNC_SOCKET: socket });
    poke({ host: '127.0.0.1', port });
    t.equal(await agentExit(act), exitCodes.config);
    t.match(
      act.output(),
      new RegExp(`cannot be used: fd 3 is a TCP socket \\(127\\.0\\.0\\.1:${port}\\); vsyncd serves only a Unix socket`),
    );
    t.notOk(existsSync(agentStateFile(socket)));
  });

  t.test('a socket bound elsewhere than the path its clients use', async (t) => {
    const socket = freshSocket();
    const expected = join(dirname(freshSocket()), 'vsyncd.sock');
    const act = await activate(t, [socket], { HOME: home, VSYNC_SOCKET: expected });
    poke({ path: socket });
    t.equal(await agentExit(act), exitCodes.config);
    t.match(
      act.output(),
      new RegExp(`fd 3 was passed, but ${expected} is missing: the socket unit's ListenStream= and VSYNC_SOCKET must name the same path`),
    );
    t.ok(statSync(socket).isSocket(), "the activator's socket is still there");
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function listening(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => c.destroy());
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}
