// A test process that is killed leaves nothing behind (test/helpers/reaper.ts). tap 21 ends a file that ran out
// of time with SIGALRM (after an IPC message that makes the file SIGALRM itself); a developer's Ctrl-C or a CI
// runner's cancel sends SIGINT or SIGTERM. Node dies of those without its 'exit' event, so before the reaper
// handled them, a timed-out file left its temp folders, its socket folders, the agents the CLI autostarted for
// it, and its systemd user manager. Here a real tap test process (clean-run-child.ts) makes all of these, is
// sent SIGALRM (tap's timeout) or SIGTERM, and must end as it would have (tap's own handlers still see the
// signal) with nothing left. (The reaper handles SIGINT and SIGHUP as it does SIGTERM.)
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { built, childEnv, projectRoot } from '../helpers/built.js';
import { PATIENCE_MS, waitUntil } from '../helpers/patience.js';
import { running, tiedToTest } from '../helpers/reaper.js';
import { userManagerUnavailable } from '../helpers/user-manager.js';

const run = promisify(execFile);
const CHILD = join(projectRoot, 'test', 'integration', 'clean-run-child.ts');

interface Made {
  readonly folders: string[];
  readonly pids: Record<string, number>;
}

/** Runs clean-run-child.ts as tap's runner would (no runner here: none of its TAP_* settings), until it says what it made. */
async function child(): Promise<{ made: Made; pid: number; ended: Promise<NodeJS.Signals | number | null>; output: () => string }> {
  built('daemon/main'); // throws with a clear message when not built
  const env = Object.fromEntries(Object.entries(childEnv()).filter(([k]) => k !== 'TAP' && !k.startsWith('TAP_')));
  const [command, args] = tiedToTest(process.execPath, ['--import=tsx', CHILD]);
  const proc = spawn(command, args, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const ended = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
  const made = await new Promise<Made>((resolve, reject) => {
    let err = '';
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const line = /^made (.*)$/m.exec(err);
      if (line) resolve(JSON.parse(line[1]!) as Made);
    });
    void ended.then((how) => reject(new Error(`the child ended (${how}) before it made anything:\n${out}\n${err}`)));
    setTimeout(() => reject(new Error(`the child made nothing within ${PATIENCE_MS} ms:\n${out}\n${err}`)), PATIENCE_MS).unref();
  });
  return { made, pid: proc.pid!, ended, output: () => out };
}

// Side by side: each child takes a few seconds to make its things. (SIGINT and SIGHUP take SIGTERM's path.)
t.jobs = 2;
for (const signal of ['SIGALRM', 'SIGTERM'] as const) {
  t.test(`killed by ${signal}: no temp folder, no agent, no user manager left`, async (t) => {
    const { made, pid, ended, output } = await child();
    const kinds = ['agent', 'autostarted', ...(userManagerUnavailable() === undefined ? ['manager'] : [])];
    t.same(Object.keys(made.pids).sort(), kinds.sort(), 'the child started its processes');
    for (const [what, p] of Object.entries(made.pids)) t.ok(running(p), `the ${what} runs (pid ${p})`);
    for (const folder of made.folders) t.ok(existsSync(folder), `${folder} exists`);

    process.kill(pid, signal);
    const how = await ended;
    if (signal === 'SIGALRM') {
      // tap's handler fails the test for the timeout, then SIGALRMs the process again; with nothing left to keep
      // it alive it may end on its own first, failed (exit 1). Either way tap's runner sees a failed file.
      t.match(output(), /timeout/, "tap's own handler still reported the timeout");
      t.ok(how === 'SIGALRM' || how === 1, `the child died of SIGALRM or ended failed (${how})`);
    } else {
      t.equal(how, signal, `the child died of ${signal}, as it would have without the reaper`);
    }

    for (const folder of made.folders) t.notOk(existsSync(folder), `${folder} is gone`);
    // The user manager may still be stopping its units; the others are gone at once.
    const pids = Object.entries(made.pids);
    await waitUntil(() => pids.every(([, p]) => !running(p)), 'the processes gone').catch(() => undefined);
    for (const [what, p] of pids) t.notOk(running(p), `the ${what} (pid ${p}) is gone`);
  });
}

// The reaper kills what was registered, never a process that has its pid now: a run starts more processes than
// pid_max (32768 on CI's machines), so pids come round again within one run. In a pid namespace of its own, the
// child has the kernel hand a registered (and ended) process's pid to a new one, then exits: the new one lives on.
const reuseUnavailable =
  process.getuid?.() !== 0 ? 'needs root (a pid namespace, ns_last_pid)' : !existsSync('/usr/bin/unshare') ? 'needs unshare' : undefined;
t.test('a pid the kernel has given to another process since is not killed', { skip: reuseUnavailable }, async (t) => {
  const script = [
    'out=$("$@") || exit 1',
    'echo "$out"',
    `pid=$(printf %s "$out" | sed -n 's/.*"reused":\\([0-9]*\\).*/\\1/p')`,
    '[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "still running: $pid"',
    'exit 0',
  ].join('\n');
  const [command, args] = tiedToTest('unshare', [
    '--pid',
    '--fork',
    '--mount-proc',
    '/bin/sh',
    '-c',
    script,
    'sh',
    process.execPath,
    '--import=tsx',
    join(projectRoot, 'test', 'integration', 'clean-run-reuse-child.ts'),
  ]);
  const { stdout } = await run(command, args, { cwd: projectRoot, encoding: 'utf8', timeout: PATIENCE_MS });
  const pids = JSON.parse(/^pids (.*)$/m.exec(stdout)?.[1] ?? 'null') as { registered: number; reused?: number } | null;
  t.ok(
    pids?.reused !== undefined && pids.reused === pids.registered,
    `the kernel gave the registered pid to another process (${stdout.trim()})`,
  );
  t.match(stdout, /^still running: \d+$/m, 'after the reaper ran, that process still runs');
});
