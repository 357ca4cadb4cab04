// The README's quick start, run as written (the block between the quick-start markers) on a machine
// without a desktop keychain: PATH with bin/, a fresh HOME, VSYNC_KEY as the README says to set it.
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childEnv, projectRoot, built } from '../helpers/built.js';
import { freshSocket } from '../helpers/agent.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { PATIENCE_MS } from '../helpers/patience.js';

const run = promisify(execFile);
const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const block = /<!-- quick-start:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- quick-start:end -->/.exec(readme)?.[1];

t.test('the README quick start works on the embedded store', async (t) => {
  t.ok(block, 'the README has a quick-start block');
  built('client/main');
  const { base, cleanup } = tempBase('vsync-quick-');
  const socket = freshSocket();
  const env = childEnv({
    HOME: join(base, 'home'),
    TMPDIR: base,
    PATH: `${join(projectRoot, 'bin')}:${process.env.PATH}`,
    VSYNC_SOCKET: socket,
    VSYNC_KEY: randomBytes(32).toString('base64'),
  });
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.XDG_RUNTIME_DIR;
  t.teardown(async () => {
    await run(join(projectRoot, 'bin', 'vsync'), ['daemon', 'stop'], { env }).catch(() => undefined);
    cleanup();
  });
  const { stdout, stderr } = await run('bash', ['-euo', 'pipefail', '-c', block!], { env, cwd: base, timeout: PATIENCE_MS });
  t.match(stdout, /✅ initialised myrepo\/dev/);
  t.match(stdout, /✅ pushed myrepo\/dev \(version: \d{8}-\d{6}\)/);
  t.match(stdout, /\(1 version\)\n\* \d{8}-\d{6} \d+ B/);
  t.match(stdout, /✅ pulled myrepo\/dev version \d{8}-\d{6}/);
  t.match(stdout, /\.env → infra\/vault\/dev\/\.env\.dev/);
  t.match(stdout, /API_KEY=abc123\n$/, 'cat .env shows the secret through the link');
  t.match(stderr, /\.env is not gitignored/, "the quick start's repo has no .gitignore: use warns");
});
