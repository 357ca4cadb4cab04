// Bringing a teammate in, with the real programs: Alice (the Secret Service scripts/test.sh started) inits,
// pushes and exports; Bob (another HOME, another agent, and a gnome-keyring of his own on a private D-Bus)
// imports with --passphrase-file, pulls, uses, edits and pushes; Alice pulls Bob's change. Then the bad paths,
// each leaving the keychain and the config folder as they were. On the directory store and on Ceph RGW.
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { registry } from '../../shared/errors.js';
import { configFile, configRoot } from '../../shared/paths.js';
import type { CliRun } from '../helpers/cli.js';
import { canStartKeyring, startKeyringAgent } from '../helpers/keyring-agent.js';
import { realComponentAvailable, skipUnless } from '../helpers/real-component.js';
import { checkout, createBucket, user } from '../helpers/teammates.js';
import { vsyncOnTerminal } from '../helpers/terminal.js';
import { tempBase } from '../helpers/vault-fixture.js';
import type { TestContext } from '../helpers/tap-types.js';

const run = promisify(execFile);
const PASSPHRASE = /^ {2}passphrase: ([0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){6})$/m;

/** A teammate whose agent has a keychain of its own: a checkout of the same repo in another HOME. */
async function teammateWithOwnKeyring(t: TestContext, base: string, name: string, repoName: string) {
  const place = await checkout(base, name, repoName);
  const agent = await startKeyringAgent(place.home, place.socket);
  t.teardown(() => agent.stop());
  return { ...place, agent };
}

const refused = (t: TestContext, res: CliRun, code: keyof typeof registry, detail: RegExp, what: string): void => {
  t.equal(res.code, registry[code].exit, `${what}: exit ${registry[code].exit}`);
  t.match(
    res.stderr,
    new RegExp(`^vsync: error: ${registry[code].message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(: |\\n)`),
    `${what}: the message`,
  );
  t.match(res.stderr, detail, `${what}: the detail`);
  t.match(res.stderr, /\nvsync: hint: .+\n$/, `${what}: a hint`);
  t.equal(res.stdout, '', `${what}: nothing on stdout`);
};

/** `badPaths`: also every refusal and the terminal prompt (they do not depend on the store: run once). */
function teammateJoins(t: TestContext, store: 'dir' | 's3', badPaths: boolean): void {
  t.test(`a teammate joins, on the ${store === 'dir' ? 'directory store' : 'S3 store (Ceph RGW)'}`, async (t) => {
    const { base, cleanup } = tempBase(`vsync-join-${store}-`);
    const repoName = `it_${randomBytes(4).toString('hex')}`;
    const account = `${repoName}/dev`;
    const a = await user(base, 'alice', repoName);
    t.teardown(async () => {
      await a.agent.stop();
      await run('secret-tool', ['clear', 'service', 'tools.vsync', 'username', account]).catch(() => undefined);
      cleanup();
    });
    const b = await teammateWithOwnKeyring(t, base, 'bob', repoName);

    const initArgs = ['init', 'dev'];
    let storeUrl: RegExp;
    if (store === 's3') {
      const bucket = await createBucket('vsync-join');
      initArgs.push('--bucket', bucket, '--endpoint', process.env.VSYNC_TEST_S3_ENDPOINT!, '--region', 'us-east-1', '--path-style');
      storeUrl = new RegExp(`s3://${bucket}/${repoName}/dev/`);
    } else {
      storeUrl = new RegExp(`file://${join(a.home, '.local', 'share', 'vsync', 'store')}/${repoName}/dev/`);
    }
    t.equal((await a.cli(initArgs)).code, 0);
    writeFileSync(a.envFile(), 'DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n');
    t.equal((await a.cli(['push', 'dev'])).code, 0);
    const key = (await run('secret-tool', ['lookup', 'service', 'tools.vsync', 'username', account])).stdout;
    t.equal(key.length, 44, "Alice's key is in her Secret Service");

    // Alice exports.
    const exported = await a.cli(['key', 'export', 'dev']);
    t.equal(exported.code, 0, exported.stderr);
    t.equal(exported.stderr, '');
    const shareFile = join(a.repo, `${repoName}-dev.share`);
    const passphrase = PASSPHRASE.exec(exported.stdout)?.[1] ?? 'missing';
    t.same(exported.stdout.split('\n'), [
      `✅ exported ${repoName}/dev to ${shareFile}`,
      `  passphrase: ${passphrase}`,
      '  (shown only now: vsync keeps no copy of it)',
      '  send the file and the passphrase by two different channels (say, the file by chat and the passphrase',
      '  by phone): either alone is useless, together they give the key',
      `  your teammate then runs, in their checkout: vsync key import ${repoName}-dev.share`,
      '',
    ]);
    t.equal(statSync(shareFile).mode & 0o777, 0o600, 'the share file is 0600');
    t.notOk(readFileSync(shareFile).includes(Buffer.from(key)), 'the key is not in the file in the clear');

    // The file travels one way, the passphrase another.
    const bobShare = join(b.home, 'Downloads', `${repoName}-dev.share`);
    mkdirSync(join(b.home, 'Downloads'));
    writeFileSync(bobShare, readFileSync(shareFile));
    const passFile = join(b.home, 'passphrase.txt');
    writeFileSync(passFile, `${passphrase}\n`, { mode: 0o600 });
    const bobConfig = configFile(repoName, 'dev', { HOME: b.home });

    if (badPaths) {
      // Before the good import: each bad one refused, nothing stored (the good import below says "stored").
      const wrongPass = join(b.home, 'wrong.txt');
      writeFileSync(wrongPass, 'J6NP-SV5E-7K3Q-M9TX-4B2D-R8WZ-0CFH\n');
      refused(
        t,
        await b.cli(['key', 'import', bobShare, '--passphrase-file', wrongPass]),
        'SHARE_PASSPHRASE_WRONG',
        /share file\n/,
        'a wrong passphrase',
      );

      const bytes = readFileSync(bobShare);
      const tampered = join(b.home, 'tampered.share');
      const flipped = Buffer.from(bytes);
      flipped[flipped.length - 30] = flipped[flipped.length - 30]! ^ 0x01;
      writeFileSync(tampered, flipped);
      refused(
        t,
        await b.cli(['key', 'import', tampered, '--passphrase-file', passFile]),
        'SHARE_FILE_INVALID',
        /the passphrase is right, but the encrypted part was altered or damaged/,
        'a flipped byte',
      );
      const truncated = join(b.home, 'truncated.share');
      writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
      refused(
        t,
        await b.cli(['key', 'import', truncated, '--passphrase-file', passFile]),
        'SHARE_FILE_INVALID',
        new RegExp(`cut short: ${bytes.length - 10} bytes of ${bytes.length}`),
        'a file cut short',
      );
      refused(
        t,
        await b.cli(['key', 'import', configFile(repoName, 'dev', { HOME: a.home }), '--passphrase-file', passFile]),
        'SHARE_FILE_INVALID',
        /starts with 0x1f8b/,
        'a config file instead',
      );
      refused(
        t,
        await b.cli(['key', 'import', join(b.home, 'nope.share'), '--passphrase-file', passFile]),
        'SHARE_FILE_UNREADABLE',
        /nope\.share \(ENOENT\)/,
        'no such file',
      );
      refused(
        t,
        await b.cli(['key', 'import', bobShare]),
        'SHARE_PASSPHRASE_INVALID',
        /no terminal to ask for it on/,
        'no terminal and no --passphrase-file',
      );

      // Ctrl-C at the prompt: nothing sent, exit 130.
      const cancelled = await vsyncOnTerminal(['key', 'import', bobShare], {
        cwd: b.repo,
        env: b.env,
        prompt: 'passphrase for ',
        keys: '7K3Q\u0003',
      });
      t.equal(cancelled.code, 130, cancelled.transcript);
      t.notOk(existsSync(configRoot({ HOME: b.home })), 'after all of them: no config folder at all');
    }

    // Bob imports.
    const imported = await b.cli(['key', 'import', bobShare, '--passphrase-file', passFile]);
    t.equal(imported.code, 0, imported.stderr);
    t.equal(imported.stderr, '');
    t.match(
      imported.stdout,
      new RegExp(
        `^✅ imported ${repoName}/dev\\n  key: stored in the keychain \\(secret-service\\)\\n  config: ${bobConfig}\\n  store: ${storeUrl.source}\\n  next: vsync pull dev, then delete the share file\\n$`,
      ),
    );
    t.equal(statSync(bobConfig).mode & 0o777, 0o600);

    const pulled = await b.cli(['pull', 'dev']);
    t.equal(pulled.code, 0, pulled.stderr);
    t.equal(readFileSync(b.envFile(), 'utf8'), 'DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n');
    t.equal((await b.cli(['use', 'dev'])).code, 0);
    t.equal(readlinkSync(join(b.repo, '.env')), 'infra/vault/dev/.env.dev');
    writeFileSync(b.envFile(), 'DATABASE_URL=postgres://dev\nAPI_KEY=from-bob\n');
    const bobPush = await b.cli(['push', 'dev']);
    t.equal(bobPush.code, 0, bobPush.stderr);
    const alicePull = await a.cli(['pull', 'dev']);
    t.equal(alicePull.code, 0, alicePull.stderr);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'DATABASE_URL=postgres://dev\nAPI_KEY=from-bob\n', "Alice has Bob's change");

    const configBytes = readFileSync(bobConfig);
    const typed = passphrase.toLowerCase().replace(/-/g, ' ');
    if (badPaths) {
      // The same file again, typed on a terminal (echo off), in lower case with spaces and a slip corrected.
      const again = await vsyncOnTerminal(['key', 'import', bobShare], {
        cwd: b.repo,
        env: b.env,
        prompt: 'passphrase for ',
        keys: `x\u007f${typed}\u001b[D\r`,
      });
      t.equal(again.code, 0, again.transcript);
      t.match(
        again.transcript,
        `passphrase for ${bobShare}: \r\n✅ ${repoName}/dev was already imported: the same key and config are here`,
      );
      t.notOk(again.transcript.toLowerCase().includes(typed.slice(0, 9)), 'nothing typed was echoed');
      t.same(readFileSync(bobConfig), configBytes, 'the config is as it was');

      // An existing share file is never replaced.
      const shareBytes = readFileSync(shareFile);
      refused(
        t,
        await a.cli(['key', 'export', 'dev']),
        'SHARE_FILE_EXISTS',
        new RegExp(`: ${shareFile}\\n`),
        'export over an existing file',
      );
      t.same(readFileSync(shareFile), shareBytes);
      refused(
        t,
        await a.cli(['key', 'export', 'dev', '--out', join(a.home, 'no', 'such', 'folder.share')]),
        'SHARE_FILE_UNWRITABLE',
        /\(ENOENT\)/,
        'export into a missing folder',
      );
      const weak = join(a.home, 'weak.txt');
      writeFileSync(weak, 'hunter2\n');
      refused(
        t,
        await a.cli(['key', 'export', 'dev', '--out', join(a.home, 'weak.share'), '--passphrase-file', weak]),
        'SHARE_PASSPHRASE_INVALID',
        /7 characters, at least 16 needed/,
        'a weak passphrase of her own',
      );
      t.notOk(existsSync(join(a.home, 'weak.share')));

      // Another "team" with a vault of the same name and another key (keys from VSYNC_KEY, read-only).
      const other = await user(base, 'oscar', repoName, { VSYNC_KEY: randomBytes(32).toString('base64') });
      t.teardown(() => other.agent.stop());
      refused(
        t,
        await other.cli(['key', 'import', bobShare, '--passphrase-file', passFile]),
        'KEYCHAIN_READ_ONLY',
        /this agent takes its keys from the environment \(env:VSYNC_KEY\)/,
        'import where keys come from VSYNC_KEY',
      );
      t.notOk(existsSync(configRoot({ HOME: other.home })), 'no config written');
      t.equal((await other.cli(['init', 'dev', '--store', join(other.home, 'store')])).code, 0);
      const otherPass = join(other.home, 'pass.txt');
      writeFileSync(otherPass, 'a passphrase of our own, long enough\n');
      const otherExport = await other.cli(['key', 'export', 'dev', '--passphrase-file', otherPass]);
      t.equal(otherExport.code, 0, otherExport.stderr);
      t.match(otherExport.stdout, `  passphrase: the one in ${otherPass}\n`);
      t.notOk(otherExport.stdout.includes('our own'), 'a passphrase of her own is not printed');
      refused(
        t,
        await b.cli(['key', 'import', join(other.repo, `${repoName}-dev.share`), '--passphrase-file', otherPass]),
        'SHARE_CONFLICT',
        new RegExp(`holds another key for account "${account}"`),
        'a share of another key',
      );
      t.same(readFileSync(bobConfig), configBytes, "Bob's config is as it was");
      t.equal((await b.cli(['pull', 'dev'])).code, 0, "and Bob's key still opens the vault");
    }

    // Neither agent ever logged the key or the passphrase.
    for (const [who, log] of [
      ['Alice', a.agent.output()],
      ['Bob', b.agent.output()],
    ] as const) {
      t.notOk(log.includes(key), `${who}'s agent log does not hold the key`);
      t.notOk(log.includes(passphrase) || log.toLowerCase().includes(typed), `${who}'s agent log does not hold the passphrase`);
      t.match(log, /\/v1\/key\/(export|import)/, `${who}'s agent logged the request (URL and status only)`);
    }
  });
}

const keyringSkip = skipUnless(
  canStartKeyring(),
  'a second gnome-keyring cannot be started (apt-get install gnome-keyring dbus libsecret-tools)',
);
if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) {
  t.test('two keychains', { skip: keyringSkip }, async (t) => {
    teammateJoins(t, 'dir', true);
    if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW (S3)')) teammateJoins(t, 's3', false);
  });
}
