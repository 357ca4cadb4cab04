// The built CLI writing to a reader that has gone (`| head -1` after its line; here `| true`, gone before
// Node has even started): it stops quietly, exit 0, no trace.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI, built, childEnv } from '../helpers/built.js';

t.test('a closed stdout ends the command quietly', async (t) => {
  const cli = fileURLToPath(built(CLI));
  const run = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${cli}" --help | true`], {
    env: childEnv(),
    encoding: 'utf8',
  });
  t.equal(run.stderr, '', 'no EPIPE trace');
  t.equal(run.status, 0, 'and vsync exits 0');
});
