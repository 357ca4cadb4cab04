// The client's side of key export / import: command lines, the printed lines, and the passphrase file.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../client/args.js';
import { helpText } from '../../client/help.js';
import { readPassphraseFile } from '../../client/commands/key-passphrase.js';
import { keyExportLines, keyImportPrintout } from '../../client/render.js';
import { expectKeyExport, expectKeyImport } from '../../client/result-shape.js';
import { exitCodes } from '../../shared/errors.js';
import { caught } from '../helpers/caught.js';

t.test('command lines', async (t) => {
  const run = (command: unknown, json = false) => ({ name: 'run', json, command });
  t.same(parseArgs(['key', 'export', 'dev']), run({ name: 'key', action: 'export', env: 'dev' }));
  t.same(
    parseArgs(['key', 'export', 'dev', '--out', 'x.share', '--passphrase-file=p.txt', '--json']),
    run({ name: 'key', action: 'export', env: 'dev', out: 'x.share', passphraseFile: 'p.txt' }, true),
  );
  t.same(parseArgs(['key', 'import', '../acme_web-dev.share']), run({ name: 'key', action: 'import', file: '../acme_web-dev.share' }));
  t.same(
    parseArgs(['key', '--passphrase-file', 'p', 'import', 'f']),
    run({ name: 'key', action: 'import', file: 'f', passphraseFile: 'p' }),
  );
  t.same(parseArgs(['key', '--help']), { name: 'help', topic: 'key' });

  const usage = async (argv: string[], message: RegExp) =>
    t.match(
      await caught(Promise.resolve().then(() => parseArgs(argv))),
      { code: 'USAGE', exit: exitCodes.usage, message, hint: 'run `vsync key --help`' },
      argv.join(' '),
    );
  await usage(['key'], /key needs <export\|import\|rotate>/);
  await usage(['key', 'export'], /key export needs <env>/);
  await usage(['key', 'import'], /key import needs <file>/);
  await usage(['key', 'send', 'dev'], /unknown key command "send": export, import or rotate/);
  await usage(['key', 'import', 'f', '--out', 'x'], /--out goes with key export/);
  await usage(['key', 'export', 'dev', 'extra'], /unexpected argument "extra"/);
  // Never on the command line, where ps and the shell history would keep it: the file option is suggested.
  t.match(await caught(Promise.resolve().then(() => parseArgs(['key', 'export', 'dev', '--passphrase', 'hunter2']))), {
    code: 'USAGE',
    message: /unknown option "--passphrase" for key/,
    hint: /did you mean `--passphrase-file`\?/,
  });
  await usage(['key', 'export', 'dev', '--key', 'x'], /unknown option "--key"/);
  await usage(['key', 'export', 'dev', '--out'], /--out needs a value/);
  t.match(helpText('key'), /^usage: vsync key export <env>/);
  t.match(helpText(), /\n {2}key export <env> {12}write/);
});

t.test('the lines export prints', async (t) => {
  const made = expectKeyExport({
    repo: 'acme_web',
    env: 'dev',
    file: '/home/alice/web/acme_web-dev.share',
    passphrase: '7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5E',
  });
  t.same(keyExportLines(made), [
    '✅ exported acme_web/dev to /home/alice/web/acme_web-dev.share',
    '  passphrase: 7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5E',
    '  (shown only now: vsync keeps no copy of it)',
    '  send the file and the passphrase by two different channels (say, the file by chat and the passphrase',
    '  by phone): either alone is useless, together they give the key',
    '  your teammate then runs, in their checkout: vsync key import acme_web-dev.share',
  ]);
  const own = keyExportLines({ repo: 'acme_web', env: 'dev', file: '/tmp/x.share' }, '/home/alice/pass.txt');
  t.equal(own[1], '  passphrase: the one in /home/alice/pass.txt');
  t.notOk(own.some((line) => line.includes('shown only now')));
  t.match(await caught(Promise.resolve().then(() => expectKeyExport({ repo: 'a', env: 'b' }))), { code: 'INTERNAL' });
});

t.test('the lines import prints', async (t) => {
  const base = {
    repo: 'acme_web',
    env: 'dev',
    configFile: '/home/bob/.config/vsync/acme_web/env_dev',
    store: 's3://acme-secrets/acme_web/dev/',
    keychain: 'secret-service',
  };
  t.same(keyImportPrintout(expectKeyImport({ ...base, key: 'added', config: 'added' })), {
    lines: [
      '✅ imported acme_web/dev',
      '  key: stored in the keychain (secret-service)',
      '  config: /home/bob/.config/vsync/acme_web/env_dev',
      '  store: s3://acme-secrets/acme_web/dev/',
      '  next: vsync pull dev, then delete the share file',
    ],
    warnings: [],
  });
  const twice = keyImportPrintout({ ...base, key: 'present', config: 'present' });
  t.equal(twice.lines[0], '✅ acme_web/dev was already imported: the same key and config are here');
  t.equal(twice.lines[1], '  key: already in the keychain (secret-service)');
  t.equal(twice.lines[2], '  config: /home/bob/.config/vsync/acme_web/env_dev (already there)');
  const half = keyImportPrintout({ ...base, key: 'added', config: 'present' });
  t.equal(half.lines[0], '✅ imported acme_web/dev');
  const elsewhere = keyImportPrintout({ ...base, key: 'added', config: 'added', checkoutRepo: 'bob_web' });
  t.same(elsewhere.warnings, [
    'this folder is a checkout of "bob_web", not "acme_web": vsync commands here use bob_web\'s vaults; to use the imported one here, add a .vsync file with repo=acme_web at the top of this checkout',
  ]);
});

t.test('the passphrase file: one line, its line end dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vsync-pass-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  t.equal(await readPassphraseFile(file('a', 'correct horse battery staple\n')), 'correct horse battery staple');
  t.equal(await readPassphraseFile(file('b', 'correct horse battery staple\r\n')), 'correct horse battery staple');
  t.equal(await readPassphraseFile(file('c', ' spaces kept ')), ' spaces kept ');
  const bad = async (path: string, message: RegExp) =>
    t.match(
      await caught(readPassphraseFile(path)),
      { code: 'SHARE_PASSPHRASE_INVALID', exit: exitCodes.usage, message, hint: /one line/ },
      message.source,
    );
  await bad(join(dir, 'missing'), /cannot read --passphrase-file .*missing \(ENOENT\)/);
  await bad(dir, /cannot read --passphrase-file .* \(EISDIR\)/);
  await bad(file('d', ''), /is empty/);
  await bad(file('e', '\n'), /is empty/);
  await bad(file('f', 'one\ntwo\n'), /holds more than one line/);
  await bad(file('g', Buffer.alloc(9000, 'x')), /holds 9000 bytes/);
});
