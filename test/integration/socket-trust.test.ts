// Whom the client talks to, with a second real user on the machine. That user gets to the socket's folder
// first (the /tmp fallback, /tmp/vsync-<uid>, is the likely place: anyone may create it), or plants a link
// or a socket of its own, and listens there. The real `vsync` must then refuse with AGENT_SOCKET_UNSAFE and
// a hint, send nothing (the listener records every connection: none may come, not for `status`, not for
// `push`, not for `key import` with a passphrase), and start no agent there; the real `vsyncd` must refuse
// to start there. The good path still works.
import t from 'tap';
import { chmodSync, existsSync, lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registry } from '../../shared/errors.js';
import { agentLogFile } from '../../shared/socket-path.js';
import { startAgent } from '../helpers/agent.js';
import { vsync, type CliRun } from '../helpers/cli.js';
import { startEavesdropper, type Eavesdropper } from '../helpers/eavesdropper.js';
import { createOtherUser, otherUserUnavailable } from '../helpers/other-user.js';
import { skipUnless } from '../helpers/real-component.js';
import type { TestContext } from '../helpers/tap-types.js';
import { tempBase } from '../helpers/vault-fixture.js';

const unavailable = otherUserUnavailable();
const skip = skipUnless(unavailable === undefined, unavailable ?? '');
const uid = process.getuid?.() ?? -1;
const UNSAFE = registry.AGENT_SOCKET_UNSAFE;
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Generous: a dozen real processes per case, on a machine that may be busy.
t.test('whom the client talks to', { skip, timeout: 900_000 }, async (t) => {
  const { base, cleanup } = tempBase('vsync-trust-');
  t.teardown(cleanup);
  // The other user must reach its folders under the test's base, as it reaches /tmp.
  chmodSync(base, 0o755);
  const other = createOtherUser();
  t.teardown(() => other.remove());
  const listeners: Eavesdropper[] = [];
  t.teardown(() => Promise.all(listeners.map((l) => l.stop())));

  // A shared temp folder like /tmp (sticky, open to all): the client's fallback when neither VSYNC_SOCKET
  // nor XDG_RUNTIME_DIR is set lies in it.
  const sharedTmp = join(base, 'tmp');
  mkdirSync(sharedTmp);
  chmodSync(sharedTmp, 0o1777);
  const fallback = join(sharedTmp, `vsync-${uid}`);
  const fallbackEnv = { TMPDIR: sharedTmp, VSYNC_SOCKET: '', XDG_RUNTIME_DIR: '' };

  // What the commands need on our side: a folder to run in, a passphrase file, a share file's name.
  const work = join(base, 'work');
  mkdirSync(work);
  writeFileSync(join(work, 'pass.txt'), 'correct horse battery staple\n', { mode: 0o600 });
  const commands: Array<{ what: string; args: string[] }> = [
    { what: 'vsync status', args: ['status'] },
    { what: 'vsync push', args: ['push', 'dev'] },
    { what: 'vsync key import --passphrase-file', args: ['key', 'import', 'team.share', '--passphrase-file', 'pass.txt'] },
  ];

  let homes = 0;
  const freshHome = () => {
    const home = join(base, `home${++homes}`);
    mkdirSync(home);
    return home;
  };

  /** Made as the other user, as that user would make it. */
  const otherMkdir = (path: string, mode: number) => {
    other.run('mkdir', [path]);
    other.run('chmod', [mode.toString(8), path]);
  };

  const refused = (t: TestContext, res: CliRun, detail: RegExp, hint: RegExp, what: string) => {
    t.equal(res.code, UNSAFE.exit, `${what}: exit ${UNSAFE.exit} (${res.stderr.trim()})`);
    t.match(res.stderr, new RegExp(`^vsync: error: ${literally(UNSAFE.message)}: `), `${what}: AGENT_SOCKET_UNSAFE`);
    t.match(res.stderr, detail, `${what}: says what is wrong`);
    t.match(res.stderr, new RegExp(`\\nvsync: hint: .*${hint.source}`), `${what}: the hint says what to do`);
    t.equal(res.stdout, '', `${what}: nothing on stdout`);
  };

  /**
   * Each command against the planted listener: refused, nothing sent; then vsyncd refuses to start there
   * (exit 3, the code), and still nothing reached the listener.
   */
  const everyoneRefuses = async (
    t: TestContext,
    env: Record<string, string>,
    listener: Eavesdropper | undefined,
    detail: RegExp,
    hint: RegExp,
  ) => {
    const home = freshHome();
    for (const { what, args } of commands) {
      const res = await vsync(args, { cwd: work, env: { HOME: home, ...env } });
      refused(t, res, detail, hint, what);
      if (listener) t.same(await listener.heardBeforeSentinel(), [], `${what}: the listener received nothing (no connection, zero bytes)`);
    }
    t.notOk(existsSync(agentLogFile({ HOME: home })), 'no agent was started (it would have written its log)');

    const agent = await startAgent({ home, socket: env.VSYNC_SOCKET ?? '', env, waitReady: false });
    t.teardown(() => agent.stop('SIGKILL'));
    t.equal(await agent.exited, UNSAFE.exit, `vsyncd refuses to start: exit ${UNSAFE.exit}`);
    t.match(agent.output(), new RegExp(`vsyncd: error: ${literally(UNSAFE.message)}: `), 'vsyncd says AGENT_SOCKET_UNSAFE');
    t.match(agent.output(), detail, 'vsyncd says what is wrong');
    if (listener) t.same(await listener.heardBeforeSentinel(), [], 'vsyncd did not even connect to the listener');
  };

  const listen = async (t: TestContext, socket: string) => {
    const listener = await startEavesdropper(other, socket);
    listeners.push(listener);
    t.teardown(() => listener.stop());
    return listener;
  };
  /** The fallback folder (or link) goes with the case that made it: each case starts without one. */
  const clearFallback = (t: TestContext) => t.teardown(() => rmSync(fallback, { recursive: true, force: true }));

  await t.test('the other user made the fallback folder first, 0700, and listens in it', async (t) => {
    clearFallback(t);
    otherMkdir(fallback, 0o700);
    const listener = await listen(t, join(fallback, 'vsyncd.sock'));
    await everyoneRefuses(
      t,
      fallbackEnv,
      listener,
      new RegExp(`${literally(fallback)} belongs to uid ${other.uid}, not to you \\(uid ${uid}\\)`),
      /rm -r .*XDG_RUNTIME_DIR.*VSYNC_SOCKET/,
    );
  });

  await t.test('the other user made the fallback folder first, 0777, and listens in it', async (t) => {
    clearFallback(t);
    otherMkdir(fallback, 0o777);
    const listener = await listen(t, join(fallback, 'vsyncd.sock'));
    await everyoneRefuses(t, fallbackEnv, listener, new RegExp(`${literally(fallback)} belongs to uid ${other.uid}`), /Have it removed/);
  });

  await t.test('the other user made the fallback folder first, 0777 and empty: no agent is started into it', async (t) => {
    clearFallback(t);
    otherMkdir(fallback, 0o777);
    await everyoneRefuses(t, fallbackEnv, undefined, new RegExp(`${literally(fallback)} belongs to uid ${other.uid}`), /Have it removed/);
    t.same(lstatSync(fallback).uid, other.uid, 'the folder is as it was');
    t.notOk(existsSync(join(fallback, 'vsyncd.sock')), 'nobody listens in it');
  });

  await t.test("the fallback folder is a link to the other user's folder", async (t) => {
    const theirs = join(sharedTmp, `theirs-${other.name}`);
    otherMkdir(theirs, 0o700);
    const listener = await listen(t, join(theirs, 'vsyncd.sock'));
    clearFallback(t);
    other.run('ln', ['-s', theirs, fallback]);
    await everyoneRefuses(
      t,
      fallbackEnv,
      listener,
      new RegExp(`${literally(fallback)} is a symbolic link, not a folder`),
      /does not follow a link/,
    );
  });

  await t.test("VSYNC_SOCKET's folder is a link (ours) to the other user's folder", async (t) => {
    const theirs = join(sharedTmp, `theirs2-${other.name}`);
    otherMkdir(theirs, 0o700);
    const listener = await listen(t, join(theirs, 'vsyncd.sock'));
    const mine = join(base, 'mine');
    mkdirSync(mine, { mode: 0o700 });
    symlinkSync(theirs, join(mine, 'link'));
    const env = { VSYNC_SOCKET: join(mine, 'link', 'vsyncd.sock') };
    await everyoneRefuses(t, env, listener, new RegExp(`${literally(join(mine, 'link'))} is a symbolic link`), /does not follow a link/);
  });

  await t.test("our folder, 0700, holds a socket of the other user's (left from when the folder was open)", async (t) => {
    const ours = join(base, 'ours');
    mkdirSync(ours);
    chmodSync(ours, 0o777);
    const socket = join(ours, 'vsyncd.sock');
    const listener = await listen(t, socket);
    chmodSync(ours, 0o700);
    t.equal(lstatSync(socket).uid, other.uid, "the socket is the other user's");
    await everyoneRefuses(
      t,
      { VSYNC_SOCKET: socket },
      listener,
      new RegExp(`${literally(socket)} belongs to uid ${other.uid}, not to you`),
      /rm .*vsyncd\.sock/,
    );
    t.ok(lstatSync(socket).isSocket(), 'the agent did not remove it either');
  });

  await t.test('our folder, mode 0755', async (t) => {
    const loose = join(base, 'loose');
    mkdirSync(loose);
    chmodSync(loose, 0o777);
    const socket = join(loose, 'vsyncd.sock');
    const listener = await listen(t, socket);
    chmodSync(loose, 0o755);
    await everyoneRefuses(
      t,
      { VSYNC_SOCKET: socket },
      listener,
      new RegExp(`${literally(loose)} is yours, but others may reach into it: mode 0755`),
      new RegExp(`chmod 700 ${literally(loose)}`),
    );
  });

  await t.test("the socket path is a link to the other user's socket", async (t) => {
    const theirs = join(sharedTmp, `theirs3-${other.name}`);
    otherMkdir(theirs, 0o755);
    const listener = await listen(t, join(theirs, 'vsyncd.sock'));
    const mine = join(base, 'mine2');
    mkdirSync(mine, { mode: 0o700 });
    const socket = join(mine, 'vsyncd.sock');
    symlinkSync(join(theirs, 'vsyncd.sock'), socket);
    await everyoneRefuses(
      t,
      { VSYNC_SOCKET: socket },
      listener,
      new RegExp(`${literally(socket)} is a symbolic link`),
      /remove .*vsyncd\.sock/,
    );
  });

  await t.test('the good path: no folder yet, vsync makes it ours and the agent answers', async (t) => {
    const home = freshHome();
    const res = await vsync(['status', '--json'], { cwd: work, env: { HOME: home, ...fallbackEnv } });
    const pid = res.code === 0 ? (JSON.parse(res.stdout) as { pid: number }).pid : undefined;
    t.teardown(() => {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    });
    t.equal(res.code, 0, `vsync status answers (${res.stderr.trim()})`);
    t.ok(pid, 'from an agent it started');
    const info = lstatSync(fallback);
    t.ok(info.isDirectory(), 'the fallback folder is a folder');
    t.equal(info.uid, uid, 'ours');
    t.equal(info.mode & 0o777, 0o700, 'mode 0700');
    t.equal(lstatSync(join(fallback, 'vsyncd.sock')).uid, uid, 'the socket is ours');
    const again = await vsync(['push', 'dev'], { cwd: work, env: { HOME: home, ...fallbackEnv } });
    t.notMatch(
      again.stderr,
      /AGENT_SOCKET_UNSAFE|not private/,
      'a command that sends a request reaches the agent (its own answer, not a refusal)',
    );
  });
});
