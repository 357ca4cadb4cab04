// The agent killed in the middle of a pull of a large vault leaves the folder old or new, whole; SIGTERM
// lets a pull in flight finish; a client finds a crashed agent's stale socket and starts a new agent.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { agentStateFile } from '../../shared/socket-path.js';
import { CLI, built, childEnv } from '../helpers/built.js';
import { call, freshSocket, startAgent } from '../helpers/agent.js';
import { vsync } from '../helpers/cli.js';
import { realComponentAvailable } from '../helpers/real-component.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { waitUntil } from '../helpers/patience.js';

const run = promisify(execFile);
const FILES = 500;
const FILE_BYTES = 96 * 1024; // ~47 MiB in all: long enough to be caught mid-extract

function fill(folder: string, generation: string): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, '.env.dev'), `GENERATION=${generation}\n`);
  for (let i = 0; i < FILES; i++) {
    writeFileSync(
      join(folder, `blob-${String(i).padStart(3, '0')}.bin`),
      Buffer.concat([Buffer.from(`${generation}:`), randomBytes(FILE_BYTES)]),
    );
  }
}

/** Which generation every file in the folder belongs to; 'mixed' or 'incomplete' otherwise. */
function generationOf(folder: string): string {
  const names = readdirSync(folder);
  if (names.length !== FILES + 1) return `incomplete (${names.length} files)`;
  const gens = new Set(names.filter((n) => n.endsWith('.bin')).map((n) => readFileSync(join(folder, n)).subarray(0, 4).toString()));
  const env = /GENERATION=(\w+)/.exec(readFileSync(join(folder, '.env.dev'), 'utf8'))?.[1];
  return gens.size === 1 && [...gens][0] === `${env}:` ? env! : 'mixed';
}

if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) {
  const { base, cleanup } = tempBase('vsync-crash-');
  const repoName = `it_${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    await run('secret-tool', ['clear', 'service', 'tools.vsync', 'username', `${repoName}/dev`]).catch(() => undefined);
    cleanup();
  });
  const home = join(base, 'alice');
  const repo = join(home, 'myrepo');
  const folder = join(repo, 'infra', 'vault', 'dev');
  mkdirSync(repo, { recursive: true });
  await run('git', ['init', '-q', repo]);
  writeFileSync(join(repo, '.vsync'), `repo=${repoName}\n`);
  const socket = freshSocket();
  const env = { HOME: home, VSYNC_SOCKET: socket, VSYNC_NO_AUTOSTART: '1' };
  const cli = (args: string[]) => vsync(args, { cwd: repo, env });

  t.test('SIGKILL during the extract of a large pull: the folder is old or new, whole', async (t) => {
    let agent = await startAgent({ home, socket });
    t.teardown(() => agent.stop('SIGKILL'));
    t.equal((await cli(['init', 'dev'])).code, 0);
    fill(folder, 'new');
    t.equal((await cli(['push', 'dev'])).code, 0, 'the large version is pushed');
    fill(folder, 'old');
    t.equal((await cli(['push', 'dev', '--force'])).code, 0);
    // Back to the large "new" version by name: the pull that gets killed.
    const child = spawn(process.execPath, [fileURLToPath(built(CLI)), 'pull', 'dev', '--force', '--at', (await versionsOf(cli))[1]!], {
      cwd: repo,
      env: childEnv(env),
    });
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('[6/6]')) {
          agent.child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => resolve());
    });
    await new Promise((resolve) => child.on('exit', resolve));
    t.match(out, /\[6\/6\] unzipping/, 'killed during the extract');
    t.match(generationOf(folder), /^(old|new)$/, `the folder is whole right after the kill (${generationOf(folder)})`);

    agent = await startAgent({ home, socket });
    const again = await cli(['pull', 'dev', '--force', '--at', (await versionsOf(cli))[1]!]);
    t.equal(again.code, 0, again.stderr);
    t.equal(generationOf(folder), 'new', 'the next pull completes');
    t.same(readdirSync(join(repo, 'infra', 'vault')).sort(), ['dev'], 'no staging folder left beside it');
  });

  t.test('SIGTERM lets a pull in flight finish', async (t) => {
    // The shutdown bound generous: this is about finishing, and a 47 MiB pull on a busy machine takes a while.
    const agent = await startAgent({ home, socket, env: { VSYNC_SHUTDOWN_SECONDS: '600' } });
    const target = (await versionsOf(cli))[0]!;
    const child = spawn(process.execPath, [fileURLToPath(built(CLI)), 'pull', 'dev', '--force', '--at', target], {
      cwd: repo,
      env: childEnv(env),
    });
    let out = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Once: a second SIGTERM means "stop now", as for any daemon.
      if (!signalled && out.includes('[3/6]')) {
        signalled = true;
        agent.child.kill('SIGTERM');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    t.equal(code, 0, 'the client got its result');
    t.match(out, `✅ pulled ${repoName}/dev version ${target}`);
    t.equal(await agent.exited, 0, 'then the agent exited cleanly');
    t.equal(generationOf(folder), 'old');
  });

  t.test("a crashed agent's stale socket: the client starts a new agent", async (t) => {
    const agent = await startAgent({ home, socket });
    await agent.stop('SIGKILL');
    t.ok(existsSync(socket), 'the stale socket is there');
    const status = await vsync(['status'], { cwd: repo, env: { HOME: home, VSYNC_SOCKET: socket } });
    t.equal(status.code, 0, status.stderr);
    // The new agent writes its state file just after it starts answering.
    await waitUntil(() => existsSync(agentStateFile(socket)), "the new agent's state file");
    const state = JSON.parse(readFileSync(agentStateFile(socket), 'utf8')) as { pid: number };
    t.not(state.pid, agent.child.pid, 'a new agent answers');
    t.match(status.stdout, new RegExp(`pid ${state.pid}`));
    await call(socket, 'POST', '/v1/shutdown', {});
  });

  t.test('with autostart off, no agent is a clear error naming the log', async (t) => {
    const lonely = freshSocket();
    const res = await vsync(['status'], { cwd: repo, env: { HOME: home, VSYNC_SOCKET: lonely, VSYNC_NO_AUTOSTART: '1' } });
    t.equal(res.code, 8);
    t.match(res.stderr, /vsync: error: no vsync agent answers on the socket/);
  });
}

async function versionsOf(cli: (args: string[]) => Promise<{ stdout: string }>): Promise<string[]> {
  return [...(await cli(['versions', 'dev'])).stdout.matchAll(/(\d{8}-\d{6})/g)].map((m) => m[1]!);
}
