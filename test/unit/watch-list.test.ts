// The agent's list of watched vaults on disk: absent is empty, what is written reads back, private modes,
// and a damaged file is CONFIG_INVALID naming the file (the agent refuses to guess).
import t from 'tap';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWatchList, watchListFile, writeWatchList, type WatchSpec } from '../../daemon/watch/watch-list.js';
import { VsyncError } from '../../shared/errors.js';
import { caught } from '../helpers/caught.js';
import type { TestContext } from '../helpers/tap-types.js';
import { tempBase } from '../helpers/vault-fixture.js';

const { base, cleanup } = tempBase('vsync-watch-list-');
t.teardown(cleanup);

const specs: WatchSpec[] = [
  { root: '/home/alice/web', env: 'dev', follow: false },
  { root: '/home/alice/web', env: 'prod', follow: true },
  { root: '/srv/other checkout', env: 'dev', follow: true },
];

let n = 0;
/** A file path in a folder that does not exist yet. */
const fresh = () => join(base, `case-${++n}`, 'state', 'vsync', 'watches.json');

t.test('the file lives in the state folder, after XDG_STATE_HOME', async (t) => {
  t.equal(watchListFile({ HOME: '/home/alice' }), '/home/alice/.local/state/vsync/watches.json');
  t.equal(watchListFile({ HOME: '/home/alice', XDG_STATE_HOME: '/xdg/state' }), '/xdg/state/vsync/watches.json');
});

t.test('no file: nothing watched', async (t) => {
  t.same(await readWatchList(fresh()), []);
});

t.test('what is written reads back, in order; an empty list too', async (t) => {
  const file = fresh();
  await writeWatchList(file, specs);
  t.same(await readWatchList(file), specs);
  t.same(JSON.parse(readFileSync(file, 'utf8')), { version: 1, watches: specs }, 'the documented shape');
  await writeWatchList(file, specs.slice(1));
  t.same(await readWatchList(file), specs.slice(1), 'a rewrite replaces it');
  await writeWatchList(file, []);
  t.same(await readWatchList(file), []);
});

t.test('the file is 0600 in a folder made 0700, even over a file that was wider', async (t) => {
  const file = fresh();
  await writeWatchList(file, specs);
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.equal(statSync(join(file, '..')).mode & 0o777, 0o700);

  const old = join(base, 'wide', 'watches.json');
  mkdirSync(join(base, 'wide'), { recursive: true });
  writeFileSync(old, '{}', { mode: 0o644 });
  await writeWatchList(old, specs);
  t.equal(statSync(old).mode & 0o777, 0o600);
});

async function damaged(t: TestContext, text: string, detail: RegExp, name: string): Promise<void> {
  const file = fresh();
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  const err = await caught(readWatchList(file));
  t.ok(err instanceof VsyncError, name);
  t.match(err, { code: 'CONFIG_INVALID', message: detail }, name);
  t.ok((err as VsyncError).hint.includes(file), `${name}: the hint names the file`);
  t.ok((err as VsyncError).message.includes(file), `${name}: so does the message`);
}

t.test('not JSON: CONFIG_INVALID naming the file', async (t) => {
  await damaged(t, '{"version":1,"watches":[', /not JSON/, 'cut short');
  await damaged(t, '', /not JSON/, 'empty');
});

t.test('JSON that breaks the schema: CONFIG_INVALID naming the file', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['another version', { version: 2, watches: [] }],
    ['no watches', { version: 1 }],
    ['watches not a list', { version: 1, watches: {} }],
    ['a relative root', { version: 1, watches: [{ root: 'web', env: 'dev', follow: false }] }],
    ['an empty env', { version: 1, watches: [{ root: '/w', env: '', follow: false }] }],
    ['follow as a string', { version: 1, watches: [{ root: '/w', env: 'dev', follow: 'yes' }] }],
    ['no follow', { version: 1, watches: [{ root: '/w', env: 'dev' }] }],
    ['a list at the top', [{ root: '/w', env: 'dev', follow: false }]],
    ['null', null],
  ];
  for (const [name, json] of cases) await damaged(t, JSON.stringify(json), /./, name);
});

t.test('unknown fields are refused, at the top and in an entry', async (t) => {
  await damaged(t, JSON.stringify({ version: 1, watches: [], paused: true }), /paused/, 'top level');
  await damaged(
    t,
    JSON.stringify({ version: 1, watches: [{ root: '/w', env: 'dev', follow: false, debounceMs: 5 }] }),
    /debounceMs/,
    'in an entry',
  );
});

t.test('a file that cannot be read for another reason is not taken for an empty list', async (t) => {
  const folder = join(base, 'a-folder-in-its-place');
  mkdirSync(folder, { recursive: true });
  await t.rejects(readWatchList(folder), { code: 'EISDIR' });
});
