// What `vsync daemon install` writes and runs, as data: the systemd units and the launchd plist rendered
// from the templates in systemd/ and launchd/ with awkward paths, the plist read back by Python's
// plistlib, the install and uninstall plans of both managers, and their command lines. Rendering for this
// machine and systemd-analyze verify are in test/integration/systemd-units.test.ts.
import t from 'tap';
import { AGENT_ENVIRONMENT } from '../../shared/agent-environment.js';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exitCodes } from '../../shared/errors.js';
import { socketPath } from '../../shared/socket-path.js';
import {
  installSteps,
  launchdLog,
  launchdPlist,
  shellLine,
  stepLine,
  systemdUnitDir,
  uninstallSteps,
  type Machine,
} from '../../client/commands/daemon-install.js';
import { LAUNCHD_LABEL, WRITTEN_BY, renderPlist, renderSystemdUnit, systemdWord, xmlText } from '../../client/commands/daemon-units.js';
import { projectRoot } from '../helpers/built.js';
import { skipUnless } from '../helpers/real-component.js';

const run = promisify(execFile);
const template = (path: string) => readFileSync(join(projectRoot, path), 'utf8');

function machine(overrides: Partial<Machine> = {}): Machine {
  return {
    env: { HOME: '/home/ann', XDG_RUNTIME_DIR: '/run/user/1000' },
    uid: 1000,
    home: '/home/ann',
    node: '/usr/bin/node',
    vsyncd: '/opt/vsync/dist/daemon/main.js',
    template,
    ...overrides,
  };
}

t.test('a word of a systemd command line', async (t) => {
  const cases: Array<[string, string, string]> = [
    // path, as the executable, as an argument
    ['/usr/bin/node', '/usr/bin/node', '/usr/bin/node'],
    [
      '/home/ann/.nvm/versions/node/v20.19.0/bin/node',
      '/home/ann/.nvm/versions/node/v20.19.0/bin/node',
      '/home/ann/.nvm/versions/node/v20.19.0/bin/node',
    ],
    ['/home/ann/My Tools/node', '"/home/ann/My Tools/node"', '"/home/ann/My Tools/node"'],
    ['/opt/100%/node', '/opt/100%%/node', '/opt/100%%/node'],
    ['/opt/$HOME/node', '"/opt/$HOME/node"', '"/opt/$$HOME/node"'],
    ['/opt/a"b\\c/node', '"/opt/a\\"b\\\\c/node"', '"/opt/a\\"b\\\\c/node"'],
    ["/opt/it's/node", '"/opt/it\'s/node"', '"/opt/it\'s/node"'],
  ];
  for (const [path, executable, argument] of cases) {
    t.equal(systemdWord(path, 'executable'), executable, `${path} as the executable`);
    t.equal(systemdWord(path, 'argument'), argument, `${path} as an argument`);
  }
});

t.test('the service unit: absolute paths filled in, restarts that stop at a configuration error', async (t) => {
  const unit = renderSystemdUnit(template('systemd/vsyncd.service'), { node: '/home/ann/My Tools/node', vsyncd: '/opt/v%/$x/main.js' });
  t.match(unit, /^ExecStart="\/home\/ann\/My Tools\/node" "\/opt\/v%%\/\$\$x\/main\.js"$/m);
  t.notMatch(unit, /@[A-Z]+@/, 'no placeholder left');
  t.ok(unit.includes(WRITTEN_BY), "marked as vsync's");
  t.match(unit, /^Restart=on-failure$/m);
  const prevent = /^RestartPreventExitStatus=(.*)$/m.exec(unit)?.[1]?.split(' ');
  t.same(prevent, [String(exitCodes.usage), String(exitCodes.config)], 'the exit statuses of usage and configuration errors');
  t.match(unit, /^Requires=vsyncd\.socket$/m);
  t.match(unit, /^NoNewPrivileges=yes$/m);
  t.match(unit, /^ProtectSystem=strict$/m);
  t.match(unit, /^ReadWritePaths=%h %t -\/tmp -\/var\/tmp$/m, 'home, the runtime folder, and the temp folders repos are made in');
  t.notMatch(unit, /^PrivateTmp=/m, 'a repo in /tmp must be the same folder to the agent as to its clients');
  t.notMatch(unit, /^MemoryDenyWriteExecute=/m, 'V8 needs writable code pages');
  t.match(unit, /^SyslogIdentifier=vsyncd$/m);
});

t.test('the socket unit listens where vsync looks for the agent by default', async (t) => {
  const unit = renderSystemdUnit(template('systemd/vsyncd.socket'), { node: '/usr/bin/node', vsyncd: '/x/main.js' });
  const listen = /^ListenStream=(.*)$/m.exec(unit)?.[1];
  t.equal(listen?.replace('%t', '/run/user/1000'), socketPath({ XDG_RUNTIME_DIR: '/run/user/1000' }));
  const service = template('systemd/vsyncd.service');
  t.equal(/^Environment=VSYNC_SOCKET=(.*)$/m.exec(service)?.[1], listen, 'and the service names the same path');
  for (const [name, value] of Object.entries(AGENT_ENVIRONMENT))
    t.match(service, new RegExp(`^Environment=${name}=${value}$`, 'm'), `the service starts the agent as autostart does: ${name}`);
  t.match(unit, /^SocketMode=0600$/m);
  t.match(unit, /^DirectoryMode=0700$/m);
  t.match(unit, /^WantedBy=sockets\.target$/m);
});

t.test('paths no unit file can hold are refused', async (t) => {
  t.throws(() => renderSystemdUnit(template('systemd/vsyncd.service'), { node: '/usr/bin/no\nde', vsyncd: '/x/main.js' }), {
    code: 'SERVICE_INSTALL_FAILED',
    message: /the node path "\/usr\/bin\/no\\nde" holds a control character/,
  });
  t.throws(() => renderSystemdUnit(template('systemd/vsyncd.service'), { node: 'node', vsyncd: '/x/main.js' }), {
    code: 'INTERNAL',
    message: /not absolute/,
  });
  t.throws(() => renderPlist(template(`launchd/${LAUNCHD_LABEL}.plist`), { node: '/n', vsyncd: '/v', socket: '/s\u0007', log: '/l' }), {
    code: 'SERVICE_INSTALL_FAILED',
    message: /the socket path/,
  });
});

t.test('xml text', async (t) => {
  t.equal(xmlText(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
});

const hasPython = await run('/usr/bin/python3', ['-c', 'import plistlib']).then(
  () => true,
  () => false,
);

t.test('the launchd plist, read back by plistlib', { skip: skipUnless(hasPython, '/usr/bin/python3 is not installed') }, async (t) => {
  const home = '/Users/ann & bob';
  const paths = {
    node: '/Users/ann & bob/.nvm/<v20>/bin/node',
    vsyncd: '/opt/vsync\'s "dist"/daemon/main.js',
    socket: '/var/folders/xy/T/vsync-501/vsyncd.sock',
    log: launchdLog({ home }),
  };
  const plist = renderPlist(template(`launchd/${LAUNCHD_LABEL}.plist`), paths);
  t.notMatch(plist, /@[A-Z]+@/);
  const { stdout } = await run('/usr/bin/python3', [
    '-c',
    'import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.argv[1].encode())))',
    plist,
  ]);
  const read = JSON.parse(stdout) as Record<string, unknown>;
  t.same(read, {
    Label: 'tools.vsync.vsyncd',
    ProgramArguments: [paths.node, paths.vsyncd],
    EnvironmentVariables: { VSYNC_SOCKET: paths.socket },
    RunAtLoad: true,
    KeepAlive: { Crashed: true },
    StandardOutPath: '/Users/ann & bob/Library/Logs/vsyncd.log',
    StandardErrorPath: '/Users/ann & bob/Library/Logs/vsyncd.log',
  });
  t.match(LAUNCHD_LABEL, /^[a-z]+(\.[a-z]+)+$/, 'reverse-DNS');
});

t.test('install on Linux: both units, reload, enable the socket and the service', async (t) => {
  const m = machine();
  const dir = '/home/ann/.config/systemd/user';
  t.equal(systemdUnitDir(m), dir);
  t.equal(systemdUnitDir(machine({ env: { XDG_CONFIG_HOME: '/cfg' } })), '/cfg/systemd/user');
  t.equal(
    systemdUnitDir(machine({ env: { XDG_CONFIG_HOME: 'relative' } })),
    dir,
    'a relative XDG_CONFIG_HOME is ignored, as the spec says',
  );

  const fresh = installSteps('systemd', m, { serviceActive: false, agent: undefined });
  t.same(
    fresh.map((s) => stepLine(s, false)),
    [
      `writing ${dir}/vsyncd.service`,
      `writing ${dir}/vsyncd.socket`,
      'running systemctl --user daemon-reload',
      'running systemctl --user enable --now vsyncd.socket vsyncd.service',
    ],
  );
  const service = fresh[0]!.kind === 'write' ? fresh[0]!.content : '';
  t.match(service, /^ExecStart=\/usr\/bin\/node \/opt\/vsync\/dist\/daemon\/main\.js$/m);

  const over = installSteps('systemd', m, { serviceActive: false, agent: { pid: 77 } });
  t.equal(stepLine(over[3]!, false), 'stopping the agent vsync started (pid 77), so that the service takes over its socket');
  const again = installSteps('systemd', m, { serviceActive: true, agent: undefined });
  t.same(
    again[3],
    { kind: 'run', argv: ['systemctl', '--user', 'stop', 'vsyncd.service', 'vsyncd.socket'] },
    'a reinstall restarts the units',
  );
  t.equal(again.length, 5);
});

t.test('uninstall on Linux: disable what is there, remove it, reload', async (t) => {
  const m = machine();
  const dir = '/home/ann/.config/systemd/user';
  t.same(uninstallSteps('systemd', m, [], false), [], 'nothing there, nothing to do');
  t.same(uninstallSteps('systemd', m, [`${dir}/vsyncd.service`, `${dir}/vsyncd.socket`], true), [
    { kind: 'run', argv: ['systemctl', '--user', 'disable', '--now', 'vsyncd.service', 'vsyncd.socket'] },
    { kind: 'remove', path: `${dir}/vsyncd.service` },
    { kind: 'remove', path: `${dir}/vsyncd.socket` },
    { kind: 'run', argv: ['systemctl', '--user', 'daemon-reload'] },
  ]);
  t.same(uninstallSteps('systemd', m, [`${dir}/vsyncd.socket`], false)[0], {
    kind: 'run',
    argv: ['systemctl', '--user', 'disable', '--now', 'vsyncd.socket'],
  });
});

t.test('install and uninstall on macOS: the plist, bootstrap and bootout', async (t) => {
  const m = machine({ home: '/Users/ann', env: { HOME: '/Users/ann', VSYNC_SOCKET: '/tmp/v/s.sock' }, uid: 501 });
  const plist = '/Users/ann/Library/LaunchAgents/tools.vsync.vsyncd.plist';
  t.equal(launchdPlist(m), plist);
  const steps = installSteps('launchd', m, { serviceActive: false, agent: undefined });
  t.same(
    steps.map((s) => stepLine(s, true)),
    [`would write ${plist}:`, `would run launchctl bootstrap gui/501 ${plist}`],
  );
  t.match(
    steps[0]!.kind === 'write' ? steps[0]!.content : '',
    /<string>\/tmp\/v\/s\.sock<\/string>/,
    "the socket this user's vsync looks at",
  );
  t.same(installSteps('launchd', m, { serviceActive: true, agent: undefined })[1], {
    kind: 'run',
    argv: ['launchctl', 'bootout', 'gui/501/tools.vsync.vsyncd'],
  });
  t.same(installSteps('launchd', m, { serviceActive: false, agent: { pid: undefined } })[1], { kind: 'stop-agent', pid: undefined });
  t.same(uninstallSteps('launchd', m, [plist], true), [
    { kind: 'run', argv: ['launchctl', 'bootout', 'gui/501/tools.vsync.vsyncd'] },
    { kind: 'remove', path: plist },
  ]);
  t.same(uninstallSteps('launchd', m, [plist], false), [{ kind: 'remove', path: plist }], 'not loaded: nothing to boot out');
});

t.test('commands are shown as a shell would take them', async (t) => {
  t.equal(
    shellLine(['launchctl', 'bootstrap', 'gui/501', "/Users/a b/it's.plist"]),
    "launchctl bootstrap gui/501 '/Users/a b/it'\\''s.plist'",
  );
  t.equal(shellLine(['systemctl', '--user', 'daemon-reload']), 'systemctl --user daemon-reload');
});

t.test('the command lines', async (t) => {
  const { parseArgs } = await import('../../client/args.js');
  const { helpText } = await import('../../client/help.js');
  t.same(parseArgs(['daemon', 'install']), { name: 'run', json: false, command: { name: 'daemon', action: 'install', dryRun: false } });
  t.same(parseArgs(['daemon', 'uninstall', '--dry-run', '--json']), {
    name: 'run',
    json: true,
    command: { name: 'daemon', action: 'uninstall', dryRun: true },
  });
  t.same(parseArgs(['daemon', '--dry-run', 'install']), {
    name: 'run',
    json: false,
    command: { name: 'daemon', action: 'install', dryRun: true },
  });
  t.throws(() => parseArgs(['daemon', 'stop', '--dry-run']), { code: 'USAGE', message: /--dry-run goes with install or uninstall/ });
  t.throws(() => parseArgs(['daemon', 'install', '--dry-run', '--dry-run']), { code: 'USAGE', message: /--dry-run given twice/ });
  t.throws(() => parseArgs(['daemon', 'reinstall']), {
    code: 'USAGE',
    message: /unknown daemon command "reinstall": start, stop, restart, status, install or uninstall/,
  });
  t.match(helpText('daemon'), /vsync daemon install\|uninstall \[--dry-run\]/);
  t.match(helpText(), /daemon install\|uninstall/);
});
