// `vsync watch` (on, off, list) and the `watching:` section of `vsync status`: the command lines, every
// line printed, the shape checks, and the built CLI against a stand-in agent on a real Unix socket.
import t from 'tap';
import { standInAgent, type StandInAgent } from '../helpers/stand-in-agent.js';
import { execFile } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StatusResult, WatchEntry } from '../../shared/api.js';
import { parseArgs } from '../../client/args.js';
import { helpText } from '../../client/help.js';
import { statusLines, unwatchLine, watchLine, watchListLines } from '../../client/render.js';
import { expectStatus, expectUnwatch, expectWatchEntry, expectWatchList } from '../../client/result-shape.js';
import { exitCodes } from '../../shared/errors.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { PATIENCE_MS } from '../helpers/patience.js';

// ---- command lines ----

t.test('watch and events command lines', async (t) => {
  const cases: Array<[string[], unknown]> = [
    [['watch'], { name: 'run', json: false, command: { name: 'watch', follow: false, off: false } }],
    [['watch', '--json'], { name: 'run', json: true, command: { name: 'watch', follow: false, off: false } }],
    [['watch', 'dev'], { name: 'run', json: false, command: { name: 'watch', env: 'dev', follow: false, off: false } }],
    [['watch', 'dev', '--follow'], { name: 'run', json: false, command: { name: 'watch', env: 'dev', follow: true, off: false } }],
    [['watch', '--follow', 'dev', '--json'], { name: 'run', json: true, command: { name: 'watch', env: 'dev', follow: true, off: false } }],
    [['watch', 'dev', '--off'], { name: 'run', json: false, command: { name: 'watch', env: 'dev', follow: false, off: true } }],
    [['--json', 'watch', '--off', 'prod'], { name: 'run', json: true, command: { name: 'watch', env: 'prod', follow: false, off: true } }],
    [['events'], { name: 'run', json: false, command: { name: 'events' } }],
    [['events', '--json'], { name: 'run', json: true, command: { name: 'events' } }],
    [['--json', 'events'], { name: 'run', json: true, command: { name: 'events' } }],
    [['watch', 'dev', '--off', '--follow', '--help'], { name: 'help', topic: 'watch' }],
    [['events', '--bogus', '-h'], { name: 'help', topic: 'events' }],
  ];
  for (const [argv, expected] of cases) t.same(parseArgs(argv), expected, argv.join(' '));
  // t.same ignores a key set to undefined; the list form must carry no env at all for the command to list.
  const list = parseArgs(['watch']);
  t.equal(list.name === 'run' && list.command.name === 'watch' ? list.command.env : 'not a watch', undefined);
});

t.test('watch and events refuse what they do not understand (USAGE, exit 2)', async (t) => {
  const cases: Array<[string[], RegExp, RegExp]> = [
    [['watch', 'dev', '--off', '--follow'], /^invalid usage: give --follow or --off, not both$/, /`vsync watch --help`/],
    [['watch', '--follow', '--off', 'dev'], /give --follow or --off, not both/, /`vsync watch --help`/],
    [['watch', '--follow'], /^invalid usage: --follow needs <env>$/, /`vsync watch --help`/],
    [['watch', '--off'], /^invalid usage: --off needs <env>$/, /`vsync watch --help`/],
    [['watch', '--off', '--json'], /--off needs <env>/, /`vsync watch --help`/],
    [['watch', 'dev', '--follow', '--follow'], /--follow given twice/, /`vsync watch --help`/],
    [['watch', 'dev', '--off=yes'], /--off takes no value/, /`vsync watch --help`/],
    [['watch', 'dev', 'prod'], /unexpected argument "prod"/, /`vsync watch --help`/],
    [['watch', 'dev', '--force'], /unknown option "--force" for watch/, /`vsync watch --help`/],
    [['watch', 'dev', '-f'], /unknown option "-f" for watch/, /`vsync watch --help`/],
    [['events', 'dev'], /unexpected argument "dev"/, /`vsync events --help`/],
    [['events', '--follow'], /unknown option "--follow" for events/, /`vsync events --help`/],
    [['events', '--json=1'], /--json takes no value/, /`vsync events --help`/],
  ];
  for (const [argv, message, hint] of cases) t.throws(() => parseArgs(argv), { code: 'USAGE', exit: 2, message, hint }, argv.join(' '));
});

t.test('help for watch and events', async (t) => {
  t.match(helpText('watch'), /^usage: vsync watch <env> \[--follow\]\n {7}vsync watch <env> --off\n {7}vsync watch\n/);
  t.match(helpText('watch'), /\n {2}--follow {5}\S/);
  t.match(helpText('watch'), /\n {2}--off {8}stop watching <env>\n/);
  t.match(helpText('events'), /^usage: vsync events\n/);
  t.match(helpText('events'), /\n {2}--json {7}print each event as the agent sends it/);
  t.match(helpText(), /\n {2}watch \[<env>\] {15}push <env> on every save/);
  t.match(helpText(), /\n {2}events {22}print what the agent does/);
  t.ok(
    helpText().indexOf('\n  use ') < helpText().indexOf('\n  watch ') &&
      helpText().indexOf('\n  status ') < helpText().indexOf('\n  events '),
    'in the list, in order',
  );
});

// ---- lines ----

const ENTRY: WatchEntry = {
  repo: 'acme_web',
  env: 'dev',
  root: '/home/me/acme',
  vaultFolder: 'infra/vault/dev',
  follow: false,
  state: 'idle',
  debounceMs: 500,
  followEverySeconds: 30,
};

t.test('watch <env>, --off, and the list', async (t) => {
  t.equal(watchLine(ENTRY), '👀 watching acme_web/dev: infra/vault/dev/ pushes on save (debounce 500 ms)');
  t.equal(
    watchLine({ ...ENTRY, vaultFolder: 'infra/vault/dev/', follow: true, followEverySeconds: 2.5 }),
    '👀 watching acme_web/dev: infra/vault/dev/ pushes on save (debounce 500 ms) and follows the remote every 2.5 s',
  );
  t.equal(unwatchLine({ repo: 'acme_web', env: 'dev', root: '/home/me/acme', stopped: true }), 'stopped watching acme_web/dev');
  t.equal(unwatchLine({ repo: 'acme_web', env: 'dev', root: '/home/me/acme', stopped: false }), 'acme_web/dev was not being watched');

  t.same(watchListLines({ watches: [] }), ['not watching any vault (start with: vsync watch <env>)']);
  t.same(
    watchListLines({
      watches: [
        ENTRY,
        { ...ENTRY, env: 'prod', vaultFolder: 'infra/vault/prod/', follow: true, state: 'pushing', lastVersion: '20260516-181000' },
        {
          ...ENTRY,
          env: 'qa',
          state: 'conflict',
          code: 'VAULT_CONFLICT',
          message: 'the remote moved since this machine last synced',
          lastVersion: '20260516-170000',
        },
        { ...ENTRY, repo: 'other', root: '/srv/other', follow: true, state: 'waiting', code: 'KEY_LOCKED', message: 'the keys are locked' },
      ],
    }),
    [
      'acme_web/dev  /home/me/acme  infra/vault/dev/  on save  idle',
      'acme_web/prod  /home/me/acme  infra/vault/prod/  on save, follow  pushing  (last 20260516-181000)',
      'acme_web/qa  /home/me/acme  infra/vault/dev/  on save  conflict: the remote moved since this machine last synced  (last 20260516-170000)',
      'other/dev  /srv/other  infra/vault/dev/  on save, follow  waiting: the keys are locked',
    ],
  );
});

const STATUS: StatusResult = {
  version: '0.1.0',
  pid: 4242,
  socket: '/run/user/1000/vsync/vsyncd.sock',
  startedAt: '2026-05-16T18:05:00.000Z',
  uptimeMs: 3_000,
  locked: true,
  unlocked: [],
  vaults: [{ repo: 'acme_web', env: 'dev', last: { operation: 'push', at: '2026-05-16T20:09:30.000Z', ok: true } }],
  watches: [],
};
const NOW = Date.UTC(2026, 4, 16, 20, 10, 0);
const HEAD = ['vsyncd 0.1.0 (pid 4242), up 3s', 'socket: /run/user/1000/vsync/vsyncd.sock', 'keys: locked'];

t.test('status: a watching: section after the vaults, only when something is watched', async (t) => {
  t.same(statusLines(STATUS, NOW), [...HEAD, 'vaults:', '  acme_web/dev: push ok just now'], 'nothing watched: as before watching existed');
  const { watches: _, ...older } = STATUS;
  t.same(statusLines(older as StatusResult, NOW), statusLines(STATUS, NOW), 'an agent that sends no watches');
  const watches: WatchEntry[] = [
    ENTRY,
    { ...ENTRY, env: 'prod', follow: true, state: 'pushing' },
    { ...ENTRY, env: 'qa', state: 'conflict', code: 'VAULT_CONFLICT', message: 'the remote moved since this machine last synced' },
    { ...ENTRY, env: 'stage', follow: true, state: 'conflict' },
    {
      ...ENTRY,
      repo: 'other',
      root: '/srv/other',
      follow: true,
      state: 'failed',
      code: 'STORAGE_TRANSIENT',
      message: 'the store did not answer in time',
    },
  ];
  t.same(statusLines({ ...STATUS, watches }, NOW), [
    ...HEAD,
    'vaults:',
    '  acme_web/dev: push ok just now',
    'watching:',
    '  acme_web/dev (/home/me/acme): idle',
    '  acme_web/prod (/home/me/acme): pushing, follow',
    '  acme_web/qa (/home/me/acme): conflict: the remote moved since this machine last synced — pull --force (edits kept in a backup), or push --force',
    '  acme_web/stage (/home/me/acme): conflict, follow — pull --force (edits kept in a backup), or push --force',
    '  other/dev (/srv/other): failed, follow: the store did not answer in time',
  ]);
  t.same(statusLines({ ...STATUS, vaults: [], watches: [ENTRY] }, NOW), [
    ...HEAD,
    'vaults: none yet',
    'watching:',
    '  acme_web/dev (/home/me/acme): idle',
  ]);
});

// ---- shapes ----

t.test('watch results of another shape are INTERNAL', async (t) => {
  t.same(expectWatchEntry({ ...ENTRY, lastVersion: '20260516-181000', message: 'm', code: 'C' }), {
    ...ENTRY,
    lastVersion: '20260516-181000',
    message: 'm',
    code: 'C',
  });
  t.same(expectWatchList({ watches: [ENTRY] }), { watches: [ENTRY] });
  t.same(expectUnwatch({ repo: 'r', env: 'e', root: '/r', stopped: false }), { repo: 'r', env: 'e', root: '/r', stopped: false });
  t.same(expectStatus(STATUS), STATUS);
  const { watches: _, ...older } = STATUS;
  t.same(expectStatus(older), older, 'status without watches passes: an agent from before watching');

  const { debounceMs: _d, ...noDebounce } = ENTRY;
  const cases: Array<[() => unknown, RegExp]> = [
    [() => expectWatchEntry(noDebounce), /the agent's watch entry has no number debounceMs/],
    [() => expectWatchEntry({ ...ENTRY, follow: 'yes' }), /watch entry has no boolean follow/],
    [() => expectWatchEntry({ ...ENTRY, message: 42 }), /watch entry has message as number, not string/],
    [() => expectWatchEntry({ ...ENTRY, lastVersion: null }), /watch entry has lastVersion as null, not string/],
    [() => expectWatchList({ watches: {} }), /watch list has no array watches/],
    [() => expectWatchList({ watches: [ENTRY, { ...ENTRY, root: undefined }] }), /watch entry has no string root/],
    [() => expectUnwatch({ repo: 'r', env: 'e', root: '/r' }), /unwatch result has no boolean stopped/],
    [() => expectStatus({ ...STATUS, watches: {} }), /the agent's status has watches as object, not array/],
    [() => expectStatus({ ...STATUS, watches: [{ ...ENTRY, state: 1 }] }), /watch entry has no string state/],
  ];
  for (const [check, message] of cases) t.throws(check, { code: 'INTERNAL', message }, String(message));
});

// ---- the built CLI ----

function cli(args: string[], fake: StandInAgent): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [fileURLToPath(built(CLI)), ...args],
      {
        cwd: fake.dir,
        env: childEnv({ HOME: join(fake.dir, 'home'), VSYNC_SOCKET: fake.socket, VSYNC_NO_AUTOSTART: '1' }),
        timeout: PATIENCE_MS,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr }),
    );
  });
}

const reply = (res: ServerResponse, status: number, value: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));

t.test('the built CLI: watch on, off, list; status with watches', async (t) => {
  const fake = await standInAgent(t);
  const following = { ...ENTRY, follow: true };
  fake.handle = (req, _body, res) => {
    const body = fake.seen.at(-1)!.body;
    if (req.method === 'POST' && req.url === '/v1/watch') reply(res, 200, JSON.parse(body).follow ? following : ENTRY);
    else if (req.method === 'POST' && req.url === '/v1/unwatch')
      reply(res, 200, { repo: 'acme_web', env: JSON.parse(body).env, root: '/home/me/acme', stopped: JSON.parse(body).env === 'dev' });
    else if (req.method === 'GET' && req.url === '/v1/watch') reply(res, 200, { watches: [following] });
    else if (req.method === 'GET' && req.url === '/v1/status')
      reply(res, 200, { ...STATUS, watches: [{ ...following, state: 'conflict' }] });
    else reply(res, 404, { error: { code: 'AGENT_BAD_REQUEST', message: `no route ${req.method} ${req.url}`, hint: 'h' } });
  };
  const cwd = fake.dir;

  t.same(await cli(['watch', 'dev'], fake), {
    code: 0,
    stdout: '👀 watching acme_web/dev: infra/vault/dev/ pushes on save (debounce 500 ms)\n',
    stderr: '',
  });
  t.same(fake.seen.at(-1), { method: 'POST', url: '/v1/watch', accept: 'application/json', body: JSON.stringify({ cwd, env: 'dev' }) });

  t.same(await cli(['watch', 'dev', '--follow'], fake), {
    code: 0,
    stdout: '👀 watching acme_web/dev: infra/vault/dev/ pushes on save (debounce 500 ms) and follows the remote every 30 s\n',
    stderr: '',
  });
  t.same(fake.seen.at(-1), {
    method: 'POST',
    url: '/v1/watch',
    accept: 'application/json',
    body: JSON.stringify({ cwd, env: 'dev', follow: true }),
  });
  t.same(await cli(['watch', 'dev', '--follow', '--json'], fake), { code: 0, stdout: `${JSON.stringify(following)}\n`, stderr: '' });

  t.same(await cli(['watch', 'dev', '--off'], fake), { code: 0, stdout: 'stopped watching acme_web/dev\n', stderr: '' });
  t.same(fake.seen.at(-1), { method: 'POST', url: '/v1/unwatch', accept: 'application/json', body: JSON.stringify({ cwd, env: 'dev' }) });
  t.same(await cli(['watch', 'qa', '--off'], fake), { code: 0, stdout: 'acme_web/qa was not being watched\n', stderr: '' });
  t.same(await cli(['watch', 'qa', '--off', '--json'], fake), {
    code: 0,
    stdout: `${JSON.stringify({ repo: 'acme_web', env: 'qa', root: '/home/me/acme', stopped: false })}\n`,
    stderr: '',
  });

  t.same(await cli(['watch'], fake), {
    code: 0,
    stdout: 'acme_web/dev  /home/me/acme  infra/vault/dev/  on save, follow  idle\n',
    stderr: '',
  });
  t.same(fake.seen.at(-1), { method: 'GET', url: '/v1/watch', accept: 'application/json', body: '' });
  t.same(await cli(['watch', '--json'], fake), { code: 0, stdout: `${JSON.stringify({ watches: [following] })}\n`, stderr: '' });

  const status = await cli(['status'], fake);
  t.equal(status.code, 0);
  t.match(
    status.stdout,
    /\nvaults:\n {2}acme_web\/dev: push ok \S+ ago\nwatching:\n {2}acme_web\/dev \(\/home\/me\/acme\): conflict, follow — pull --force \(edits kept in a backup\), or push --force\n$/,
  );

  const usage = await cli(['watch', '--follow'], fake);
  t.same(usage, {
    code: exitCodes.usage,
    stdout: '',
    stderr: 'vsync: error: invalid usage: --follow needs <env>\nvsync: hint: run `vsync watch --help`\n',
  });

  fake.handle = (_req, _body, res) => reply(res, 200, { watches: [{ ...ENTRY, state: undefined }] });
  const wrong = await cli(['watch'], fake);
  t.equal(wrong.code, exitCodes.internal);
  t.match(wrong.stderr, /^vsync: error: an unexpected internal error: the agent's watch entry has no string state\n/);
});
