// The systemd units as `vsync daemon install` renders them for this machine (taken from the real CLI's
// --dry-run --json), checked by the real `systemd-analyze --user verify`: both files load, every
// directive is known (verify only warns about unknown ones, so its output must be empty too), and the
// ExecStart= paths lead to executables, also when they hold spaces, % and $.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSystemdUnit } from '../../client/commands/daemon-units.js';
import { projectRoot } from '../helpers/built.js';
import { vsync } from '../helpers/cli.js';
import { skipUnless } from '../helpers/real-component.js';
import { tempBase } from '../helpers/vault-fixture.js';

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const skip = skipUnless(hasAnalyze, 'systemd-analyze is not installed (apt-get install systemd)');

const { base, cleanup } = tempBase('vsync-units-');
t.teardown(cleanup);
const runtime = join(base, 'run');
mkdirSync(runtime, { mode: 0o700 });

interface Verified {
  readonly code: number;
  readonly output: string;
}

function verify(folder: string): Promise<Verified> {
  return new Promise((resolve) => {
    const files = ['vsyncd.service', 'vsyncd.socket'].map((f) => join(folder, f));
    // --user: the units are a user manager's (%t is $XDG_RUNTIME_DIR, %h the home folder).
    execFile(
      'systemd-analyze',
      ['--user', '--man=no', 'verify', ...files],
      { env: { ...process.env, XDG_RUNTIME_DIR: runtime } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

function writeUnits(folder: string, service: string, socket: string): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'vsyncd.service'), service);
  writeFileSync(join(folder, 'vsyncd.socket'), socket);
}

t.test('the units rendered for this machine pass systemd-analyze verify', { skip }, async (t) => {
  const home = join(base, 'home');
  mkdirSync(home);
  const plan = await vsync(['daemon', 'install', '--dry-run', '--json'], { cwd: home, env: { HOME: home } });
  t.equal(plan.code, 0, plan.stderr);
  const steps = (JSON.parse(plan.stdout) as { steps: Array<{ write?: string; content?: string }> }).steps;
  const content = (name: string) => steps.find((s) => s.write === join(home, '.config', 'systemd', 'user', name))?.content ?? '';
  const service = content('vsyncd.service');
  t.match(
    service,
    new RegExp(`^ExecStart=${process.execPath} ${join(projectRoot, 'dist', 'daemon', 'main.js')}$`, 'm'),
    'this node and this vsyncd, absolute',
  );

  const folder = join(base, 'this-machine');
  writeUnits(folder, service, content('vsyncd.socket'));
  const verified = await verify(folder);
  t.equal(verified.code, 0, verified.output);
  t.equal(verified.output, '', 'no warnings either');
});

t.test('paths with a space, % and ${} still name the executables', { skip }, async (t) => {
  const tools = join(base, 'My Tools %h ${HOME}');
  mkdirSync(tools);
  symlinkSync(process.execPath, join(tools, 'node'));
  const paths = { node: join(tools, 'node'), vsyncd: join(projectRoot, 'dist', 'daemon', 'main.js') };
  const folder = join(base, 'odd-paths');
  const render = (file: string) => renderSystemdUnit(readFileSync(join(projectRoot, 'systemd', file), 'utf8'), paths);
  writeUnits(folder, render('vsyncd.service'), render('vsyncd.socket'));
  const verified = await verify(folder);
  t.equal(verified.code, 0, verified.output);
  t.equal(verified.output, '');
});

t.test('verify does catch what these checks are for', { skip }, async (t) => {
  const socket = readFileSync(join(projectRoot, 'systemd', 'vsyncd.socket'), 'utf8');
  const service = renderSystemdUnit(readFileSync(join(projectRoot, 'systemd', 'vsyncd.service'), 'utf8'), {
    node: join(base, 'no-such-node'),
    vsyncd: join(projectRoot, 'dist', 'daemon', 'main.js'),
  });
  const missing = join(base, 'missing-node');
  writeUnits(missing, service, socket);
  const failed = await verify(missing);
  t.not(failed.code, 0);
  t.match(failed.output, /no-such-node is not executable/);

  const unknown = join(base, 'unknown-key');
  writeUnits(
    unknown,
    service.replace('/no-such-node', '/../../..' + process.execPath).replace('[Service]', '[Service]\nProtectEverything=yes'),
    socket,
  );
  const warned = await verify(unknown);
  t.match(warned.output, /Unknown key 'ProtectEverything'/, 'an unknown directive is only a warning: hence the empty-output check');
});
