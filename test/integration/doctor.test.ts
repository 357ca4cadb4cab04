// vsync doctor with the real agent and the real CLI, away from S3: the directory store (it enforces
// conditional writes: all ok), a missing config, a wrong key, no agent, the Secret Service there and not
// there. Each bad case: its lines, its exit code, and nothing changed or left behind. The S3 servers are in
// doctor-s3.test.ts.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { DoctorResultSchema } from '../../shared/api.js';
import { exitCodes } from '../../shared/errors.js';
import { configFile } from '../../shared/paths.js';
import { VERSION } from '../../shared/version.js';
import { agentLine, keyUser, lines, repoName } from '../helpers/doctor-users.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { shareConfig, user } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';

const run = promisify(execFile);

t.test('the directory store: every check ok, the same as JSON, and the keychain alone without an env', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-dir-');
  t.teardown(cleanup);
  const repo = repoName();
  const u = await keyUser(t, base, 'alice', repo);
  t.equal((await u.cli(['init', 'dev'])).code, 0);
  const store = join(u.home, '.local', 'share', 'vsync', 'store');

  const res = await u.cli(['doctor', 'dev']);
  t.equal(res.code, 0, res.stderr);
  t.equal(res.stderr, '');
  const out = lines(res.stdout);
  t.match(out[0], agentLine(u));
  t.same(out.slice(1), [
    `ok    config         ${configFile(repo, 'dev', { HOME: u.home })} (store file://${store}/${repo}/dev/)`,
    `ok    keychain       the key for ${repo}/dev is in env:VSYNC_KEY and matches the config's keyCheck`,
    'ok    git            git ignores infra/vault/dev/ and .env, and tracks neither',
    `ok    store          file://${store}/${repo}/dev/ answers; nothing pushed yet`,
    "ok    clock          within a second of the store's",
    'ok    if-none-match  a second put-if-absent on a scratch object was refused',
    'ok    if-match       a put-if-match with a stale ETag was refused',
    '✅ all 8 checks passed',
  ]);
  t.same(await new DirStorage(store).list(`${repo}/`), [], 'no scratch object left');

  const json = await u.cli(['doctor', 'dev', '--json']);
  t.equal(json.code, 0);
  const report = DoctorResultSchema.parse(JSON.parse(json.stdout));
  t.same(
    { repo: report.repo, env: report.env, agent: report.agent },
    { repo, env: 'dev', agent: { version: VERSION, pid: u.agent.child.pid, socket: u.agent.socket } },
  );
  t.same(
    report.checks.map((c) => `${c.name}:${c.status}`),
    ['agent:ok', 'config:ok', 'keychain:ok', 'git:ok', 'store:ok', 'clock:ok', 'if-none-match:ok', 'if-match:ok'],
  );

  const bare = await u.cli(['doctor']);
  t.equal(bare.code, 0, bare.stderr);
  t.match(lines(bare.stdout)[0], agentLine(u));
  t.same(lines(bare.stdout).slice(1), ['ok    keychain       env:VSYNC_KEY answers', '✅ all 2 checks passed']);

  const bad = await u.cli(['doctor', '../x']);
  t.equal(bad.code, exitCodes.usage, 'a bad env name is a usage error, not a check');
  t.match(bad.stderr, /^vsync: error: invalid name: env "\.\.\/x"\n/);
  t.equal(bad.stdout, '');
});

t.test('no config: the config fails (exit 3), what needs it is skipped, nothing is made', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-noconf-');
  t.teardown(cleanup);
  const repo = repoName();
  const u = await keyUser(t, base, 'carol', repo);
  const res = await u.cli(['doctor', 'prod']);
  t.equal(res.code, exitCodes.config);
  t.same(lines(res.stdout).slice(1), [
    `fail  config         no config for this repo and env: ${configFile(repo, 'prod', { HOME: u.home })}`,
    '                     hint: run `vsync init <env>` first, or copy the config a teammate shares',
    `ok    keychain       the key for ${repo}/prod is in env:VSYNC_KEY (not compared with the config, which could not be read)`,
    'skip  git            needs the config',
    'skip  store          needs the config',
    'skip  clock          needs the config',
    'skip  if-none-match  needs the config',
    'skip  if-match       needs the config',
    '❌ 1 check failed: config',
  ]);
  t.notOk(existsSync(configFile(repo, 'prod', { HOME: u.home })), 'no config written');
  t.notOk(existsSync(join(u.home, '.local', 'share', 'vsync')), 'no store made');
  t.notOk(existsSync(join(u.repo, 'infra')), 'no vault folder made');
});

t.test("a teammate with another key: the keychain fails (exit 7); the store's checks still run", async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-key-');
  t.teardown(cleanup);
  const repo = repoName();
  const a = await keyUser(t, base, 'alice', repo);
  const b = await keyUser(t, base, 'bob', repo);
  t.equal((await a.cli(['init', 'dev'])).code, 0);
  shareConfig(a, b, repo);
  const res = await b.cli(['doctor', 'dev']);
  t.equal(res.code, exitCodes.keychain);
  const out = lines(res.stdout);
  t.equal(
    out[2],
    'fail  keychain       this key is not the key the config was made with: the derived key does not match encryption.keyCheck in the config',
  );
  t.equal(
    out[3],
    '                     hint: the keychain holds a different key for this repo and env; import the team key, or check VSYNC_KEY',
  );
  t.same(
    out.slice(4).map((l) => l.slice(0, 19)),
    [
      'ok    git          ',
      'ok    store        ',
      'ok    clock        ',
      'ok    if-none-match',
      'ok    if-match     ',
      '❌ 1 check failed: k',
    ],
  );
});

t.test('no agent: the agent check fails (exit 8) and is all there is', async (t) => {
  const { base, cleanup } = tempBase('vsync-doctor-noagent-');
  t.teardown(cleanup);
  const u = await keyUser(t, base, 'dave', repoName());
  await u.agent.stop();
  const res = await u.cli(['doctor', 'dev']);
  t.equal(res.code, exitCodes.agent);
  t.match(
    res.stdout,
    new RegExp(
      `^fail  agent {10}no vsync agent answers on the socket: ${u.agent.socket} \\(none is running, and VSYNC_NO_AUTOSTART is set\\)`,
    ),
  );
  t.match(res.stdout, /\n {21}hint: start it with `vsync daemon start`.*\n❌ 1 check failed: agent\n$/s);
  const json = await u.cli(['doctor', '--json']);
  t.equal(json.code, exitCodes.agent);
  t.match(JSON.parse(json.stdout), { checks: [{ name: 'agent', status: 'fail', code: 'AGENT_UNREACHABLE', hint: /vsync daemon start/ }] });
  t.equal(JSON.parse(json.stdout).checks.length, 1);
});

function keyring(t: TestContext): void {
  t.test('the Secret Service: answers, holds the key; unreachable, it fails (exit 7)', async (t) => {
    const { base, cleanup } = tempBase('vsync-doctor-keyring-');
    t.teardown(cleanup);
    const repo = repoName();
    const u = await user(base, 'leo', repo);
    t.teardown(async () => {
      await u.agent.stop();
      await run('secret-tool', ['clear', 'service', 'tools.vsync', 'username', `${repo}/dev`]).catch(() => undefined);
    });
    t.equal((await u.cli(['init', 'dev'])).code, 0);
    const bare = await u.cli(['doctor']);
    t.equal(bare.code, 0, bare.stdout);
    t.equal(lines(bare.stdout)[1], 'ok    keychain       secret-service answers');
    const dev = await u.cli(['doctor', 'dev']);
    t.equal(dev.code, 0, dev.stdout);
    t.equal(lines(dev.stdout)[2], `ok    keychain       the key for ${repo}/dev is in secret-service and matches the config's keyCheck`);

    const lost = await user(base, 'mia', repo, { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(base, 'no-bus')}` });
    t.teardown(() => lost.agent.stop());
    const res = await lost.cli(['doctor']);
    t.equal(res.code, exitCodes.keychain);
    t.match(
      lines(res.stdout)[1],
      /^fail {2}keychain {7}the OS keychain cannot be reached: no D-Bus session bus \(account "vsync doctor\/probe" of service "tools\.vsync"\)$/,
    );
    t.match(lines(res.stdout)[2], /^ {21}hint: on Linux a Secret Service/);
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) keyring(t);
