import t from 'tap';
import type { StatusResult, VersionsResult } from '../../shared/api.js';
import { ageOf, formatAge, formatSize, formatUptime, parseTime } from '../../client/render.js';
import {
  initPrintout,
  lockLine,
  progressPrintout,
  pullLine,
  pushLine,
  showUseLine,
  statusLines,
  usePrintout,
  versionsLines,
} from '../../client/render.js';

const NOW = Date.UTC(2026, 4, 16, 20, 10, 0); // 20260516-201000

t.test('sizes', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [646, '646 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1229, '1.2 KiB'],
    [1024 * 1024 - 1, '1.0 MiB'],
    [Math.round(3.4 * 1024 * 1024), '3.4 MiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
  ];
  for (const [bytes, text] of cases) t.equal(formatSize(bytes), text, String(bytes));
});

t.test('ages from version timestamps (UTC) and ISO times', async (t) => {
  t.equal(parseTime('20260516-201000'), NOW);
  t.equal(parseTime('2026-05-16T20:10:00.000Z'), NOW);
  t.ok(Number.isNaN(parseTime('yesterday')));
  const cases: Array<[string, string]> = [
    ['20260516-201000', 'just now'],
    ['20260516-200901', 'just now'],
    ['20260516-200900', '1m ago'],
    ['20260516-191001', '59m ago'],
    ['20260516-181000', '2h ago'],
    ['20260515-201001', '23h ago'],
    ['20260515-201000', '1d ago'],
    ['20260514-100000', '2d ago'],
    ['20260516-211000', 'just now'], // a clock behind the store's
    ['2026-05-16T17:40:00Z', '2h ago'],
    ['not a time', 'not a time'],
  ];
  for (const [ts, age] of cases) t.equal(ageOf(ts, NOW), age, ts);
  t.equal(formatAge(NOW - 90_000, NOW), '1m ago');
});

t.test('uptimes', async (t) => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [3_400, '3s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [5 * 60_000 + 59_000, '5m'],
    [2 * 3600_000 + 5 * 60_000, '2h 5m'],
    [2 * 3600_000, '2h'],
    [86400_000 + 3 * 3600_000 + 59 * 60_000, '1d 3h'],
    [3 * 86400_000, '3d'],
  ];
  for (const [ms, text] of cases) t.equal(formatUptime(ms), text, String(ms));
});

t.test('progress: steps numbered, details alone, warnings to stderr', async (t) => {
  t.same(progressPrintout({ kind: 'step', n: 1, of: 5, text: 'zipping infra/vault/dev/' }), {
    lines: ['[1/5] zipping infra/vault/dev/'],
    warnings: [],
  });
  t.same(progressPrintout({ kind: 'detail', text: '→ /home/me/.config/vsync/backups/vsync/dev-20260516-113414.zip.enc' }), {
    lines: ['→ /home/me/.config/vsync/backups/vsync/dev-20260516-113414.zip.enc'],
    warnings: [],
  });
  t.same(progressPrintout({ kind: 'warning', text: 'careful' }), { lines: [], warnings: ['careful'] });
});

t.test('init, push, pull, lock', async (t) => {
  t.same(
    initPrintout({
      repo: 'vsync',
      env: 'dev',
      configFile: '/home/me/.config/vsync/vsync/env_dev',
      vaultFolder: 'infra/vault/dev',
      store: 'file:///srv/store/vsync/dev/',
    }).lines,
    [
      '✅ initialised vsync/dev',
      '  config: /home/me/.config/vsync/vsync/env_dev',
      '  vault folder: infra/vault/dev/',
      '  store: file:///srv/store/vsync/dev/',
    ],
  );
  t.equal(
    pushLine({ repo: 'vsync', env: 'dev', version: '20260516-113304', bytes: 646, url: 's3://b/vsync/dev/versions/20260516-113304.enc' }),
    '✅ pushed vsync/dev (version: 20260516-113304)',
  );
  t.equal(
    pullLine({ repo: 'vsync', env: 'dev', version: '20260516-113343', folder: '/p/infra/vault/dev' }),
    '✅ pulled vsync/dev version 20260516-113343',
  );
  t.equal(lockLine({ dropped: 0 }), '🔒 locked (0 keys dropped)');
  t.equal(lockLine({ dropped: 1 }), '🔒 locked (1 key dropped)');
  t.equal(lockLine({ dropped: 3 }), '🔒 locked (3 keys dropped)');
});

t.test('versions', async (t) => {
  const base = { repo: 'vsync', env: 'regression', location: 's3://muthuishere-vsync-e2e/vsync/regression/versions/' };
  const list: VersionsResult = {
    ...base,
    latest: '20260516-180858',
    versions: [
      { ts: '20260516-180858', size: 646, latest: true },
      { ts: '20260516-150208', size: 644, latest: false },
      { ts: '20260515-201410', size: 2048, latest: false },
      { ts: '20260514-152233', size: 640, latest: false },
    ],
  };
  t.same(versionsLines(list, NOW), [
    's3://muthuishere-vsync-e2e/vsync/regression/versions/ (4 versions)',
    '* 20260516-180858 646 B 2h ago',
    '  20260516-150208 644 B 5h ago',
    '  20260515-201410 2.0 KiB 23h ago',
    '  20260514-152233 640 B 2d ago',
  ]);
  t.same(versionsLines({ ...base, versions: [{ ts: '20260516-200958', size: 646, latest: true }] }, NOW), [
    's3://muthuishere-vsync-e2e/vsync/regression/versions/ (1 version)',
    '* 20260516-200958 646 B just now',
  ]);
  t.same(versionsLines({ ...base, versions: [] }, NOW), [
    's3://muthuishere-vsync-e2e/vsync/regression/versions/ (0 versions)',
    '  (none yet: push one with `vsync push regression`)',
  ]);
  t.same(
    versionsLines({ ...base, versions: [{ ts: '20260516-180858', size: 646, latest: false }] }, NOW)[1],
    '  20260516-180858 646 B 2h ago',
    'a damaged pointer marks none',
  );
});

t.test('use', async (t) => {
  const link = '/p/.env';
  t.same(usePrintout({ link, kind: 'symlink', target: 'infra/vault/production/.env.production' }), {
    lines: ['.env → infra/vault/production/.env.production'],
    warnings: [],
  });
  const warning = ".env is not ignored by git, so `git add .` would commit it: `echo '/.env' >> .gitignore`";
  t.same(usePrintout({ link, kind: 'symlink', target: 'infra/vault/dev/.env.dev', gitWarnings: [warning] }), {
    lines: ['.env → infra/vault/dev/.env.dev'],
    warnings: [warning],
  });
  t.equal(showUseLine({ link, kind: 'symlink', target: 'infra/vault/dev/.env.dev' }), '.env → infra/vault/dev/.env.dev');
  t.equal(showUseLine({ link, kind: 'file' }), '.env is a regular file (not managed by vsync)');
  t.equal(showUseLine({ link, kind: 'none' }), '.env does not exist');
});

t.test('init', async (t) => {
  const base = {
    repo: 'acme',
    env: 'dev',
    configFile: '/h/.config/vsync/acme/env_dev',
    vaultFolder: 'infra/vault/dev',
    store: 'file:///s/acme/dev/',
  };
  t.same(initPrintout({ ...base, gitignore: { file: '/p/.gitignore', added: ['/infra/vault/dev/', '/.env'] } }).lines.slice(4), [
    '  /p/.gitignore: added /infra/vault/dev/ and /.env (commit it)',
  ]);
  t.same(initPrintout({ ...base, gitignore: { file: '/p/.gitignore', added: [] } }).lines.slice(4), [
    '  /p/.gitignore: git already ignores the vault folder and .env',
  ]);
  const named = initPrintout({ ...base, repoFile: '/p/.vsync', warnings: ['could not add …'] });
  t.same(named.lines.slice(4), ["  repo name: acme, written to /p/.vsync (commit it: teammates' vsync reads it)"]);
  t.same(named.warnings, ['could not add …']);
});

t.test('status', async (t) => {
  const status: StatusResult = {
    version: '0.1.0',
    pid: 4242,
    socket: '/run/user/1000/vsync/vsyncd.sock',
    startedAt: '2026-05-16T18:05:00.000Z',
    uptimeMs: 2 * 3600_000 + 5 * 60_000,
    locked: false,
    unlocked: ['acme_web/dev', 'acme_web/prod'],
    vaults: [
      { repo: 'acme_web', env: 'dev', last: { operation: 'push', at: '2026-05-16T18:10:00.000Z', ok: true, version: '20260516-181000' } },
      { repo: 'acme_web', env: 'prod', last: { operation: 'pull', at: '2026-05-16T20:09:30.000Z', ok: false, code: 'VAULT_CONFLICT' } },
      { repo: 'acme_web', env: 'qa', last: { operation: 'use', at: '2026-05-13T20:09:30.000Z', ok: false } },
    ],
    watches: [],
  };
  t.same(statusLines(status, NOW), [
    'vsyncd 0.1.0 (pid 4242), up 2h 5m',
    'socket: /run/user/1000/vsync/vsyncd.sock',
    'keys: unlocked for acme_web/dev, acme_web/prod',
    'vaults:',
    '  acme_web/dev: push ok 2h ago',
    '  acme_web/prod: pull failed (VAULT_CONFLICT) just now',
    '  acme_web/qa: use failed 3d ago',
  ]);
  t.same(statusLines({ ...status, uptimeMs: 3_000, locked: true, unlocked: [], vaults: [] }, NOW), [
    'vsyncd 0.1.0 (pid 4242), up 3s',
    'socket: /run/user/1000/vsync/vsyncd.sock',
    'keys: locked',
    'vaults: none yet',
  ]);
});
