// The real agent gives back what an operation left in its heap (daemon/memory): after a push through the
// real CLI, once the agent has been quiet for a while, its trace shows a full collection after the operation,
// and never one without an operation since the last (a status poll is a request, not an operation).
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../helpers/patience.js';
import { user } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';

t.test('after a push, the idle agent runs one full collection', async (t) => {
  const { base, cleanup } = tempBase('vsync-memory-');
  const trace = join(base, 'trace.jsonl');
  const a = await user(base, 'alice', `mem_${randomBytes(4).toString('hex')}`, {
    VSYNC_KEY: randomBytes(32).toString('base64'),
    VSYNC_TRACE_FILE: trace,
  });
  t.teardown(async () => {
    await a.agent.stop();
    cleanup();
  });
  const spans = (): string[] =>
    existsSync(trace)
      ? readFileSync(trace, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => (JSON.parse(l) as { span: string }).span)
      : [];
  t.equal((await a.cli(['init', 'dev'])).code, 0);
  writeFileSync(a.envFile(), 'TOKEN=one\n');
  t.equal((await a.cli(['push', 'dev'])).code, 0);
  const collectedAfterLastPush = (): boolean => {
    const seen = spans();
    return seen.lastIndexOf('memory.collect') > seen.lastIndexOf('operation.push');
  };
  await waitUntil(collectedAfterLastPush, 'a collection after the push');
  t.equal((await a.cli(['status'])).code, 0);
  writeFileSync(a.envFile(), 'TOKEN=two\n');
  t.equal((await a.cli(['push', 'dev'])).code, 0, 'a second push');
  await waitUntil(collectedAfterLastPush, 'a collection after the second push');
  // Never a collection without an operation since the one before: status, a request but no operation, arms none.
  let sinceLast: string[] = [];
  for (const name of spans()) {
    if (name === 'memory.collect') {
      t.ok(
        sinceLast.some((s) => s.startsWith('operation.')),
        `an operation before each collection (${sinceLast.join(', ')})`,
      );
      sinceLast = [];
    } else sinceLast.push(name);
  }
});
