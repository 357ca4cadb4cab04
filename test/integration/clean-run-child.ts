// The test process that test/integration/clean-run.test.ts kills: a tap test that makes what tests make (a
// temp folder, socket folders, a real agent it spawned, an agent the real CLI autostarted, and a systemd user
// manager where one can run), says what it made on stderr as one `made {json}` line, then hangs until a
// signal ends it, as a test that runs out of time does.
import t from 'tap';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { agentStateFile } from '../../shared/socket-path.js';
import { freshSocket, startAgent } from '../helpers/agent.js';
import { vsync } from '../helpers/cli.js';
import { startUserManager, userManagerUnavailable } from '../helpers/user-manager.js';
import { tempBase } from '../helpers/vault-fixture.js';

t.test('makes things, then hangs', async () => {
  const { base } = tempBase('vsync-clean-run-');
  const folders = [base];
  const pids: Record<string, number> = {};

  const socket = freshSocket();
  folders.push(dirname(socket));
  pids.agent = (await startAgent({ home: join(base, 'a'), socket })).child.pid!;

  // Detached, not this process's child: only the reaper's note of it ends it with the test.
  const autostarted = freshSocket();
  folders.push(dirname(autostarted));
  const started = await vsync(['daemon', 'start'], { cwd: base, env: { HOME: join(base, 'b'), VSYNC_SOCKET: autostarted } });
  if (started.code !== 0) throw new Error(`vsync daemon start: ${started.code}\n${started.stderr}`);
  pids.autostarted = (JSON.parse(readFileSync(agentStateFile(autostarted), 'utf8')) as { pid: number }).pid;

  if (userManagerUnavailable() === undefined) {
    const [home, runtime] = [join(base, 'm'), join(base, 'r')];
    mkdirSync(home);
    mkdirSync(runtime, { mode: 0o700 });
    pids.manager = (await startUserManager(home, runtime)).pid!;
  }

  process.stderr.write(`made ${JSON.stringify({ folders, pids })}\n`);
  await new Promise(() => undefined);
});
