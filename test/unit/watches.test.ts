// The agent's set of watched vaults (Watches), over the same rig as the push-on-save tests: the list file
// restored at start (dormant entries kept, gone checkouts dropped), one watcher per checkout however it is
// named or raced, watching again only changing follow, and close leaving no watcher behind.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readWatchList, writeWatchList } from '../../daemon/watch/watch-list.js';
import { caught } from '../helpers/caught.js';
import { is, quiet, rig } from '../helpers/watch-rig.js';

t.test('watching an env never set up: CONFIG_NOT_FOUND, nothing watched, nothing written', async (t) => {
  const r = await rig(t);
  const err = await caught(r.watches.watch(r.root, 'staging', false));
  t.match(err, { code: 'CONFIG_NOT_FOUND', message: /env_staging/ });
  t.same(r.watches.list(), []);
  t.notOk(existsSync(r.listFile), 'no list file');
  t.same(r.rec.types(), []);

  await r.watch();
  await caught(r.watches.watch(r.root, 'staging', true));
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: false }], 'a failed watch adds nothing to the file');
  t.same(
    r.watches.list().map((w) => w.env),
    ['dev'],
  );
});

t.test('restore: what cannot start stays in the file, dormant; unwatching it stops it', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [
    { root: r.root, env: 'staging', follow: true },
    { root: r.root, env: 'dev', follow: false },
  ]);
  const restored = r.moreWatches();
  await restored.restore();
  t.same(
    restored.list().map((w) => [w.env, w.follow, w.state]),
    [['dev', false, 'idle']],
    'dev runs',
  );
  t.equal(r.logs.length, 1);
  t.match(r.logs[0], /staging/);
  t.same(
    await readWatchList(r.listFile),
    [
      { root: r.root, env: 'staging', follow: true },
      { root: r.root, env: 'dev', follow: false },
    ],
    'the file is untouched',
  );

  // Restored, it pushes on save.
  const from = r.rec.length;
  r.save('V=1\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });

  const stopped = await restored.unwatch(r.root, 'staging');
  t.same(stopped, { repo: 'acme_web', env: 'staging', root: r.root, stopped: true });
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: false }], 'gone from the file');
  t.same(
    await restored.unwatch(r.root, 'staging'),
    { repo: 'acme_web', env: 'staging', root: r.root, stopped: false },
    'a second time: nothing to stop',
  );
  t.same(
    restored.list().map((w) => w.env),
    ['dev'],
  );

  const before = r.rec.length;
  t.same(await restored.unwatch(r.root, 'dev'), { repo: 'acme_web', env: 'dev', root: r.root, stopped: true });
  t.same(r.rec.types(before), ['watch-stopped']);
  t.same(await readWatchList(r.listFile), []);
  t.same(restored.list(), []);
  r.save('V=2\n');
  await quiet();
  t.same(r.rec.types(before), ['watch-stopped'], 'no push once unwatched');
  r.eventsValid(t);
});

t.test('a watch asked for while restore is starting the same vault: one watcher, which unwatch stops', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [{ root: r.root, env: 'dev', follow: false }]);
  // git answering slowly widens the window in which both could start a watcher.
  const locate = r.service.locate.bind(r.service);
  r.service.locate = async (cwd, env) => {
    await sleep(50);
    return locate(cwd, env);
  };
  const restored = r.moreWatches();
  await Promise.all([restored.restore(), restored.watch(r.root, 'dev', true)]);
  t.same(
    restored.list().map((w) => [w.env, w.follow]),
    [['dev', true]],
  );
  t.same(await restored.unwatch(r.root, 'dev'), { repo: 'acme_web', env: 'dev', root: r.root, stopped: true });
  const from = r.rec.length;
  r.save('V=1\n');
  await quiet();
  await quiet();
  t.same(r.rec.types(from), [], 'no watcher left behind to push');
  t.same(await r.store.versions(), []);
});

t.test('a dormant entry stays in the file when another watch is turned on or off', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [{ root: r.root, env: 'staging', follow: false }]);
  const restored = r.moreWatches();
  await restored.restore();
  t.same(restored.list(), []);
  await restored.watch(r.root, 'dev', true);
  t.same(await readWatchList(r.listFile), [
    { root: r.root, env: 'dev', follow: true },
    { root: r.root, env: 'staging', follow: false },
  ]);
  await restored.unwatch(r.root, 'dev');
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'staging', follow: false }]);
});

t.test('watching again with another follow only changes follow', async (t) => {
  const r = await rig(t);
  t.match(await r.watch(false), { follow: false });
  t.match(await r.watch(true), { follow: true, state: 'idle' });
  t.same(r.rec.types(), ['watch-started'], 'started once');
  t.same(
    r.watches.list().map((w) => [w.env, w.follow]),
    [['dev', true]],
  );
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: true }]);
  t.match(await r.watch(false), { follow: false });
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: false }]);
  t.same(r.rec.types(), ['watch-started']);
  t.match(r.rec.events[0], { type: 'watch-started', repo: 'acme_web', env: 'dev', root: r.root, follow: false });

  // From a folder inside the checkout, it is the same watch.
  t.match(await r.watches.watch(join(r.root, 'infra'), 'dev', true), { root: r.root, follow: true });
  t.equal(r.watches.list().length, 1);

  // Still one watcher: one save, one push.
  const from = r.rec.length;
  r.save('V=1\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-finished:watch']);
  r.eventsValid(t);
});

t.test('two list entries naming one checkout are one watcher, which unwatch stops', async (t) => {
  const r = await rig(t);
  await writeWatchList(r.listFile, [
    { root: r.root, env: 'dev', follow: false },
    { root: `${r.root}/`, env: 'dev', follow: false },
  ]);
  const restored = r.moreWatches();
  await restored.restore();
  t.equal(restored.list().length, 1);
  t.same(await restored.unwatch(r.root, 'dev'), { repo: 'acme_web', env: 'dev', root: r.root, stopped: true });
  const from = r.rec.length;
  r.save('V=1\n');
  await quiet();
  t.same(r.rec.types(from), [], 'no second watcher left behind to push');
  t.same(await readWatchList(r.listFile), []);
});

t.test('a checkout that is gone leaves the list at restore, with a line in the log', async (t) => {
  const r = await rig(t);
  const gone = join(r.base, 'deleted-checkout');
  await writeWatchList(r.listFile, [
    { root: gone, env: 'dev', follow: true },
    { root: r.root, env: 'dev', follow: false },
  ]);
  const restored = r.moreWatches();
  await restored.restore();
  t.same(
    restored.list().map((w) => w.root),
    [r.root],
  );
  t.match(r.logs.join('\n'), new RegExp(`no longer watching dev in ${gone}: the folder is gone`));
  await restored.watch(r.root, 'dev', true);
  t.same(await readWatchList(r.listFile), [{ root: r.root, env: 'dev', follow: true }], 'and is not written back');
});

t.test('close refuses a watch that has not started yet and any later one: no watcher outlives it', async (t) => {
  const r = await rig(t);
  const watching = r.watches.watch(r.root, 'dev', false);
  await r.watches.close();
  await t.rejects(watching, { code: 'AGENT_SHUTTING_DOWN' }, 'asked for just before close');
  t.same(r.watches.list(), []);
  await t.rejects(r.watches.watch(r.root, 'dev', false), { code: 'AGENT_SHUTTING_DOWN' });
  const from = r.rec.length;
  r.save('V=1\n');
  await quiet();
  t.same(r.rec.types(from), [], 'nothing pushes after close');
});
