// The client side of `vsync backups`: its command lines, its help, the lines it prints and the result shapes
// it accepts. The agent side runs for real in test/integration/backups.test.ts.
import t from 'tap';
import type { BackupsResult, RestoreResult } from '../../shared/api.js';
import { parseArgs } from '../../client/args.js';
import { helpText } from '../../client/help.js';
import { backupsLines, restoreLines } from '../../client/render.js';
import { expectBackups, expectRestore } from '../../client/result-shape.js';

const NOW = Date.UTC(2026, 4, 16, 20, 10, 0); // 20260516-201000
const run = (command: unknown, json = false) => ({ name: 'run', json, command });

t.test('good command lines', async (t) => {
  const cases: Array<[string[], unknown]> = [
    [['backups', 'dev'], run({ name: 'backups', env: 'dev', restore: false })],
    [['backups', 'dev', '--json'], run({ name: 'backups', env: 'dev', restore: false }, true)],
    [['backups', 'restore', 'dev'], run({ name: 'backups', env: 'dev', restore: true })],
    [['backups', 'restore', 'prod-eu', '20260516-113414'], run({ name: 'backups', env: 'prod-eu', restore: true, ts: '20260516-113414' })],
    [['--json', 'backups', 'restore', 'dev'], run({ name: 'backups', env: 'dev', restore: true }, true)],
    // An env named restore can still be restored (but not listed: the word is the action).
    [['backups', 'restore', 'restore'], run({ name: 'backups', env: 'restore', restore: true })],
  ];
  for (const [argv, expected] of cases) t.same(parseArgs(argv), expected, argv.join(' '));
});

t.test('bad command lines', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['backups'], /^invalid usage: backups needs <env>$/],
    [['backups', 'restore'], /^invalid usage: backups restore needs <env>$/],
    [['backups', 'dev', 'prod'], /^invalid usage: unexpected argument "prod"$/],
    [['backups', 'restore', 'dev', '20260516-113414', 'x'], /^invalid usage: unexpected argument "x"$/],
    [['backups', 'dev', '--force'], /^invalid usage: unknown option "--force" for backups$/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => parseArgs(argv), { code: 'USAGE', exit: 2, message, hint: /`vsync backups --help`/ }, argv.join(' '));
  }
  t.throws(() => parseArgs(['backups', 'restore', 'dev', '2026-05-16']), { code: 'TIMESTAMP_INVALID', exit: 2, message: /"2026-05-16"/ });
});

t.test('help', async (t) => {
  t.match(helpText('backups'), /^usage: vsync backups <env>\n {7}vsync backups restore <env> \[<ts>\]\n/);
  t.match(helpText('backups'), /docs\/BACKUPS\.md/);
  t.match(helpText(), /\n {2}backups <env> {15}list this machine's backups/);
  t.match(helpText(), /\n {2}backups restore <env> \[<ts>\]\n {30}put the newest backup \(or <ts>\) back/);
});

const listed: BackupsResult = {
  repo: 'myrepo',
  env: 'dev',
  folder: '/home/me/.config/vsync/backups/myrepo',
  backups: [
    { ts: '20260516-180858', size: 646, path: '/home/me/.config/vsync/backups/myrepo/dev-20260516-180858.zip.enc' },
    { ts: '20260514-100000', size: 2048, path: '/home/me/.config/vsync/backups/myrepo/dev-20260514-100000.zip.enc' },
  ],
};

t.test('the list, newest first, each with size, age and file', async (t) => {
  t.same(backupsLines(listed, NOW), [
    '/home/me/.config/vsync/backups/myrepo/ (2 backups of dev)',
    '  20260516-180858 646 B 2h ago /home/me/.config/vsync/backups/myrepo/dev-20260516-180858.zip.enc',
    '  20260514-100000 2.0 KiB 2d ago /home/me/.config/vsync/backups/myrepo/dev-20260514-100000.zip.enc',
  ]);
  t.same(
    backupsLines({ ...listed, backups: listed.backups.slice(0, 1) }, NOW)[0],
    '/home/me/.config/vsync/backups/myrepo/ (1 backup of dev)',
  );
  t.same(backupsLines({ ...listed, backups: [] }, NOW), [
    '/home/me/.config/vsync/backups/myrepo/ (0 backups of dev)',
    '  (none yet: each pull writes one before it replaces the vault folder)',
  ]);
});

t.test('the closing lines of a restore', async (t) => {
  const base: RestoreResult = {
    repo: 'myrepo',
    env: 'dev',
    restored: '20260516-180858',
    from: listed.backups[0]!.path,
    folder: '/home/me/projects/myrepo',
    unpushed: true,
  };
  t.same(restoreLines(base), ['✅ restored myrepo/dev from backup 20260516-180858'], 'nothing synced here: no second line');
  t.same(restoreLines({ ...base, synced: '20260516-113343' }), [
    '✅ restored myrepo/dev from backup 20260516-180858',
    '  unpushed: differs from 20260516-113343, the version last synced here (`vsync push dev` shares it)',
  ]);
  t.same(restoreLines({ ...base, synced: '20260516-113343', unpushed: false }), [
    '✅ restored myrepo/dev from backup 20260516-180858',
    '  in step with 20260516-113343, the version last synced here',
  ]);
});

t.test('result shapes: what is printed must be there', async (t) => {
  t.equal(expectBackups(listed), listed);
  t.throws(() => expectBackups({ ...listed, backups: [{ ts: 'x', size: '1', path: '/p' }] }), {
    code: 'INTERNAL',
    message: /backup entry has no number size/,
  });
  t.throws(() => expectBackups({ repo: 'r', env: 'e', backups: [] }), { code: 'INTERNAL', message: /no string folder/ });
  const restored = { repo: 'r', env: 'e', restored: '20260516-180858', from: '/f', folder: '/r', unpushed: false };
  t.equal(expectRestore(restored), restored);
  t.throws(() => expectRestore({ ...restored, unpushed: 'no' }), { code: 'INTERNAL', message: /no boolean unpushed/ });
  t.throws(() => expectRestore({ ...restored, synced: 1 }), { code: 'INTERNAL', message: /synced as number/ });
});
