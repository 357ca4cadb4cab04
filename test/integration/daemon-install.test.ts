// `vsync daemon install|uninstall` where no service manager answers (a container as root has systemctl but
// no user manager): --dry-run still prints the plan and touches nothing; the real thing fails with the
// registry's error and writes nothing; a unit file vsync did not write is never replaced. With a real user
// manager: daemon-service.test.ts.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitCodes } from '../../shared/errors.js';
import { freshSocket, startAgent, call } from '../helpers/agent.js';
import { projectRoot } from '../helpers/built.js';
import { vsync } from '../helpers/cli.js';
import { skipUnless } from '../helpers/real-component.js';
import { tempBase } from '../helpers/vault-fixture.js';

// On macOS, install plans for launchd instead (test/unit/daemon-units.test.ts has those plans).
const skip = skipUnless(process.platform === 'linux', 'these are the systemd plans, for Linux');

const { base, cleanup } = tempBase('vsync-install-');
t.teardown(cleanup);

/** A HOME of its own, and a runtime folder where no user manager listens. */
function machine(): { home: string; env: Record<string, string> } {
  const home = mkdtempSync(join(base, 'home-'));
  const runtime = mkdtempSync(join(base, 'run-'));
  // No session bus either: systemctl --user has nowhere to go.
  return { home, env: { HOME: home, XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: '', VSYNC_SOCKET: '', XDG_CONFIG_HOME: '' } };
}

/** Every file and folder under `dir`, relative: a HOME that install must leave as it found it. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

t.test('install --dry-run prints the units and the commands, and changes nothing', { skip }, async (t) => {
  const { home, env } = machine();
  const res = await vsync(['daemon', 'install', '--dry-run'], { cwd: home, env });
  t.equal(res.code, 0, res.stderr);
  const dir = join(home, '.config', 'systemd', 'user');
  const lines = res.stdout.split('\n');
  const steps = lines.filter((l) => /^\[\d\/\d\] /.test(l));
  t.same(steps, [
    `[1/4] would write ${dir}/vsyncd.service:`,
    `[2/4] would write ${dir}/vsyncd.socket:`,
    '[3/4] would run systemctl --user daemon-reload',
    '[4/4] would run systemctl --user enable --now vsyncd.socket vsyncd.service',
  ]);
  t.equal(lines.at(-2), 'dry run: nothing was written, removed, run or stopped');
  // Each file's content follows its line, indented four spaces, exactly as install would write it.
  const service = readFileSync(join(projectRoot, 'systemd', 'vsyncd.service'), 'utf8')
    .replace('@NODE@', process.execPath)
    .replace('@VSYNCD@', join(projectRoot, 'dist', 'daemon', 'main.js'));
  const shown = lines.slice(lines.indexOf(steps[0]!) + 1, lines.indexOf(steps[1]!)).map((l) => l.replace(/^ {4}/, ''));
  t.equal(`${shown.join('\n')}\n`, service);
  t.match(res.stderr, /^vsync: warning: `systemctl --user` reaches no systemd user manager \(.+\): install would stop here\n$/);
  t.same(tree(home), [], 'HOME is as empty as before');
});

t.test('install --dry-run --json: the steps as data', { skip }, async (t) => {
  const { home, env } = machine();
  const res = await vsync(['daemon', 'install', '--dry-run', '--json'], { cwd: home, env });
  t.equal(res.code, 0, res.stderr);
  const plan = JSON.parse(res.stdout) as {
    action: string;
    manager: string;
    dryRun: boolean;
    socket: string;
    steps: Array<Record<string, unknown>>;
  };
  t.match(plan, { action: 'install', manager: 'systemd', dryRun: true, socket: join(env.XDG_RUNTIME_DIR!, 'vsync', 'vsyncd.sock') });
  t.same(
    plan.steps.map((s) => Object.keys(s)),
    [['write', 'content'], ['write', 'content'], ['run'], ['run']],
  );
  t.same(plan.steps[3], { run: ['systemctl', '--user', 'enable', '--now', 'vsyncd.socket', 'vsyncd.service'] });
  t.same(tree(home), []);
});

t.test('a running agent vsync started: the plan stops it first, the dry run does not', { skip }, async (t) => {
  const { home, env } = machine();
  const socket = freshSocket();
  const agent = await startAgent({ home: join(base, 'agent-home'), socket });
  t.teardown(() => agent.stop('SIGKILL'));
  const res = await vsync(['daemon', 'install', '--dry-run'], { cwd: home, env: { ...env, VSYNC_SOCKET: socket } });
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, `\n[4/5] would stop the agent vsync started (pid ${agent.child.pid}), so that the service takes over its socket\n`);
  t.equal((await call(socket, 'GET', '/v1/status')).status, 200, 'still running');
  t.match(res.stderr, /VSYNC_SOCKET is set to .* but the service listens at .*: unset it/);
});

t.test('install and uninstall without a user manager: the registry error, and nothing written', { skip }, async (t) => {
  for (const action of ['install', 'uninstall']) {
    const { home, env } = machine();
    const res = await vsync(['daemon', action], { cwd: home, env });
    t.equal(res.code, exitCodes.agent, action);
    t.match(
      res.stderr,
      /^vsync: error: no service manager to run vsyncd under: `systemctl --user` reaches no systemd user manager \(.+\)\n/,
    );
    t.match(
      res.stderr,
      /\nvsync: hint: a service needs the systemd user manager \(`systemctl --user`\) on Linux or launchd on macOS; without one, vsync starts the agent on first use, or start it with `vsync daemon start`\n$/,
    );
    t.equal(res.stdout, '');
    t.same(tree(home), [], `${action}: HOME untouched`);

    const json = await vsync(['daemon', action, '--json'], { cwd: home, env });
    t.equal(json.code, exitCodes.agent);
    t.match(JSON.parse(json.stderr), { error: { code: 'SERVICE_MANAGER_UNAVAILABLE', message: /reaches no systemd user manager/ } });
  }
});

t.test('without systemctl at all', { skip }, async (t) => {
  const { home, env } = machine();
  const empty = join(base, 'empty-path');
  mkdirSync(empty, { recursive: true });
  const res = await vsync(['daemon', 'install'], { cwd: home, env: { ...env, PATH: empty } });
  t.equal(res.code, exitCodes.agent);
  t.match(res.stderr, /^vsync: error: no service manager to run vsyncd under: systemctl is not installed\n/);
  t.same(tree(home), []);
});

t.test('a unit file vsync did not write is neither replaced nor removed', { skip }, async (t) => {
  const { home, env } = machine();
  const dir = join(home, '.config', 'systemd', 'user');
  mkdirSync(dir, { recursive: true });
  const mine = '[Service]\nExecStart=/usr/local/bin/my-own-vsyncd\n';
  writeFileSync(join(dir, 'vsyncd.service'), mine);
  const before = statSync(join(dir, 'vsyncd.service')).mtimeMs;
  const res = await vsync(['daemon', 'install', '--dry-run'], { cwd: home, env });
  t.equal(res.code, exitCodes.agent);
  t.match(
    res.stderr,
    `vsync: error: a step of installing or uninstalling the service failed: ${dir}/vsyncd.service is there and was not written by vsync\n`,
  );
  t.match(
    res.stderr,
    /vsync: hint: vsync never replaces or removes a file it did not write: move that one away, then run the command again\n$/,
  );
  t.equal(readFileSync(join(dir, 'vsyncd.service'), 'utf8'), mine);
  t.equal(statSync(join(dir, 'vsyncd.service')).mtimeMs, before);
  t.same(tree(home), ['.config', '.config/systemd', '.config/systemd/user', '.config/systemd/user/vsyncd.service']);
});

t.test('--dry-run belongs to install and uninstall', async (t) => {
  const { home, env } = machine();
  const res = await vsync(['daemon', 'status', '--dry-run'], { cwd: home, env });
  t.equal(res.code, exitCodes.usage);
  t.match(res.stderr, /^vsync: error: invalid usage: --dry-run goes with install or uninstall\nvsync: hint: run `vsync daemon --help`\n$/);
});
