// Several commands at the same moment and no agent running (a script, an editor and a shell at log-in):
// each starts an agent, the agents settle it among themselves, and every command gets its answer from the
// one that won. With the CPU kept busy meanwhile (stress-ng), so that starting takes as long as it does on
// a loaded machine, not as on a quiet one.
import t from 'tap';
import { AGENT_ENVIRONMENT } from '../../shared/agent-environment.js';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentStateFile } from '../../shared/socket-path.js';
import { freshSocket } from '../helpers/agent.js';
import { vsync } from '../helpers/cli.js';
import { skipUnless } from '../helpers/real-component.js';
import { tempBase } from '../helpers/vault-fixture.js';

const COMMANDS = 8;
const hasStress = spawnSync('stress-ng', ['--version']).status === 0;

t.test(
  `${COMMANDS} commands at once, no agent, a busy CPU: one agent answers them all`,
  { skip: skipUnless(hasStress, 'stress-ng is missing (apt-get install stress-ng)'), timeout: 300_000 },
  async (t) => {
    // Under CI skipUnless does not skip: a missing hog is a clear failure, not a crash on spawn's error.
    if (!hasStress) return void t.fail('stress-ng is missing (apt-get install stress-ng)');
    const { base, cleanup } = tempBase('vsync-race-');
    t.teardown(cleanup);
    const hog = spawn('stress-ng', ['--cpu', '2', '--timeout', '60s'], { stdio: 'ignore' });
    t.teardown(() => {
      if (hog.exitCode === null && hog.signalCode === null && hog.pid !== undefined) process.kill(hog.pid, 'SIGKILL');
    });
    const socket = freshSocket();
    const env = { HOME: join(base, 'home'), VSYNC_SOCKET: socket };
    const pids = new Set<number>();
    t.teardown(() => {
      // Also the agent the state file names: found even when a command failed and named none.
      try {
        pids.add((JSON.parse(readFileSync(agentStateFile(socket), 'utf8')) as { pid: number }).pid);
      } catch {
        // none announced itself
      }
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    });

    const runs = await Promise.all(
      Array.from({ length: COMMANDS }, () => vsync(['status', '--json'], { cwd: base, env, timeoutMs: 120_000 })),
    );
    for (const [i, run] of runs.entries()) {
      t.equal(run.code, 0, `command ${i + 1}: exit 0 (${run.stderr.trim()})`);
      if (run.code === 0) pids.add((JSON.parse(run.stdout) as { pid: number }).pid);
    }
    const state = JSON.parse(readFileSync(agentStateFile(socket), 'utf8')) as { pid: number };
    pids.add(state.pid);
    t.equal(pids.size, 1, `one agent answered every command, the one the state file names (pids: ${[...pids].join(', ')})`);
    // The agents that lost exit as soon as they find the winner's lock; one whose client was answered by the
    // winner may still be loading when its client is done, so wait for them to go (60 s: a hang guard).
    const serving = () =>
      spawnSync('pgrep', ['-f', 'daemon/main.js'], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((line) => line !== '')
        .map(Number)
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`VSYNC_SOCKET=${socket}`);
          } catch {
            return false; // exited meanwhile
          }
        });
    const deadline = Date.now() + 60_000;
    while (serving().length > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    t.same(serving(), [state.pid], 'one vsyncd process runs for this socket, the one that answered');
    const environment = readFileSync(`/proc/${state.pid}/environ`, 'utf8').split('\0');
    for (const [name, value] of Object.entries(AGENT_ENVIRONMENT))
      t.ok(environment.includes(`${name}=${value}`), `the client started it with ${name}=${value} (shared/agent-environment.ts)`);
  },
);
