// Push on save and --follow with the real programs: agents on real sockets watching real folders, the
// real `vsync` as a child process, two teammates (two HOMEs) sharing one store, and each agent's event
// stream followed the way an editor would. Run on the directory store and on Ceph RGW.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentEvent } from '../../shared/events.js';
import { startAgent } from '../helpers/agent.js';
import { followEvents, isType, type EventFollower } from '../helpers/event-follower.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import type { TestContext } from '../helpers/tap-types.js';
import { shareConfig, teamStore, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { waitUntil } from '../helpers/patience.js';

type Store = 'dir' | 's3';
const DEBOUNCE_MS = 150;
const SETTINGS = { VSYNC_WATCH_DEBOUNCE_MS: String(DEBOUNCE_MS), VSYNC_FOLLOW_SECONDS: '0.5', VSYNC_RETRY_SECONDS: '0.3' };
/** Long enough for a push on save that was going to happen to have started. */
const quiet = () => sleep(DEBOUNCE_MS * 4 + 800);

interface Team {
  readonly repoName: string;
  readonly agentEnv: Record<string, string>;
  readonly a: User;
  readonly b: User;
  readonly aEvents: EventFollower;
  versions(): Promise<string[]>;
  latest(): Promise<string>;
}

async function team(t: TestContext, store: Store): Promise<Team> {
  const { base, cleanup } = tempBase(`vsync-watch-${store}-`);
  const repoName = `w_${randomBytes(4).toString('hex')}`;
  const agentEnv = { ...SETTINGS, VSYNC_KEY: randomBytes(32).toString('base64') };
  const a = await user(base, 'alice', repoName, agentEnv);
  const b = await user(base, 'bob', repoName, agentEnv);
  const { initArgs, remote } = await teamStore(t, store, a.home, 'vsync-watch');
  const init = await a.cli(initArgs);
  t.equal(init.code, 0, init.stderr);
  shareConfig(a, b, repoName);
  const aEvents = await followEvents(a.agent.socket);
  t.teardown(async () => {
    aEvents.close();
    await a.agent.stop();
    await b.agent.stop();
    cleanup();
  });
  return {
    repoName,
    agentEnv,
    a,
    b,
    aEvents,
    versions: async () => (await remote.list(`${repoName}/dev/versions/`)).map((o) => o.key),
    latest: async () => (await remote.get(`${repoName}/dev/latest`)).body.toString().trim(),
  };
}

const vaultEvent = (e: AgentEvent) => e.type !== 'locked';

async function ok(t: TestContext, run: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await run;
  t.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function suite(store: Store): void {
  const label = store === 'dir' ? 'directory store' : 'Ceph RGW';

  t.test(`a save is exactly one new version with the new content; editors' scratch files are not saves (${label})`, async (t) => {
    const { a, b, aEvents, versions } = await team(t, store);
    t.match(await ok(t, a.cli(['watch', 'dev'])), /^👀 watching \S+\/dev: infra\/vault\/dev\/ pushes on save \(debounce 150 ms\)$/m);
    t.match(aEvents.events.at(-1), { type: 'watch-started', env: 'dev', root: a.repo, follow: false });
    const from = aEvents.events.length;
    const saved = performance.now();
    writeFileSync(a.envFile(), 'API_KEY=first-save\n');
    const finished = await aEvents.waitFor(isType('push-finished', 'watch'), { from });
    t.comment(`save to version: ${(performance.now() - saved).toFixed(0)} ms (debounce ${DEBOUNCE_MS} ms; bench/ measures it properly)`);
    await quiet();
    t.same(aEvents.types(from, vaultEvent), ['change-seen', 'push-started', 'push-finished'], 'one push, announced');
    t.equal((await versions()).length, 1, 'exactly one version');
    await ok(t, b.cli(['pull', 'dev']));
    t.equal(readFileSync(b.envFile(), 'utf8'), 'API_KEY=first-save\n', 'holding the saved content');
    t.match(finished, { version: /^\d{8}-\d{6}$/ });

    const scratch = aEvents.events.length;
    writeFileSync(`${a.envFile()}.swp`, 'vim swap');
    writeFileSync(`${a.envFile()}~`, 'backup copy');
    writeFileSync(join(a.repo, 'infra', 'vault', 'dev', '4913'), '');
    await quiet();
    t.same(aEvents.types(scratch), [], 'no push for scratch files');
    t.equal((await versions()).length, 1);
  });

  t.test(`50 saves in a burst are at most two versions, the last one holding the last save (${label})`, async (t) => {
    const { a, b, aEvents, versions } = await team(t, store);
    await ok(t, a.cli(['watch', 'dev']));
    const from = aEvents.events.length;
    for (let i = 1; i <= 50; i++) writeFileSync(a.envFile(), `SAVE=${i}\n`);
    await aEvents.waitFor(isType('push-finished', 'watch'), { from });
    await quiet();
    const pushes = aEvents.types(from).filter((type) => type === 'push-finished').length;
    t.ok(pushes >= 1 && pushes <= 2, `${pushes} push(es)`);
    t.equal((await versions()).length, pushes, 'one version per push');
    await ok(t, b.cli(['pull', 'dev']));
    t.equal(readFileSync(b.envFile(), 'utf8'), 'SAVE=50\n');
  });

  t.test(`a pull, by hand or by --follow, never causes a push (${label})`, async (t) => {
    const { a, b, aEvents, versions, latest } = await team(t, store);
    writeFileSync(a.envFile(), 'V=1\n');
    await ok(t, a.cli(['push', 'dev']));
    await ok(t, a.cli(['watch', 'dev']));
    await ok(t, b.cli(['pull', 'dev']));
    writeFileSync(b.envFile(), 'V=2 from bob\n');
    await ok(t, b.cli(['push', 'dev']));
    const bobs = await latest();
    const from = aEvents.events.length;
    await ok(t, a.cli(['pull', 'dev']));
    t.equal(readFileSync(a.envFile(), 'utf8'), 'V=2 from bob\n');
    await quiet();
    t.same(aEvents.types(from, vaultEvent), ['pull-started', 'pull-finished'], 'the pull, and no push after it');
    t.equal(await latest(), bobs);
    t.equal((await versions()).length, 2);
  });

  t.test(`a conflict is reported, nothing is overwritten, and push --force ends it (${label})`, async (t) => {
    const { a, b, aEvents, latest } = await team(t, store);
    writeFileSync(a.envFile(), 'V=1\n');
    await ok(t, a.cli(['push', 'dev']));
    await ok(t, b.cli(['pull', 'dev']));
    await ok(t, a.cli(['watch', 'dev']));
    writeFileSync(b.envFile(), 'V=2 from bob\n');
    await ok(t, b.cli(['push', 'dev']));
    const bobs = await latest();

    const from = aEvents.events.length;
    writeFileSync(a.envFile(), 'V=2 from alice\n');
    const conflict = await aEvents.waitFor(isType('conflict'), { from });
    t.match(conflict, { code: 'VAULT_CONFLICT', message: new RegExp(`the remote latest is ${bobs}`) });
    t.match(conflict, { message: `; this folder against ${bobs}: .env.dev (~V)` }, 'what differs, no value');
    t.same(aEvents.types(from, vaultEvent), ['change-seen', 'push-started', 'push-failed', 'conflict']);
    t.equal(await latest(), bobs, "bob's version is still latest");
    t.equal(readFileSync(a.envFile(), 'utf8'), 'V=2 from alice\n', "alice's edit is still in her folder");
    t.match(await ok(t, a.cli(['status'])), /conflict.* — pull --force \(edits kept in a backup\), or push --force/);

    writeFileSync(a.envFile(), 'V=3 from alice\n');
    await quiet();
    t.equal(aEvents.types(from).filter((type) => type === 'push-started').length, 1, 'no more pushes while in conflict');

    await ok(t, a.cli(['push', 'dev', '--force']));
    await quiet();
    t.match(await ok(t, a.cli(['watch'])), /\bidle\b/, 'the conflict is over');
    t.not(await latest(), bobs);
  });

  t.test(`--follow pulls a teammate's push, and reports one it cannot take (${label})`, async (t) => {
    const { a, b, aEvents, latest } = await team(t, store);
    writeFileSync(a.envFile(), 'V=1\n');
    await ok(t, a.cli(['push', 'dev']));
    await ok(t, b.cli(['pull', 'dev']));
    t.match(await ok(t, a.cli(['watch', 'dev', '--follow'])), /and follows the remote every 0\.5 s$/m);

    const from = aEvents.events.length;
    writeFileSync(b.envFile(), 'V=2 from bob\n');
    await ok(t, b.cli(['push', 'dev']));
    const bobs = await latest();
    const pulled = await aEvents.waitFor(isType('pull-finished', 'follow'), { from });
    t.match(pulled, { version: bobs });
    t.equal(readFileSync(a.envFile(), 'utf8'), 'V=2 from bob\n', "bob's change is in alice's folder");
    await quiet();
    t.same(aEvents.types(from, vaultEvent), ['remote-moved', 'pull-started', 'pull-finished'], 'and it was not pushed back');
    t.equal(await latest(), bobs);

    // Alice edits after Bob pushed, before she has his version: a conflict, and neither side is lost. Following
    // is paused meanwhile, or it could pull Bob's version first and make her edit a plain push on top of it.
    await ok(t, a.cli(['watch', 'dev']));
    const next = aEvents.events.length;
    writeFileSync(b.envFile(), 'V=3 from bob\n');
    await ok(t, b.cli(['push', 'dev']));
    const bobsNext = await latest();
    writeFileSync(a.envFile(), 'V=3 from alice\n');
    await aEvents.waitFor(isType('conflict'), { from: next });
    await ok(t, a.cli(['watch', 'dev', '--follow']));
    await quiet();
    t.equal(await latest(), bobsNext);
    t.equal(readFileSync(a.envFile(), 'utf8'), 'V=3 from alice\n');
    t.equal(aEvents.types(next, vaultEvent).filter((type) => type === 'conflict').length, 1, 'said once, also once following again');
  });

  t.test(`watching survives an agent restart, and edits made while it was down are pushed (${label})`, async (t) => {
    const { a, aEvents, latest, agentEnv } = await team(t, store);
    writeFileSync(a.envFile(), 'V=1\n');
    await ok(t, a.cli(['push', 'dev']));
    await ok(t, a.cli(['watch', 'dev', '--follow']));
    const before = await latest();
    aEvents.close();
    t.equal(await a.agent.stop(), 0, 'stopped cleanly');
    writeFileSync(a.envFile(), 'V=2 while the agent was down\n');
    a.agent = await startAgent({ home: a.home, socket: a.agent.socket, env: agentEnv });
    t.match(await ok(t, a.cli(['watch'])), /infra\/vault\/dev\/ {2}on save, follow/, 'still watched, still following');
    await waitUntil(async () => (await latest()) !== before, 'the edit made while the agent was down, pushed');
    t.not(await latest(), before, 'the edit made while it was down was pushed');
  });
}

if (realComponentAvailable(t, 'VSYNC_TEST_S3_ENDPOINT', 'Ceph RGW')) suite('s3');
suite('dir');
