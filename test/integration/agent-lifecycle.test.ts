// vsyncd as a process on a real socket: announcing itself, refusing a second agent and unsafe folders,
// clearing a dead agent's socket, stopping cleanly.
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { agentStateFile } from '../../shared/socket-path.js';
import { exitCodes } from '../../shared/errors.js';
import { call, freshSocket, startAgent } from '../helpers/agent.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { within } from '../helpers/patience.js';

const { base, cleanup } = tempBase('vsync-life-');
t.teardown(cleanup);
const home = join(base, 'home');

t.test('status, the state file, a second agent refused, SIGTERM cleans up', async (t) => {
  const socket = freshSocket();
  const agent = await startAgent({ home, socket });
  t.teardown(() => agent.stop('SIGKILL'));
  const status = (await call(socket, 'GET', '/v1/status')).json<{ pid: number; socket: string; locked: boolean }>();
  t.equal(status.pid, agent.child.pid);
  t.equal(status.locked, true);
  const state = JSON.parse(readFileSync(agentStateFile(socket), 'utf8'));
  t.match(state, { pid: agent.child.pid, socket, version: /^\d+\.\d+\.\d+$/ });
  t.equal((await import('node:fs')).statSync(socket).mode & 0o777, 0o600, 'the socket is 0600');
  t.equal((await import('node:fs')).statSync(dirname(socket)).mode & 0o777, 0o700, 'its folder 0700');

  const second = await startAgent({ home, socket, waitReady: false });
  t.equal(await second.exited, exitCodes.agent, 'the second agent exits');
  t.match(second.output(), /vsyncd: error: another vsync agent is already running on this socket/);
  t.equal((await call(socket, 'GET', '/v1/status')).status, 200, 'the first still answers');

  t.equal(await agent.stop('SIGTERM'), 0, 'SIGTERM: exit 0');
  t.notOk(existsSync(agentStateFile(socket)), 'state file removed');
  t.notOk(existsSync(socket), 'socket removed');
});

t.test("a dead agent's socket is cleared by the next one", async (t) => {
  const socket = freshSocket();
  const first = await startAgent({ home, socket });
  await first.stop('SIGKILL');
  t.ok(existsSync(socket), 'SIGKILL leaves the socket behind');
  const next = await startAgent({ home, socket });
  t.teardown(() => next.stop());
  t.equal((await call(socket, 'GET', '/v1/status')).json<{ pid: number }>().pid, next.child.pid);
  t.equal(JSON.parse(readFileSync(agentStateFile(socket), 'utf8')).pid, next.child.pid, 'the state file names the new agent');
});

t.test('a socket folder others can reach is refused', async (t) => {
  const folder = join(base, 'open');
  mkdirSync(folder);
  chmodSync(folder, 0o755);
  const agent = await startAgent({ home, socket: join(folder, 's.sock'), waitReady: false });
  t.equal(await agent.exited, exitCodes.config, 'a configuration error: a service manager does not restart it');
  t.match(agent.output(), /vsyncd: error: the socket folder is not private to this user: .* mode 0755\nvsyncd: hint: .*chmod 700/);
  t.notOk(existsSync(join(folder, 's.sock')));
});

t.test('a socket path too long names VSYNC_SOCKET', async (t) => {
  const agent = await startAgent({ home, socket: join(base, 'x'.repeat(120), 's.sock'), waitReady: false });
  t.equal(await agent.exited, exitCodes.config, 'a configuration error: a service manager does not restart it');
  t.match(agent.output(), /too long for a Unix socket.*VSYNC_SOCKET/s);
});

t.test('shutdown over the API, asked the moment it answers: a clean exit, no state file left', async (t) => {
  const socket = freshSocket();
  // Not waiting for the state file: the stop races the agent's own start-up announcement.
  const agent = await startAgent({ home, socket, waitReady: false });
  while (
    (await call(socket, 'POST', '/v1/shutdown', {}).then(
      (r) => r.status,
      () => 0,
    )) !== 202
  ) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const res = { status: 202 };
  t.equal(res.status, 202);
  t.equal(await agent.exited, 0);
  t.notOk(existsSync(agentStateFile(socket)));
});

t.test("agents started at the same moment over a dead agent's socket: exactly one serves", async (t) => {
  const socket = freshSocket();
  const dead = await startAgent({ home, socket });
  await dead.stop('SIGKILL'); // leaves its socket and its lock behind
  const racers = await Promise.all(Array.from({ length: 4 }, () => startAgent({ home, socket, waitReady: false })));
  t.teardown(() => Promise.all(racers.map((r) => r.stop('SIGKILL'))));
  const running = () => racers.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  // Waits for the three losers to exit, however long a busy machine takes to start four Node processes; the
  // winner never exits, so its exit is not something to wait for.
  const exits = racers.map((r, i) => r.exited.then(() => i));
  const lost = new Set<number>();
  while (lost.size < racers.length - 1) lost.add(await within(Promise.race(exits.filter((_, i) => !lost.has(i))), 'the losers exiting'));
  const alive = running();
  t.equal(alive.length, 1, 'one agent keeps running; the others stopped');
  for (const r of racers.filter((r) => !alive.includes(r))) t.equal(r.child.exitCode, exitCodes.agent);
  const status = (await call(socket, 'GET', '/v1/status')).json<{ pid: number }>();
  t.equal(status.pid, alive[0]?.child.pid, 'and it is the one answering on the socket');
});
