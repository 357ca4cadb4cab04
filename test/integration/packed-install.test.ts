// `npm pack`, then `npm install -g` of the tarball, gives a working `vsync` and `vsyncd`: the README's
// quick start ("Using it for real") runs with the installed commands on PATH, in a fresh HOME, on a machine
// without a desktop keychain (VSYNC_KEY). The tarball holds what runs and its documents, and nothing of the
// checkout's tests, benchmarks, TypeScript sources, source maps or caches.
//
// It packs the build as it is (--ignore-scripts: prepack would rebuild dist/ under the suite's other tests;
// scripts/test.sh has built first) and installs from npm's cache where it can (--prefer-offline).
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { built, childEnv, projectRoot } from '../helpers/built.js';
import { freshSocket } from '../helpers/agent.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { PATIENCE_MS } from '../helpers/patience.js';

const run = promisify(execFile);
const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const block = /<!-- quick-start:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- quick-start:end -->/.exec(readme)?.[1];
const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

t.test('npm install -g of the packed tarball gives a working vsync and vsyncd', async (t) => {
  t.ok(block, 'the README has a quick-start block');
  t.match(manifest.scripts.prepack, /npm run build/, 'npm pack builds first (prepack)');
  built('client/vsync.cjs');
  built('daemon/main');
  const { base, cleanup } = tempBase('vsync-packed-');
  const npmEnv = childEnv();
  delete npmEnv.npm_config_prefix;
  for (const name of Object.keys(npmEnv)) if (/^npm_(package|lifecycle)_/.test(name)) delete npmEnv[name];

  const [packed] = JSON.parse(
    (
      await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', base], {
        cwd: projectRoot,
        env: npmEnv,
        timeout: PATIENCE_MS,
      })
    ).stdout,
  ) as [{ filename: string; files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  for (const needed of [
    ...Object.values(manifest.bin),
    'dist/client/vsync-main.cjs',
    'dist/daemon/main.js',
    'dist/shared/errors.js',
    'systemd/vsyncd.service',
    'systemd/vsyncd.socket',
    'launchd/tools.vsync.vsyncd.plist',
    'docs/FORMAT.md',
    'README.md',
    'LICENSE',
    'package.json',
  ]) {
    t.ok(files.includes(needed), `the tarball has ${needed}`);
  }
  const unwanted = files.filter(
    (f) =>
      /^(test|bench|scripts|client|daemon|shared|types|node_modules|coverage|tmp|\.tap)\//.test(f) ||
      /^dist\/(test|bench)\//.test(f) ||
      /\.(ts|map|tsbuildinfo)$/.test(f) ||
      /(^|\/)\.|package-lock\.json$/.test(f),
  );
  t.same(unwanted, [], 'no tests, benchmarks, TypeScript sources, source maps, caches or dot files');

  const prefix = join(base, 'prefix');
  await run(
    'npm',
    [
      'install',
      '--global',
      '--prefix',
      prefix,
      join(base, packed.filename),
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: base, env: npmEnv, timeout: PATIENCE_MS },
  );
  const installed = join(prefix, 'lib', 'node_modules', 'vsync');
  t.ok(existsSync(join(installed, 'dist', 'daemon', 'main.js')), 'installed under the prefix');

  const home = join(base, 'home');
  mkdirSync(home);
  const env = childEnv({
    HOME: home,
    TMPDIR: base,
    PATH: `${join(prefix, 'bin')}:${process.env.PATH}`,
    VSYNC_SOCKET: freshSocket(),
    VSYNC_KEY: randomBytes(32).toString('base64'),
  });
  for (const name of Object.keys(env)) if (/^(XDG_|GIT_)/.test(name) || name === 'DBUS_SESSION_BUS_ADDRESS') delete env[name];
  t.teardown(async () => {
    await run(join(prefix, 'bin', 'vsync'), ['daemon', 'stop'], { env }).catch(() => undefined);
    cleanup();
  });

  const which = await run('bash', ['-c', 'command -v vsync; command -v vsyncd'], { env });
  t.equal(which.stdout, `${join(prefix, 'bin', 'vsync')}\n${join(prefix, 'bin', 'vsyncd')}\n`, 'both commands are on PATH from the prefix');
  t.equal((await run('vsyncd', ['--version'], { env })).stdout.trim(), `vsyncd ${manifest.version}`, 'vsyncd runs');

  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', block!], { env, cwd: base, timeout: PATIENCE_MS });
  t.match(stdout, /✅ initialised myrepo\/dev/);
  t.match(stdout, /✅ pushed myrepo\/dev \(version: \d{8}-\d{6}\)/);
  t.match(stdout, /\(1 version\)\n\* \d{8}-\d{6} \d+ B/);
  t.match(stdout, /✅ pulled myrepo\/dev version \d{8}-\d{6}/);
  t.match(stdout, /API_KEY=abc123\n$/, 'cat .env shows the secret through the link');
  const status = JSON.parse((await run('vsync', ['daemon', 'start', '--json'], { env })).stdout) as { started: boolean; pid: number };
  t.equal(status.started, false, 'the agent the quick start started is still up');
  const cmdline = existsSync(`/proc/${status.pid}/cmdline`) ? readFileSync(`/proc/${status.pid}/cmdline`, 'utf8') : '';
  if (cmdline) t.match(cmdline, join(installed, 'dist', 'daemon', 'main.js'), 'the agent vsync started is the installed one');

  // The service units name the installed agent (the templates are found in the installed package).
  const dryRun = await run('vsync', ['daemon', 'install', '--dry-run'], { env: { ...env, VSYNC_SOCKET: '' } }).catch(
    (err: { stdout?: string }) => err,
  );
  if (process.platform === 'linux') {
    t.match(
      dryRun.stdout,
      new RegExp(`ExecStart=\\S+ ${join(installed, 'dist', 'daemon', 'main.js')}\n`),
      'the unit runs the installed agent',
    );
  }
});
