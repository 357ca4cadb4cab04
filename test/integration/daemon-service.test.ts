// `vsync daemon install` and `uninstall` for real, against a systemd user manager of the test's own
// (test/helpers/user-manager.ts): the units load and are enabled, the first connection starts the agent
// under its hardening, it works on vault folders in and out of HOME, a stop by hand and a crash each end
// the way the unit says, a configuration error is not restarted, a reinstall and a takeover of an agent
// vsync started go through, and uninstall leaves nothing behind.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { renderSystemdUnit } from '../../client/commands/daemon-units.js';
import { exitCodes } from '../../shared/errors.js';
import { startAgent } from '../helpers/agent.js';
import { projectRoot } from '../helpers/built.js';
import { vsync } from '../helpers/cli.js';
import { skipUnless } from '../helpers/real-component.js';
import { startUserManager, userManagerUnavailable, type UserManager } from '../helpers/user-manager.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';
import { PATIENCE_MS } from '../helpers/patience.js';

const { base, cleanup } = tempBase('vsync-service-');
const home = join(base, 'home');
const runtime = join(base, 'run');
mkdirSync(home);
mkdirSync(runtime, { mode: 0o700 });

let manager: UserManager | undefined;
let why = userManagerUnavailable();
if (why === undefined) {
  try {
    manager = await startUserManager(home, runtime);
  } catch (err) {
    why = (err as Error).message;
  }
}
t.teardown(async () => {
  await manager?.stop();
  cleanup();
});
const skip = skipUnless(manager !== undefined, `no systemd user manager: ${why}`);

const unitDir = join(home, '.config', 'systemd', 'user');
const socket = join(runtime, 'vsync', 'vsyncd.sock');
const key = randomBytes(32).toString('base64');

// The folders the manager's services use (it has no XDG_*_HOME of its own), named for the CLI too.
const xdg = {
  XDG_CONFIG_HOME: join(home, '.config'),
  XDG_DATA_HOME: join(home, '.local', 'share'),
  XDG_STATE_HOME: join(home, '.local', 'state'),
};

/** The real CLI as this HOME's user, never starting an agent itself unless asked. */
function cli(args: string[], cwd = home, extra: Record<string, string> = {}) {
  return vsync(args, { cwd, env: { ...manager!.env, VSYNC_SOCKET: '', ...xdg, VSYNC_NO_AUTOSTART: '1', ...extra } });
}

/** Polls a condition the manager reaches on its own (a restart, a failure), within a generous bound. */
async function until(t: TestContext, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) {
      t.fail(`${what}: not reached`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const mainPid = async () => Number(await manager!.property('vsyncd.service', 'MainPID'));

function runningPid(stdout: string): number {
  const m = /^vsyncd running \(pid (\d+), socket (.*)\)$/m.exec(stdout);
  return m && m[2] === socket ? Number(m[1]) : -1;
}

t.test('install, use, stop, crash, misconfigure, reinstall, take over, uninstall', { skip }, async (t) => {
  const m = manager!;
  // Keys for the agent under systemd come from the manager's environment (a headless machine's way).
  t.equal((await m.systemctl('set-environment', `VSYNC_KEY=${key}`)).code, 0);

  let installed = false;
  await t.test('install', async (t) => {
    const res = await cli(['daemon', 'install']);
    t.equal(res.code, 0, res.stderr);
    t.equal(
      res.stdout,
      [
        `[1/4] writing ${unitDir}/vsyncd.service`,
        `[2/4] writing ${unitDir}/vsyncd.socket`,
        '[3/4] running systemctl --user daemon-reload',
        '[4/4] running systemctl --user enable --now vsyncd.socket vsyncd.service',
        `✅ vsyncd runs as a systemd user service (pid ${await mainPid()}, socket ${socket}; logs: journalctl --user -u vsyncd)`,
        '',
      ].join('\n'),
      'the agent answered before install said so',
    );
    t.equal(res.stderr, '');
    t.equal((await m.systemctl('is-enabled', 'vsyncd.socket', 'vsyncd.service')).stdout, 'enabled\nenabled\n');
    t.equal(await m.property('vsyncd.socket', 'ActiveState'), 'active');
    t.equal(await m.property('vsyncd.socket', 'Listen'), `${socket} (Stream)`);
    installed = res.code === 0;
  });
  // Every later step needs the units: without them each would only wait out its bound.
  if (!installed) return;

  t.test('the agent serves the socket systemd holds, under its hardening', async (t) => {
    const res = await cli(['daemon', 'status']);
    t.equal(res.code, 0, res.stderr);
    const pid = runningPid(res.stdout);
    t.equal(pid, await mainPid(), "the service's main process answers");
    t.match(JSON.parse(readFileSync(join(runtime, 'vsync', 'vsyncd.json'), 'utf8')), { pid, socket });
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    t.match(status, /^NoNewPrivs:\s+1$/m, 'NoNewPrivileges=');
    t.match(status, /^Seccomp:\s+2$/m, 'a system call filter');
    t.match(status, /^CapEff:\s+0+$/m, 'no capabilities');
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .map((l) => l.split(' '));
    const options = (point: string) => mounts.filter((f) => f[4] === point).at(-1)?.[5] ?? '';
    t.match(options('/'), /^ro\b/, 'ProtectSystem=strict: the system is read-only');
    t.match(options('/tmp'), /^rw\b/, '/tmp stays writable');
  });

  t.test('vault folders in HOME and in /tmp', async (t) => {
    // This test's HOME is itself under /tmp; the mount check above tells the two rules apart.
    const elsewhere = mkdtempSync('/tmp/vsync-service-repo-');
    t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
    for (const [name, parent] of [
      ['svc_home', join(home, 'code')],
      ['svc_tmp', elsewhere],
    ] as const) {
      const repo = join(parent, name);
      mkdirSync(repo, { recursive: true });
      execFileSync('git', ['init', '-q', repo]);
      const init = await cli(['init', 'dev'], repo);
      t.equal(init.code, 0, init.stderr);
      writeFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), `A=${name}\n`);
      const push = await cli(['push', 'dev'], repo);
      t.equal(push.code, 0, push.stderr);
      t.match(push.stdout, `✅ pushed ${name}/dev`);
      const pull = await cli(['pull', 'dev'], repo);
      t.equal(pull.code, 0, pull.stderr);
      t.equal(readFileSync(join(repo, 'infra', 'vault', 'dev', '.env.dev'), 'utf8'), `A=${name}\n`);
      t.ok(
        existsSync(join(home, '.local', 'share', 'vsync', 'store', name, 'dev', 'latest')),
        'the version is in the directory store under HOME',
      );
    }
  });

  t.test('vsync daemon stop: the agent exits, systemd keeps the socket and starts the next agent on demand', async (t) => {
    const before = await mainPid();
    const stop = await cli(['daemon', 'stop']);
    t.equal(stop.code, 0, stop.stderr);
    t.equal(stop.stdout, 'vsyncd stopped\n');
    t.equal(await m.property('vsyncd.service', 'ActiveState'), 'inactive', 'a clean exit: not restarted');
    t.equal(await m.property('vsyncd.socket', 'ActiveState'), 'active');
    t.ok(existsSync(socket), 'the socket is still there');
    const status = await cli(['daemon', 'status']);
    t.equal(status.code, 0, status.stderr);
    const after = runningPid(status.stdout);
    t.not(after, before);
    t.equal(after, await mainPid());
  });

  t.test('a crash is restarted', async (t) => {
    const before = await mainPid();
    process.kill(before, 'SIGKILL');
    await until(t, 'a new agent', async () => {
      const pid = await mainPid();
      return pid !== 0 && pid !== before && (await m.property('vsyncd.service', 'ActiveState')) === 'active';
    });
    t.ok(Number(await m.property('vsyncd.service', 'NRestarts')) >= 1, 'systemd restarted it');
    const status = await cli(['daemon', 'status']);
    t.equal(runningPid(status.stdout), await mainPid());
  });

  t.test('a configuration error (exit 3) is not restarted, and install says the agent does not answer', async (t) => {
    t.equal((await m.systemctl('set-environment', 'VSYNC_IDLE_TTL_SECONDS=banana')).code, 0);
    const res = await cli(['daemon', 'install']);
    t.equal(res.code, exitCodes.agent);
    t.match(res.stdout, '\n[5/5] running systemctl --user enable --now vsyncd.socket vsyncd.service\n');
    t.match(
      res.stderr,
      `vsync: error: a step of installing or uninstalling the service failed: the service is installed, but no agent answers on ${socket} (`,
    );
    t.match(
      res.stderr,
      /\nvsync: hint: `systemctl --user status vsyncd` and `journalctl --user -u vsyncd` say why it does not start; fix that and run install again, or `vsync daemon uninstall`\n$/,
    );
    // One read of the three properties at once: the socket unit starts the service again for connections
    // still queued on it (the probes above), so the state alone flips between failed and active. What must
    // hold is that, seen failed, it failed with exit 3, and that systemd's Restart= never ran.
    let seen: Record<string, string> = {};
    await until(t, 'the agent seen failed with exit 3', async () => {
      const shown = await m.systemctl('show', '-p', 'ActiveState', '-p', 'ExecMainStatus', '-p', 'NRestarts', 'vsyncd.service');
      seen = Object.fromEntries(
        shown.stdout
          .trim()
          .split('\n')
          .map((line) => line.split('=', 2) as [string, string]),
      );
      return seen.ActiveState === 'failed';
    });
    t.equal(seen.ActiveState, 'failed');
    t.equal(seen.ExecMainStatus, String(exitCodes.config));
    t.equal(seen.NRestarts, '0', 'Restart= did not restart it');
    t.equal((await m.systemctl('unset-environment', 'VSYNC_IDLE_TTL_SECONDS')).code, 0);
    await m.systemctl('reset-failed', 'vsyncd.service', 'vsyncd.socket');
    t.equal((await m.systemctl('start', 'vsyncd.socket', 'vsyncd.service')).code, 0, 'fixed, it starts');
  });

  t.test('install again: the running units are restarted on the new files', async (t) => {
    const before = await mainPid();
    const res = await cli(['daemon', 'install']);
    t.equal(res.code, 0, res.stderr);
    t.match(
      res.stdout,
      '\n[4/5] running systemctl --user stop vsyncd.service vsyncd.socket\n[5/5] running systemctl --user enable --now vsyncd.socket vsyncd.service\n',
    );
    const status = await cli(['daemon', 'status']);
    t.equal(status.code, 0, status.stderr);
    t.not(runningPid(status.stdout), before);
  });

  t.test('paths with a space, % and $ reach the agent as they are', async (t) => {
    const odd = join(base, 'odd %h ${HOME}');
    mkdirSync(odd);
    symlinkSync(process.execPath, join(odd, 'node'));
    symlinkSync(join(projectRoot, 'dist', 'daemon', 'main.js'), join(odd, 'main.js'));
    const template = readFileSync(join(projectRoot, 'systemd', 'vsyncd.service'), 'utf8');
    writeFileSync(join(unitDir, 'vsyncd.service'), renderSystemdUnit(template, { node: join(odd, 'node'), vsyncd: join(odd, 'main.js') }));
    await m.systemctl('daemon-reload');
    t.equal((await m.systemctl('restart', 'vsyncd.service')).code, 0);
    const status = await cli(['daemon', 'status']);
    t.equal(status.code, 0, status.stderr);
    const argv = readFileSync(`/proc/${runningPid(status.stdout)}/cmdline`, 'utf8').split('\0');
    t.equal(argv[1], join(odd, 'main.js'), 'the agent got its path with % and $ as written');
  });

  t.test('an agent vsync started itself is stopped for the service', async (t) => {
    const off = await cli(['daemon', 'uninstall']);
    t.equal(off.code, 0, off.stderr);
    // As `vsync daemon start` or any command would start it, with this user's HOME and socket.
    const own = await startAgent({ home, socket, env: { ...xdg, VSYNC_KEY: key } });
    t.teardown(() => own.stop('SIGKILL'));
    const res = await cli(['daemon', 'install']);
    t.equal(res.code, 0, res.stderr);
    t.match(res.stdout, `\n[4/5] stopping the agent vsync started (pid ${own.child.pid}), so that the service takes over its socket\n`);
    t.equal(await own.exited, 0, 'it stopped cleanly');
    const status = await cli(['daemon', 'status']);
    t.equal(runningPid(status.stdout), await mainPid());
  });

  t.test('a unit file vsync did not write stops install before it changes anything', async (t) => {
    const foreign = '[Socket]\nListenStream=%t/other.sock\n';
    const service = readFileSync(join(unitDir, 'vsyncd.service'), 'utf8');
    writeFileSync(join(unitDir, 'vsyncd.socket'), foreign);
    const res = await cli(['daemon', 'install']);
    t.equal(res.code, exitCodes.agent);
    t.match(res.stderr, /was not written by vsync/);
    t.equal(res.stdout, '', 'no step ran');
    t.equal(readFileSync(join(unitDir, 'vsyncd.socket'), 'utf8'), foreign);
    t.equal(readFileSync(join(unitDir, 'vsyncd.service'), 'utf8'), service);
    const un = await cli(['daemon', 'uninstall']);
    t.equal(un.code, exitCodes.agent, 'nor does uninstall remove it');
    t.equal(readFileSync(join(unitDir, 'vsyncd.socket'), 'utf8'), foreign);
    const install = await cli(['daemon', 'install', '--dry-run']);
    t.equal(install.code, exitCodes.agent);
    // Put ours back for the last step.
    rmSync(join(unitDir, 'vsyncd.socket'));
    t.equal((await cli(['daemon', 'install'])).code, 0);
  });

  t.test('uninstall: the units stopped, disabled and removed; vsync is on its own again', async (t) => {
    const res = await cli(['daemon', 'uninstall']);
    t.equal(res.code, 0, res.stderr);
    t.equal(
      res.stdout,
      [
        '[1/4] running systemctl --user disable --now vsyncd.service vsyncd.socket',
        `[2/4] removing ${unitDir}/vsyncd.service`,
        `[3/4] removing ${unitDir}/vsyncd.socket`,
        '[4/4] running systemctl --user daemon-reload',
        '✅ vsyncd no longer runs as a service; vsync starts the agent itself when needed',
        '',
      ].join('\n'),
    );
    t.same(readdirSync(unitDir), [], 'no unit files, no enablement links');
    t.equal(await m.property('vsyncd.service', 'LoadState'), 'not-found');
    t.notOk(existsSync(socket), 'systemd removed its socket');
    const status = await cli(['daemon', 'status']);
    t.equal(status.code, exitCodes.agent);
    t.equal(status.stdout, 'vsyncd is not running\n');
    const again = await cli(['daemon', 'uninstall']);
    t.equal(again.code, 0);
    t.equal(again.stdout, `vsyncd is not installed as a service (there is no ${unitDir}/vsyncd.service or ${unitDir}/vsyncd.socket)\n`);
  });
});
