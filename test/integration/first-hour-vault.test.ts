// A newcomer's first hour, the traps around a vault (issue: "a newcomer's first hour"), each with the real
// `vsync` as a child process in a fresh HOME, the agent it starts itself, and real git:
// - secrets one `git add .` away: init writes .gitignore; push, pull and use warn of what git would commit;
// - outside git, init needs --repo (and writes .vsync);
// - init --store refuses folders no store can live in, creating nothing;
// - init over an existing vault says what exists, and `vsync forget` is the way out (the key backed up);
// - init where a teammate's vault is already in the store;
// - use with no env file: never pushed, or not pulled here;
// - the agent's environment: an export after the agent started is refused, `vsync daemon restart` fixes it.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitCodes } from '../../shared/errors.js';
import { freshSocket } from '../helpers/agent.js';
import { vsync, type CliRun } from '../helpers/cli.js';
import { canStartKeyring, startKeyringAgent } from '../helpers/keyring-agent.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';

interface Newcomer {
  readonly base: string;
  readonly home: string;
  readonly env: Record<string, string>;
  cli(args: string[], cwd: string, extra?: Record<string, string>): Promise<CliRun>;
}

/** A fresh HOME and socket, a headless key (VSYNC_KEY), the agent stopped at the end. */
function newcomer(t: TestContext, extra: Record<string, string> = {}): Newcomer {
  const { base } = tempBase('vsync-first-hour-');
  const home = join(base, 'home');
  mkdirSync(home);
  const env: Record<string, string> = {
    HOME: home,
    VSYNC_SOCKET: freshSocket(),
    VSYNC_KEY: randomBytes(32).toString('base64'),
    GIT_CONFIG_NOSYSTEM: '1',
    ...extra,
  };
  const cli = (args: string[], cwd: string, more: Record<string, string> = {}) => vsync(args, { cwd, env: { ...env, ...more } });
  t.teardown(() => cli(['daemon', 'stop'], base).then(() => undefined));
  return { base, home, env, cli };
}

function gitRepo(base: string, name: string, gitignore?: string): string {
  const repo = join(base, name);
  execFileSync('git', ['init', '-q', repo]);
  if (gitignore !== undefined) writeFileSync(join(repo, '.gitignore'), gitignore);
  return repo;
}

const git = (repo: string, ...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' });

t.test('init ignores the secrets in git; push, pull and use warn of what git would commit, with the fix', async (t) => {
  const u = newcomer(t);
  const repo = gitRepo(u.base, 'shop', 'node_modules/\n*.log');
  const init = await u.cli(['init', 'dev'], repo);
  t.equal(init.code, 0, init.stderr);
  t.match(init.stdout, `${join(repo, '.gitignore')}: added /infra/vault/dev/ and /.env (commit it)`);
  t.equal(
    readFileSync(join(repo, '.gitignore'), 'utf8'),
    'node_modules/\n*.log\n# secrets: kept by vsync, never committed\n/infra/vault/dev/\n/.env\n',
    "the team's lines first, untouched",
  );
  writeFileSync(join(repo, 'infra/vault/dev/.env.dev'), 'API_KEY=abc123\n');
  const pushed = await u.cli(['push', 'dev'], repo);
  t.equal(pushed.code, 0, pushed.stderr);
  t.equal(pushed.stderr, '', 'ignored: no warning');
  const used = await u.cli(['use', 'dev'], repo);
  t.equal(used.code, 0, used.stderr);
  t.equal(used.stderr, '');
  t.equal(git(repo, 'status', '--porcelain'), '?? .gitignore\n', '`git add .` would take the .gitignore alone');

  const again = await u.cli(['init', 'stg'], repo);
  t.match(
    again.stdout,
    `${join(repo, '.gitignore')}: added /infra/vault/stg/ (commit it)`,
    '.env was ignored already: the new folder alone',
  );

  // A teammate's commit took the secrets anyway (git add -f), and the ignore lines went.
  git(repo, 'add', '-f', 'infra/vault/dev/.env.dev');
  writeFileSync(join(repo, '.gitignore'), 'node_modules/\n');
  writeFileSync(join(repo, 'infra/vault/dev/.env.dev'), 'API_KEY=def456\n');
  const tracked = await u.cli(['push', 'dev'], repo);
  t.equal(tracked.code, 0, 'a warning, not a refusal');
  t.match(
    tracked.stderr,
    'vsync: warning: infra/vault/dev/ is tracked by git, so its secrets are in the history: `git rm -r --cached --force -- infra/vault/dev` (the files stay), commit, and change the secrets it held',
  );
  t.match(tracked.stderr, "vsync: warning: .env is not ignored by git, so `git add .` would commit it: `echo '/.env' >> .gitignore`");
  const pulled = await u.cli(['pull', 'dev', '--force'], repo);
  t.equal(pulled.code, 0, pulled.stderr);
  t.match(pulled.stderr, /infra\/vault\/dev\/ is tracked by git/);
  const usedAgain = await u.cli(['use', 'dev'], repo);
  t.match(usedAgain.stderr, /\.env is not ignored by git/);

  // The fixes the warnings name, run as written, leave nothing to warn of.
  git(repo, 'rm', '-r', '-q', '--cached', '--force', '--', 'infra/vault/dev');
  execFileSync('sh', ['-c', "echo '/.env' >> .gitignore && echo '/infra/vault/dev/' >> .gitignore"], { cwd: repo });
  const clean = await u.cli(['push', 'dev'], repo);
  t.equal(clean.stderr, '', 'fixed: no warning');
  t.ok(existsSync(join(repo, 'infra/vault/dev/.env.dev')), 'git rm --cached kept the file');
});

t.test('outside git, init needs --repo, and writes .vsync for the next command and the team', async (t) => {
  const u = newcomer(t);
  const folder = join(u.base, 'plain');
  mkdirSync(folder);
  const refused = await u.cli(['init', 'dev'], folder);
  t.equal(refused.code, exitCodes.config);
  t.match(refused.stderr, 'vsync: error: this folder is not in a git checkout, so it has no repo name to share with teammates');
  t.match(refused.stderr, '`vsync init <env> --repo <name>`');
  t.notOk(existsSync(join(u.home, '.config', 'vsync')), 'no config');
  t.notOk(existsSync(join(folder, 'infra')), 'no vault folder');
  t.notOk(existsSync(join(folder, '.gitignore')), 'no .gitignore');

  const named = await u.cli(['init', 'dev', '--repo', 'acme_web'], folder);
  t.equal(named.code, 0, named.stderr);
  t.match(named.stdout, `repo name: acme_web, written to ${join(folder, '.vsync')}`);
  t.match(readFileSync(join(folder, '.vsync'), 'utf8'), /^repo=acme_web$/m);
  t.ok(existsSync(join(u.home, '.config', 'vsync', 'acme_web', 'env_dev')));
  t.match(readFileSync(join(folder, '.gitignore'), 'utf8'), '/infra/vault/dev/\n/.env\n', 'ignored for the day it becomes a checkout');

  const next = await u.cli(['init', 'stg'], folder);
  t.equal(next.code, 0, `.vsync names it now: ${next.stderr}`);
  t.match(next.stdout, '✅ initialised acme_web/stg');
  const clash = await u.cli(['init', 'qa', '--repo', 'other'], folder);
  t.equal(clash.code, exitCodes.usage);
  t.match(clash.stderr, `--repo other, but ${folder}/.vsync names this repo acme_web`);
  const bad = await u.cli(['init', 'qa', '--repo', 'Bad Name'], gitRepo(u.base, 'r'));
  t.equal(bad.code, exitCodes.usage);
  t.match(bad.stderr, 'invalid name');
});

t.test('init --store refuses a folder no store can live in, and creates nothing', async (t) => {
  const u = newcomer(t);
  const repo = gitRepo(u.base, 'shop');
  const file = join(u.base, 'a-file');
  writeFileSync(file, 'x');
  for (const [store, why] of [
    ['/proc/self/store', '/proc is the kernel'],
    ['/sys/kernel/store', '/sys is the kernel'],
    ['/dev/store', '/dev is the kernel'],
    [join(file, 'store'), 'a part of the path is a file, not a folder'],
    [file, 'is a file, not a folder'],
  ] as const) {
    const res = await u.cli(['init', 'dev', '--store', store], repo);
    t.equal(res.code, exitCodes.config, store);
    t.match(res.stderr, `vsync: error: this folder cannot hold a store: ${store}: `);
    t.match(res.stderr, why);
    t.match(res.stderr, 'vsync: hint: give --store a folder you can write');
  }
  t.notOk(existsSync(join(u.home, '.config', 'vsync')), 'no config written');
  t.notOk(existsSync(join(repo, 'infra')), 'no vault folder');
  t.notOk(existsSync(join(repo, '.gitignore')), 'no .gitignore');
  // A symlink to /proc is /proc: the check follows the path as the store would.
  const link = join(u.base, 'link');
  execFileSync('ln', ['-s', '/proc/self', link]);
  const viaLink = await u.cli(['init', 'dev', '--store', join(link, 'store')], repo);
  t.equal(viaLink.code, exitCodes.config);
  t.match(viaLink.stderr, /is \/proc\/\d+, under \/proc/);
  const fine = await u.cli(['init', 'dev', '--store', join(u.base, 'new', 'deep', 'store')], repo);
  t.equal(fine.code, 0, `a folder that does not exist yet, under one that does: ${fine.stderr}`);
});

t.test('use with no env file: never pushed, or pushed but not pulled here (exit 3, the hint that fits)', async (t) => {
  const u = newcomer(t);
  const repo = gitRepo(u.base, 'shop');
  t.equal((await u.cli(['init', 'dev'], repo)).code, 0);
  const never = await u.cli(['use', 'dev'], repo);
  t.equal(never.code, exitCodes.config);
  t.match(never.stderr, 'vsync: error: the vault folder has no env file for this env, and nobody has pushed one');
  t.match(never.stderr, 'then `vsync push <env>` and `vsync use <env>`');
  writeFileSync(join(repo, 'infra/vault/dev/.env.dev'), 'A=1\n');
  const pushed = await u.cli(['push', 'dev'], repo);
  const version = /version: (\d{8}-\d{6})/.exec(pushed.stdout)![1]!;
  unlinkSync(join(repo, 'infra/vault/dev/.env.dev'));
  const notPulled = await u.cli(['use', 'dev'], repo);
  t.equal(notPulled.code, exitCodes.config);
  t.match(
    notPulled.stderr,
    `the env file is in the store but not in this checkout: infra/vault/dev/.env.dev (the store has version ${version})`,
  );
  t.match(notPulled.stderr, 'vsync: hint: pull it first: `vsync pull <env>`, then `vsync use <env>`');
  t.notOk(existsSync(join(repo, '.env')), 'no dangling .env made');
});

t.test("init where a teammate's vault is in the store already: refused, nothing made", async (t) => {
  const alice = newcomer(t);
  const store = join(alice.base, 'team-store');
  const aliceRepo = gitRepo(alice.base, 'shop');
  t.equal((await alice.cli(['init', 'dev', '--store', store], aliceRepo)).code, 0);
  writeFileSync(join(aliceRepo, 'infra/vault/dev/.env.dev'), 'A=1\n');
  t.equal((await alice.cli(['push', 'dev'], aliceRepo)).code, 0);

  const bob = newcomer(t);
  const bobRepo = gitRepo(bob.base, 'shop');
  const res = await bob.cli(['init', 'dev', '--store', store], bobRepo);
  t.equal(res.code, exitCodes.config);
  t.match(
    res.stderr,
    `vsync: error: the store already holds this vault: someone has initialised and pushed it: file://${store}/shop/dev/latest`,
  );
  t.match(res.stderr, '`vsync key import <file>`');
  t.notOk(existsSync(join(bob.home, '.config', 'vsync', 'shop', 'env_dev')), 'no config for Bob');
});

t.test('the agent keeps its environment: a later export is refused by name, `vsync daemon restart` takes it in', async (t) => {
  const u = newcomer(t);
  const repo = gitRepo(u.base, 'shop');
  t.equal((await u.cli(['init', 'dev'], repo)).code, 0, 'the agent starts with this environment');
  const exported = await u.cli(['versions', 'dev'], repo, { AWS_PROFILE: 'work' });
  t.equal(exported.code, exitCodes.agent);
  t.match(
    exported.stderr,
    'vsync: error: the agent was started with another environment than this command has: these differ: AWS_PROFILE (set here, not in the agent)',
  );
  t.match(exported.stderr, 'vsync: hint: run `vsync daemon restart`');
  t.notMatch(exported.stderr, 'work', 'never a value');
  const otherKey = await u.cli(['versions', 'dev'], repo, { VSYNC_KEY: randomBytes(32).toString('base64') });
  t.match(otherKey.stderr, 'VSYNC_KEY (another value)');
  const otherHome = join(u.base, 'home2');
  mkdirSync(otherHome);
  const elsewhere = await u.cli(['versions', 'dev'], repo, { HOME: otherHome });
  t.equal(elsewhere.code, exitCodes.agent, "another HOME is never served from this HOME's configs");
  t.match(elsewhere.stderr, 'config folder (HOME, XDG_CONFIG_HOME)');
  const status = await u.cli(['status'], repo, { AWS_PROFILE: 'work' });
  t.equal(status.code, 0, 'status answers whatever the environment');

  const restarted = await u.cli(['daemon', 'restart'], repo, { AWS_PROFILE: 'work' });
  t.equal(restarted.code, 0, restarted.stderr);
  t.match(restarted.stdout, /^vsyncd restarted \(pid \d+\)$/m);
  const after = await u.cli(['versions', 'dev'], repo, { AWS_PROFILE: 'work' });
  t.equal(after.code, 0, after.stderr);
  const back = await u.cli(['versions', 'dev'], repo);
  t.equal(back.code, 0, "a credential the agent holds and the command does not set is the agent's to use");
});

const keyring = canStartKeyring() ? {} : { skip: 'needs gnome-keyring, dbus and secret-tool for a writable keychain' };

t.test('init over an existing vault says what exists; forget backs the key up and lets init start over', keyring, async (t) => {
  const u = newcomer(t);
  const { VSYNC_KEY: _headless, ...writable } = u.env;
  const env: Record<string, string> = { ...writable, VSYNC_NO_AUTOSTART: '1' };
  const agent = await startKeyringAgent(u.home, env.VSYNC_SOCKET!);
  t.teardown(() => agent.stop());
  const cli = (args: string[], cwd: string) => vsync(args, { cwd, env });
  const repo = gitRepo(u.base, 'shop');
  t.equal((await cli(['init', 'dev'], repo)).code, 0);
  writeFileSync(join(repo, 'infra/vault/dev/.env.dev'), 'A=1\n');
  t.equal((await cli(['push', 'dev'], repo)).code, 0);
  const config = join(u.home, '.config', 'vsync', 'shop', 'env_dev');

  const again = await cli(['init', 'dev'], repo);
  t.equal(again.code, exitCodes.config);
  t.match(
    again.stderr,
    `vsync: error: this vault is already initialised here: shop/dev has a config here (${config}) and its key is in secret-service`,
  );
  t.match(again.stderr, '`vsync forget <env>` (backs the key up, then removes the config and the key), then `vsync init <env>`');

  const forgot = await cli(['forget', 'dev'], repo);
  t.equal(forgot.code, 0, forgot.stderr);
  const share = /key backed up: (\S+)/.exec(forgot.stdout)?.[1];
  const passphrase = /its passphrase: (\S+)/.exec(forgot.stdout)?.[1];
  t.ok(share && passphrase, forgot.stdout);
  t.equal(statSync(share!).mode & 0o777, 0o600, 'the backup is for this user alone');
  t.notOk(existsSync(config), 'the config is gone');
  t.match(forgot.stdout, 'kept: the vault folder, its backups and the store');
  t.equal(readFileSync(join(repo, 'infra/vault/dev/.env.dev'), 'utf8'), 'A=1\n', 'the vault folder is as it was');
  const gone = await cli(['pull', 'dev'], repo);
  t.equal(gone.code, exitCodes.config, 'nothing of the vault is left here');
  const twice = await cli(['forget', 'dev'], repo);
  t.equal(twice.code, exitCodes.config);
  t.match(twice.stderr, 'nothing to forget');

  // The backup is a share file: importing it undoes the forget, and the store's versions open again.
  const passFile = join(u.base, 'pass');
  writeFileSync(passFile, `${passphrase}\n`);
  const imported = await cli(['key', 'import', share!, '--passphrase-file', passFile], repo);
  t.equal(imported.code, 0, imported.stderr);
  const pulled = await cli(['pull', 'dev', '--force'], repo);
  t.equal(pulled.code, 0, pulled.stderr);
});
