// Push on save, one level down from the agent (the rig in test/helpers/watch-rig.ts): a save is one push,
// saves during a push are one more, the agent's own pull is not a change, and the state machine's edges
// (conflict, a passing failure retried with backoff, a lasting one waiting for the next save, unwatch
// mid-push). Every assertion is about which events happened and what the store holds, never about how fast.
import t from 'tap';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silent } from '../../shared/progress.js';
import { within } from '../helpers/patience.js';
import { DEBOUNCE_MS, is, quiet, rig } from '../helpers/watch-rig.js';

t.test('a save is one push on save, announced; watching an untouched folder pushes nothing', async (t) => {
  const r = await rig(t);
  const entry = await r.watch();
  t.match(entry, {
    repo: 'acme_web',
    env: 'dev',
    root: r.root,
    vaultFolder: 'infra/vault/dev',
    follow: false,
    state: 'idle',
    debounceMs: DEBOUNCE_MS,
  });
  t.notOk('lastVersion' in entry);
  await quiet();
  t.same(r.rec.types(), ['watch-started'], 'the empty folder init made is nothing to push');
  t.same(await r.store.versions(), []);

  const from = r.rec.length;
  const opened = r.opens();
  r.save('A=1\n');
  const finished = await r.rec.waitFor(is('push-finished', 'watch'), { from });
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-finished:watch'], 'one push, announced');
  t.equal(r.opens() - opened, 1, 'the config was read once for the check and the push together');
  const versions = await r.store.versions();
  t.equal(versions.length, 1);
  t.match(finished, { repo: 'acme_web', env: 'dev', root: r.root, version: versions[0] });
  t.equal(await r.store.latest(), versions[0]);
  t.match(r.entry(), { state: 'idle', lastVersion: versions[0] });
  t.notOk(r.entry()?.code);
  t.equal(await r.unpushed(), false, 'the folder is as pushed');
  t.equal(await r.teammate().pull(), 'A=1\n', 'the version holds the save');
  r.eventsValid(t);
});

t.test('saves during a running push are exactly one more push, which carries the last save', async (t) => {
  const r = await rig(t);
  await r.watch();
  await quiet();
  const hold = r.store.holdNextUpload();
  const from = r.rec.length;
  r.save('V=1\n');
  await within(hold.reached, 'the first push reaching the upload');
  t.equal(r.entry()?.state, 'pushing');

  // Three saves, each waiting out the debounce, while the first push is stuck in its upload.
  r.save('V=2\n');
  await sleep(DEBOUNCE_MS * 3);
  r.save('V=3\n');
  await sleep(DEBOUNCE_MS * 3);
  r.save('V=4\n');
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch'], 'nothing else starts while a push runs');

  hold.release();
  const second = await r.rec.waitFor(is('push-finished', 'watch'), { from, nth: 2 });
  await quiet();
  t.same(
    r.rec.types(from),
    ['change-seen', 'push-started:watch', 'push-finished:watch', 'change-seen', 'push-started:watch', 'push-finished:watch'],
    'exactly one more push',
  );
  const versions = await r.store.versions();
  t.equal(versions.length, 2);
  t.match(second, { version: versions[1] });
  t.match(r.entry(), { state: 'idle', lastVersion: versions[1] });
  t.equal(await r.unpushed(), false);
  t.equal(await r.teammate().pull(), 'V=4\n', 'the last push holds the last save');
  r.eventsValid(t);
});

t.test("the agent's own pull is not a change: no push after it", async (t) => {
  const r = await rig(t);
  r.save('V=1\n');
  await r.service.push(r.root, 'dev', {}, silent);
  await r.watch();
  const bob = r.teammate();
  t.equal(await bob.pull(), 'V=1\n');
  bob.save('V=2 from bob\n');
  const bobs = await bob.push();
  await quiet();

  const from = r.rec.length;
  const pulled = await r.service.pull(r.root, 'dev', {}, silent);
  t.equal(pulled.version, bobs);
  t.equal(r.read(), 'V=2 from bob\n');
  await quiet();
  t.same(r.rec.types(from), ['pull-started:manual', 'pull-finished:manual'], 'the pull, and no push after it');
  t.equal((await r.store.versions()).length, 2);
  t.equal(await r.store.latest(), bobs);
  t.match(r.entry(), { state: 'idle' });

  const next = r.rec.length;
  r.save('V=3\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from: next });
  t.pass('and the watch still pushes a real save');
  r.eventsValid(t);
});

t.test('VAULT_CONFLICT: state conflict, no more push attempts, until a manual push ends it', async (t) => {
  const r = await rig(t);
  r.save('V=1\n');
  await r.service.push(r.root, 'dev', {}, silent);
  await r.watch();
  const bob = r.teammate();
  await bob.pull();
  bob.save('V=2 from bob\n');
  const bobs = await bob.push();
  await quiet();

  let from = r.rec.length;
  r.save('V=1, edited by alice\n');
  const conflict = await r.rec.waitFor(is('conflict'), { from });
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-failed:watch', 'conflict']);
  const failed = r.rec.events.slice(from).find(is('push-failed'));
  t.match(failed, { code: 'VAULT_CONFLICT', root: r.root });
  t.notOk(failed && 'retryInMs' in failed, 'a conflict is not retried');
  t.match(conflict, { repo: 'acme_web', env: 'dev', root: r.root, code: 'VAULT_CONFLICT', message: /remote latest/ });
  t.match(conflict, { message: `; this folder against ${bobs}: .env.dev (~V)` }, 'what differs, as diff lists it, no value');
  t.match(r.entry(), { state: 'conflict', code: 'VAULT_CONFLICT', message: /remote latest/ });
  t.equal(await r.store.latest(), bobs, "bob's version stays latest");

  // More saves while in conflict: nothing is tried, the store is not even asked.
  await quiet();
  const calls = r.store.calls;
  from = r.rec.length;
  r.save('V=1, edited again\n');
  await quiet();
  r.save('V=1, and again\n');
  await quiet();
  t.same(r.rec.types(from), [], 'no push attempted');
  t.equal(r.store.calls, calls, 'the store untouched');
  t.match(r.entry(), { state: 'conflict', code: 'VAULT_CONFLICT' });

  // A manual push that fails again does not end it.
  from = r.rec.length;
  await t.rejects(r.service.push(r.root, 'dev', {}, silent), { code: 'VAULT_CONFLICT' });
  await quiet();
  t.same(r.rec.types(from), ['push-started:manual', 'push-failed:manual']);
  t.match(r.entry(), { state: 'conflict' });

  // The user forces: that push ends the conflict, and the watch has nothing left to push.
  from = r.rec.length;
  const forced = await r.service.push(r.root, 'dev', { force: true }, silent);
  await quiet();
  t.same(r.rec.types(from), ['push-started:manual', 'push-finished:manual'], 'the watch adds no push of its own');
  t.match(r.entry(), { state: 'idle' });
  t.notOk(r.entry()?.code);
  t.equal(await r.store.latest(), forced.version);

  from = r.rec.length;
  r.save('V=3\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-finished:watch'], 'pushes on save again');
  r.eventsValid(t);
});

t.test('STORAGE_TRANSIENT: state failed, push-failed with retryInMs, retried with backoff until it works', async (t) => {
  const r = await rig(t, { retryBaseMs: 40, retryMaxMs: 2_000 });
  await r.watch();
  await quiet();
  r.store.failNextUploads(2);
  const from = r.rec.length;
  r.save('V=1\n');
  const finished = await r.rec.waitFor(is('push-finished', 'watch'), { from });
  await quiet();
  t.same(
    r.rec.types(from),
    [
      'change-seen',
      'push-started:watch',
      'push-failed:watch',
      'change-seen',
      'push-started:watch',
      'push-failed:watch',
      'change-seen',
      'push-started:watch',
      'push-finished:watch',
    ],
    'two failed tries, then the push',
  );
  const failures = r.rec.events.slice(from).filter(is('push-failed'));
  t.match(
    failures,
    [
      { code: 'STORAGE_TRANSIENT', message: /unreachable/, retryInMs: 40 },
      { code: 'STORAGE_TRANSIENT', message: /unreachable/, retryInMs: 80 },
    ],
    'the retry delay doubles',
  );
  t.equal(r.logs.length, 2, 'each failure logged');
  t.match(
    r.logged,
    [
      { state: 'failed', code: 'STORAGE_TRANSIENT' },
      { state: 'failed', code: 'STORAGE_TRANSIENT' },
    ],
    'the watch was failed between the tries',
  );
  const versions = await r.store.versions();
  t.equal(versions.length, 1, 'one version: nothing half-written by the failed tries');
  t.match(finished, { version: versions[0] });
  t.match(r.entry(), { state: 'idle', lastVersion: versions[0] });
  t.notOk(r.entry()?.code, 'the failure is cleared');

  // The count of failed tries starts over after a success.
  r.store.failNextUploads(1);
  const again = r.rec.length;
  r.save('V=2\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from: again });
  t.match(r.rec.events.slice(again).filter(is('push-failed')), [{ retryInMs: 40 }]);
  r.eventsValid(t);
});

t.test('a failure that is not passing is not retried: it waits for the next save', async (t) => {
  const r = await rig(t);
  await r.watch();
  await quiet();
  // A file no push would take: a symlink in the vault folder.
  const link = join(r.root, 'infra', 'vault', 'dev', 'link');
  symlinkSync('/etc/hostname', link);
  const from = r.rec.length;
  const failed = await r.rec.waitFor(is('push-failed', 'watch'), { from });
  t.match(failed, { code: 'BUNDLE_SOURCE_INVALID' });
  t.notOk('retryInMs' in failed, 'no retry announced');
  await quiet();
  await quiet();
  t.same(r.rec.types(from), ['push-failed:watch'], 'and none made');
  t.match(r.entry(), { state: 'failed', code: 'BUNDLE_SOURCE_INVALID' });
  t.equal(r.logs.length, 1, 'logged');

  rmSync(link);
  r.save('V=1\n');
  await r.rec.waitFor(is('push-finished', 'watch'), { from });
  t.match(r.entry(), { state: 'idle' });
  r.eventsValid(t);
});

t.test('unwatch during a push waits for it, and nothing is pushed or retried after', async (t) => {
  const r = await rig(t);
  await r.watch();
  await quiet();
  const hold = r.store.holdNextUpload();
  r.store.failNextUploads(1); // the held upload then fails, for a reason that is normally retried
  const from = r.rec.length;
  r.save('V=1\n');
  await within(hold.reached, 'the push reaching the upload');
  r.save('V=2\n'); // seen, and settled, while the push runs: normally one more push
  await quiet();

  let unwatched = false;
  const unwatching = r.watches.unwatch(r.root, 'dev').then((result) => {
    unwatched = true;
    return result;
  });
  await quiet();
  t.equal(unwatched, false, 'unwatch waits for the push in flight');
  hold.release();
  t.match(await unwatching, { stopped: true });
  await quiet();
  await quiet();
  t.same(r.rec.types(from), ['change-seen', 'push-started:watch', 'push-failed:watch', 'watch-stopped'], 'no retry, no second push');
  t.same(await r.store.versions(), []);
  t.same(r.watches.list(), []);
  r.eventsValid(t);
});

t.test('a conflict met by a push on save is not reported again by --follow', async (t) => {
  const r = await rig(t, { followEveryMs: 100 });
  r.save('V=1\n');
  await r.service.push(r.root, 'dev', {}, silent);
  const bob = r.teammate();
  await bob.pull();
  await r.watch(true);
  await quiet();
  // Alice's save meets Bob's push from before the next follow period: the push reports the conflict.
  bob.save('V=2 from bob\n');
  const from = r.rec.length;
  const bobs = await bob.push();
  r.save('V=1, edited by alice\n');
  await r.rec.waitFor(is('conflict'), { from });
  await quiet();
  await quiet();
  t.equal(r.rec.types(from).filter((type) => type === 'conflict').length, 1, 'one conflict, whoever met it first');
  t.match(r.entry(), { state: 'conflict' });
  t.equal(await r.store.latest(), bobs);
  t.equal(r.read(), 'V=1, edited by alice\n');
});

t.test('--follow meeting unpushed edits says what differs between them and the remote, values unsaid', async (t) => {
  const r = await rig(t);
  r.save('V=1\nKEEP=k\n');
  await r.service.push(r.root, 'dev', {}, silent);
  const bob = r.teammate();
  await bob.pull();
  bob.save('V=2 from bob\nKEEP=k\n');
  const bobs = await bob.push();
  r.save('V=1\nKEEP=k\nMINE=1\n');
  const outcome = await r.service.follow(r.root, 'dev', () => undefined);
  t.match(outcome, { kind: 'diverged', version: bobs, differs: `; this folder against ${bobs}: .env.dev (+MINE, ~V)` });
  t.notMatch(JSON.stringify(outcome), /from bob/);
});
