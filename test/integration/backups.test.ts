// `vsync backups` and `vsync backups restore` with the real programs: a real agent on a real socket (keys from
// VSYNC_KEY, as on a headless machine), the real CLI as a child process, the directory store. Every bad path
// checks that the vault folder and the backups are exactly as they were.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { readConfig } from '../../daemon/vault/config.js';
import type { BackupsResult, RestoreResult, StreamLine } from '../../shared/api.js';
import { exitCodes } from '../../shared/errors.js';
import { backupFolder, configFile } from '../../shared/paths.js';
import { call } from '../helpers/agent.js';
import type { TestContext } from '../helpers/tap-types.js';
import { restartAgent, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { filesUnder } from '../helpers/files-under.js';

const V1 = { '.env.dev': 'API_KEY=one\n', 'certs/ca.pem': '-----BEGIN CERTIFICATE-----\nv1\n' };
const V2 = { '.env.dev': 'API_KEY=two\nNEW=yes\n', 'extra.txt': 'only in v2\n' };

interface Vault {
  readonly u: User;
  readonly repoName: string;
  readonly key: string;
  readonly folder: string;
  readonly backups: string;
}

async function vault(t: TestContext): Promise<Vault> {
  const { base, cleanup } = tempBase('vsync-backups-');
  const repoName = `bk_${randomBytes(4).toString('hex')}`;
  const key = randomBytes(32).toString('base64');
  const u = await user(base, 'alice', repoName, { VSYNC_KEY: key });
  t.teardown(async () => {
    await u.agent.stop();
    cleanup();
  });
  const init = await u.cli(['init', 'dev']);
  t.equal(init.code, 0, init.stderr);
  return { u, repoName, key, folder: join(u.repo, 'infra', 'vault', 'dev'), backups: backupFolder(repoName, { HOME: u.home }) };
}

/** Replaces the vault folder's files with `files`. */
function write(v: Vault, files: Record<string, string>): void {
  rmSync(v.folder, { recursive: true, force: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(v.folder, name)), { recursive: true });
    writeFileSync(join(v.folder, name), text);
  }
}

/** Every file under `folder` (relative path → bytes as text), or undefined when the folder is missing. */
function tree(folder: string): Record<string, string> | undefined {
  return existsSync(folder) ? filesUnder(folder, 'latin1') : undefined;
}

/** What the vault folder's parent and the backups folder hold: a bad path must leave both as they were. */
function everything(v: Vault): unknown {
  return { vault: tree(dirname(v.folder)), backups: tree(v.backups) };
}

async function listed(v: Vault): Promise<BackupsResult> {
  const res = await v.u.cli(['backups', 'dev', '--json']);
  if (res.code !== 0) throw new Error(res.stderr);
  return JSON.parse(res.stdout) as BackupsResult;
}

async function ok(t: TestContext, v: Vault, args: string[]): Promise<string[]> {
  const res = await v.u.cli(args);
  t.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
  return res.stdout.trimEnd().split('\n');
}

const pushedVersion = (lines: string[]) => /version: (\d{8}-\d{6})\)$/.exec(lines.at(-1) ?? '')?.[1] ?? 'missing';

/** v1 pushed and pulled (backup of v1), then v2 edited and replaced by a forced pull (backup of v2). */
async function twoBackups(t: TestContext): Promise<{ v: Vault; version: string; b1: string; b2: string }> {
  const v = await vault(t);
  write(v, V1);
  const version = pushedVersion(await ok(t, v, ['push', 'dev']));
  await ok(t, v, ['pull', 'dev']);
  write(v, V2);
  await ok(t, v, ['pull', 'dev', '--force']);
  t.same(tree(v.folder), V1, 'set-up: the folder holds v1 again');
  const [b2, b1] = (await listed(v)).backups.map((b) => b.path);
  return { v, version, b1: b1!, b2: b2! };
}

const ESC = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test('list: none yet, then newest first with size, age and file', async (t) => {
  const v = await vault(t);
  t.same(await ok(t, v, ['backups', 'dev']), [
    `${v.backups}/ (0 backups of dev)`,
    '  (none yet: each pull writes one before it replaces the vault folder)',
  ]);
  t.same(await listed(v), { repo: v.repoName, env: 'dev', folder: v.backups, backups: [] });

  write(v, V1);
  await ok(t, v, ['push', 'dev']);
  await ok(t, v, ['pull', 'dev']);
  write(v, V2);
  await ok(t, v, ['pull', 'dev', '--force']);

  const json = await listed(v);
  t.equal(json.backups.length, 2, 'two backups');
  const [newer, older] = json.backups;
  t.ok(newer!.ts > older!.ts, 'newest first');
  for (const b of json.backups) {
    t.equal(b.path, join(v.backups, `dev-${b.ts}.zip.enc`));
    t.equal(b.size, statSync(b.path).size, 'the size is the file size');
  }
  const lines = await ok(t, v, ['backups', 'dev']);
  t.equal(lines[0], `${v.backups}/ (2 backups of dev)`);
  t.match(lines[1], new RegExp(`^  ${newer!.ts} ${newer!.size} B (just now|\\d+m ago) ${ESC(newer!.path)}$`));
  t.match(lines[2], new RegExp(`^  ${older!.ts} ${older!.size} B (just now|\\d+m ago) ${ESC(older!.path)}$`));
  t.equal(lines.length, 3);

  // Another env of the same repo has its own (none).
  t.same(await ok(t, v, ['backups', 'prod']), [
    `${v.backups}/ (0 backups of prod)`,
    '  (none yet: each pull writes one before it replaces the vault folder)',
  ]);
});

t.test('restore the newest, then one by ts; the sync record decides what pull and push do next', async (t) => {
  const { v, version, b1, b2 } = await twoBackups(t);
  const ts = (path: string) => /dev-(\d{8}-\d{6})\.zip\.enc$/.exec(path)![1]!;

  // The newest (v2, the edit a forced pull replaced) comes back; v1, as the folder was, is backed up first.
  const lines = await ok(t, v, ['backups', 'restore', 'dev']);
  t.equal(lines[0], `[1/3] decrypting ${b2}`);
  t.equal(lines[1], '[2/3] backing up local infra/vault/dev/');
  const b3 = /^→ (.*)$/.exec(lines[2] ?? '')?.[1] ?? 'missing';
  t.match(b3, new RegExp(`^${ESC(v.backups)}/dev-\\d{8}-\\d{6}\\.zip\\.enc$`));
  t.not(b3, b1);
  t.not(b3, b2);
  t.same(lines.slice(3), [
    `[3/3] unzipping into ${v.u.repo}`,
    `✅ restored ${v.repoName}/dev from backup ${ts(b2)}`,
    `  unpushed: differs from ${version}, the version last synced here (\`vsync push dev\` shares it)`,
  ]);
  t.same(tree(v.folder), V2, 'the folder holds the backup, exactly (certs/ca.pem of v1 is gone)');
  t.same(readdirSync(dirname(v.folder)), ['dev'], 'no staging or old folder left beside it');
  t.same(
    (await listed(v)).backups.map((b) => b.path),
    [b3, b2],
    'two kept: the one just written and the one restored',
  );
  t.equal(statSync(v.folder).mode & 0o777, 0o700);
  t.equal(statSync(join(v.folder, '.env.dev')).mode & 0o777, 0o600);

  // A restored folder is an edit: a pull refuses without --force and leaves it alone.
  const refused = await v.u.cli(['pull', 'dev']);
  t.equal(refused.code, exitCodes.conflict, refused.stderr);
  t.match(refused.stderr, /vsync: error: the vault folder holds changes that were never pushed/);
  t.same(tree(v.folder), V2, 'the pull changed nothing');

  // Back to v1 by ts: the synced version, so the folder is in step again and a plain pull goes through.
  const [newest] = (await listed(v)).backups;
  t.not(newest!.path, b3, 'the refused pull backed up v2 (as pulls do)');
  const back = await ok(t, v, ['backups', 'restore', 'dev', ts(b3)]);
  t.equal(back[0], `[1/3] decrypting ${b3}`);
  t.same(back.slice(-2), [
    `✅ restored ${v.repoName}/dev from backup ${ts(b3)}`,
    `  in step with ${version}, the version last synced here`,
  ]);
  t.same(tree(v.folder), V1);
  await ok(t, v, ['pull', 'dev']);
  t.same(tree(v.folder), V1);

  // And a push pushes a restored edit, as the hint says.
  // The refused pull's backup holds v2 (that pull, and the plain one, backed up v1 after it: two kept).
  t.same((await listed(v)).backups.map((b) => b.path).slice(1), [newest!.path]);
  await ok(t, v, ['backups', 'restore', 'dev', newest!.ts]);
  t.same(tree(v.folder), V2);
  const pushed = await ok(t, v, ['push', 'dev']);
  t.match(pushed.at(-1), /^✅ pushed .* \(version: \d{8}-\d{6}\)$/);
  t.not(pushedVersion(pushed), version);

  const status = await ok(t, v, ['status']);
  t.ok(
    status.some((l) => l.startsWith(`  ${v.repoName}/dev: `)),
    'status lists the vault',
  );
});

t.test('restore into a folder that is gone, and a folder that already equals the backup', async (t) => {
  const { v, b1, b2 } = await twoBackups(t);
  rmSync(v.folder, { recursive: true });
  const lines = await ok(t, v, ['backups', 'restore', 'dev']);
  t.equal(lines[2], '(nothing to back up: no file in infra/vault/dev/)');
  t.same(tree(v.folder), V2);

  const before = (await listed(v)).backups;
  const inode = statSync(v.folder).ino;
  // The folder is v2 = the newest backup: nothing new is written, nothing is swapped.
  const again = await ok(t, v, ['backups', 'restore', 'dev']);
  t.equal(statSync(v.folder).ino, inode, 'the same folder, not a swapped-in copy');
  t.equal(again[2], `→ ${before[0]!.path}`, 'the newest backup already holds the folder');
  t.same((await listed(v)).backups, before);
  t.same(tree(v.folder), V2);
  t.same(
    before.map((b) => b.path),
    [b2, b1],
    'nothing was backed up by the first restore either',
  );
});

t.test('restore first undoes a swap a crash cut short (recoverSwap), then backs up what it put back', async (t) => {
  const { v, b1, b2 } = await twoBackups(t);
  // A crash between swapIn's two renames: the folder (v1) under its hidden name, nothing in its place, and
  // a half-filled staging folder of the interrupted operation.
  const parent = dirname(v.folder);
  renameSync(v.folder, join(parent, '.vsync-old-dev-0badf00d'));
  mkdirSync(join(parent, '.vsync-staging-dev-AbC123'));
  writeFileSync(join(parent, '.vsync-staging-dev-AbC123', '.env.dev'), 'HALF=');

  const lines = await ok(t, v, ['backups', 'restore', 'dev', /dev-(\d{8}-\d{6})/.exec(b1)![1]!]);
  const backup = /^→ (.*)$/.exec(lines[2] ?? '')?.[1];
  t.ok(backup && backup !== b1 && backup !== b2, `the recovered v1 folder was backed up: ${lines[2]}`);
  t.same(readdirSync(parent), ['dev'], 'the old and staging folders are gone');
  t.same(tree(v.folder), V1, 'restored from b1 (v1)');
  t.same(
    (await listed(v)).backups.map((b) => b.path),
    [backup, b2],
    'b1, spared while it was read, is pruned once it is in place',
  );
  const restoreBackup = (await listed(v)).backups.find((b) => b.path === backup);
  await ok(t, v, ['backups', 'restore', 'dev', restoreBackup!.ts]);
  t.same(tree(v.folder), V1, 'and it held v1, the folder the crash had hidden');
});

t.test('the API: GET /v1/backups and POST /v1/backups/restore, streamed and plain', async (t) => {
  const { v, b2 } = await twoBackups(t);
  const socket = v.u.agent.socket;
  const query = new URLSearchParams({ cwd: v.u.repo, env: 'dev' });
  const list = await call(socket, 'GET', `/v1/backups?${query}`);
  t.equal(list.status, 200);
  t.same(list.json(), await listed(v));

  const streamed = await call(socket, 'POST', '/v1/backups/restore', { cwd: v.u.repo, env: 'dev' }, { accept: 'application/x-ndjson' });
  t.equal(streamed.status, 200);
  const events = streamed.body
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as StreamLine);
  t.same(events.slice(0, 2), [
    { type: 'progress', event: { kind: 'step', n: 1, of: 3, text: `decrypting ${b2}` } },
    { type: 'progress', event: { kind: 'step', n: 2, of: 3, text: 'backing up local infra/vault/dev/' } },
  ]);
  t.match(events[2], { type: 'progress', event: { kind: 'detail', text: /^→ / } });
  t.same(events[3], { type: 'progress', event: { kind: 'step', n: 3, of: 3, text: `unzipping into ${v.u.repo}` } });
  const result = events[4] as { type: 'result'; result: RestoreResult };
  t.equal(result.type, 'result');
  t.equal(events.length, 5);
  t.same(Object.keys(result.result).sort(), ['backup', 'env', 'folder', 'from', 'repo', 'restored', 'synced', 'unpushed']);
  t.match(result.result, { repo: v.repoName, env: 'dev', from: b2, folder: v.u.repo, unpushed: true });

  const plain = await call(socket, 'POST', '/v1/backups/restore', { cwd: v.u.repo, env: 'dev', ts: '20200101-000000' });
  t.equal(plain.status, 404);
  t.equal(plain.json<{ error: { code: string } }>().error.code, 'BACKUP_NOT_FOUND');

  for (const body of [
    { cwd: v.u.repo, env: 'dev', bogus: 1 },
    { cwd: v.u.repo, env: 'dev', ts: '2026' },
    { cwd: 'relative', env: 'dev' },
  ]) {
    const bad = await call(socket, 'POST', '/v1/backups/restore', body);
    t.equal(bad.status, 400, JSON.stringify(body));
    t.equal(bad.json<{ error: { code: string } }>().error.code, 'AGENT_BAD_REQUEST');
  }
  const badQuery = await call(socket, 'GET', `/v1/backups?${new URLSearchParams({ cwd: v.u.repo })}`);
  t.equal(badQuery.status, 400);
});

t.test('bad paths: a clear error, and the folder and the backups exactly as they were', async (t) => {
  const { v, b1, b2 } = await twoBackups(t);
  const refused = async (what: string, args: string[], code: number, message: RegExp, hint: RegExp): Promise<void> => {
    const before = everything(v);
    const res = await v.u.cli(args);
    t.equal(res.code, code, `${what}: exit ${code}`);
    t.match(res.stderr, message, `${what}: message`);
    t.match(res.stderr, hint, `${what}: hint`);
    t.equal(res.stdout.includes('[2/3]'), false, `${what}: never got to backing up`);
    t.same(everything(v), before, `${what}: nothing written`);
  };
  const ts1 = /dev-(\d{8}-\d{6})/.exec(b1)![1]!;
  const ts2 = /dev-(\d{8}-\d{6})/.exec(b2)![1]!;

  await refused(
    'an unknown ts',
    ['backups', 'restore', 'dev', '20200101-000000'],
    exitCodes.storage,
    new RegExp(`^vsync: error: no backup with that timestamp on this machine: 20200101-000000 \\(this machine has ${ts2}, ${ts1}\\)\\n`),
    /vsync: hint: list the backups with `vsync backups <env>`/,
  );
  await refused(
    'a malformed ts',
    ['backups', 'restore', 'dev', '2026-05-16'],
    exitCodes.usage,
    /not a vsync timestamp/,
    /vsync: hint: versions are named like/,
  );
  await refused(
    'a date that does not exist',
    ['backups', 'restore', 'dev', '20260231-000000'],
    exitCodes.usage,
    /"20260231-000000" is not a real date and time/,
    /hint/,
  );
  await refused(
    'an env with no config',
    ['backups', 'restore', 'prod'],
    exitCodes.config,
    /no config for this repo and env/,
    /vsync init <env>/,
  );

  // The backup the user asks for is damaged: a flipped byte, cut short, not an envelope at all.
  const original = readFileSync(b1);
  const flipped = Buffer.from(original);
  flipped[flipped.length - 20] = flipped[flipped.length - 20]! ^ 0x01;
  writeFileSync(b1, flipped);
  await refused(
    'a flipped byte',
    ['backups', 'restore', 'dev', ts1],
    exitCodes.integrity,
    new RegExp(`^vsync: error: decryption failed: the key is wrong or the data was altered: ${ESC(b1)}\\n`),
    /vsync: hint: nothing was restored or written: this backup is damaged, or was made under another key; `vsync backups dev` lists the others/,
  );
  writeFileSync(b1, original.subarray(0, 20));
  await refused(
    'cut short',
    ['backups', 'restore', 'dev', ts1],
    exitCodes.integrity,
    /too short to be an RQE1 envelope: .*dev-\d{8}-\d{6}\.zip\.enc \(20 bytes, at least 32 needed\)/,
    /nothing was restored or written/,
  );
  writeFileSync(b1, Buffer.concat([Buffer.from('PK\x03\x04'), original.subarray(4)]));
  await refused(
    'not an envelope',
    ['backups', 'restore', 'dev', ts1],
    exitCodes.integrity,
    /does not start with a known magic \(RQE1\): .* \(starts with 0x504b0304\)/,
    /nothing was restored or written/,
  );

  // A genuine envelope made under another key (another vault's backup dropped in with this one's name).
  writeFileSync(b1, encryptEnvelope(await deriveKey(randomBytes(32).toString('base64'), 'AAAAAAAAAAAAAAAAAAAAAA=='), Buffer.from('PK')));
  await refused('another key', ['backups', 'restore', 'dev', ts1], exitCodes.integrity, /decryption failed/, /made under another key/);
  writeFileSync(b1, original);

  // The agent holds the wrong key for this vault: refused by the config's key check, before any read.
  await restartAgent(v.u, { VSYNC_KEY: randomBytes(32).toString('base64') });
  await refused(
    'the wrong key',
    ['backups', 'restore', 'dev'],
    exitCodes.keychain,
    /this key is not the key the config was made with/,
    /hint/,
  );
  await restartAgent(v.u, { VSYNC_KEY: v.key });

  // No backups at all.
  rmSync(b1);
  rmSync(b2);
  await refused(
    'no backups',
    ['backups', 'restore', 'dev'],
    exitCodes.storage,
    new RegExp(`^vsync: error: this machine has no backup of this repo and env: no ${ESC(v.backups)}/dev-\\*\\.zip\\.enc\\n`),
    /a backup is written before each pull replaces the vault folder/,
  );
});

t.test('a backup that decrypts but holds a broken zip: the folder is untouched, nothing left beside it', async (t) => {
  const { v, b1 } = await twoBackups(t);
  const config = await readConfig(configFile(v.repoName, 'dev', { HOME: v.u.home }));
  const aesKey = await deriveKey(v.key, config.encryption.salt);
  writeFileSync(b1, encryptEnvelope(aesKey, Buffer.from('this is not a zip at all\n')));
  const before = tree(v.folder);
  const res = await v.u.cli(['backups', 'restore', 'dev', /dev-(\d{8}-\d{6})/.exec(b1)![1]!]);
  t.equal(res.code, exitCodes.integrity, res.stderr);
  t.match(res.stderr, /vsync: error: the archive could not be read/);
  t.same(tree(v.folder), before, 'the folder is as it was');
  t.same(readdirSync(dirname(v.folder)), ['dev'], 'no staging folder left');
  t.ok(existsSync(b1), 'the backup asked for is still there');
});
