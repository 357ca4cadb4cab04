// Spans (daemon/trace): what the agent-side breakdown of `npm run bench` and VSYNC_TRACE_FILE are made of. A
// real push and pull on the directory store, each store request through TracedStorage as the agent wires it.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { TracedStorage } from '../../daemon/storage/traced-storage.js';
import { span, spans } from '../../daemon/trace/span.js';
import { traceToFile } from '../../daemon/trace/trace-file.js';
import { pull } from '../../daemon/vault/pull.js';
import { push } from '../../daemon/vault/push.js';
import { openVault } from '../../daemon/vault/vault.js';
import { IN_MEMORY_BYTES } from '../../daemon/vault/version-file.js';
import { workFolder } from '../../shared/paths.js';
import type { TestContext } from '../helpers/tap-types.js';
import { twoMachines } from '../helpers/vault-fixture.js';

interface Line {
  span: string;
  ms: number;
  ok: boolean;
}

const lines = (file: string): Line[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Line)
    : [];

/**
 * Alice writes `files` into her vault folder, pushes, and Bob pulls, on a real directory store with every
 * request traced as the agent wires it; the span names of the push and of the pull, and the trace file.
 */
async function pushThenPull(t: TestContext, files: Record<string, string | Buffer>) {
  const dir = t.testdir();
  const storage = new TracedStorage(new DirStorage(join(dir, 'store')));
  const { a, b, cleanup } = await twoMachines('vsync-trace-', storage);
  t.teardown(cleanup);
  const folder = (await openVault(a.deps, a.ref)).folder;
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(folder, name), bytes);
  const file = join(dir, 'trace');
  const stop = traceToFile(file);
  await push(a.deps, a.ref, {}, a.progress);
  const pushed = lines(file).map((l) => l.span);
  await pull(b.deps, b.ref, {}, b.progress);
  stop();
  const pulled = lines(file)
    .slice(pushed.length)
    .map((l) => l.span);
  return { dir, file, a, b, pushed, pulled };
}

t.test('with nobody listening a span only runs its work', async (t) => {
  t.equal(spans.hasSubscribers, false);
  t.equal(await span('x', async () => 42), 42);
  await t.rejects(
    span('x', async () => {
      throw new Error('boom');
    }),
    { message: 'boom' },
  );
});

t.test('each span is one line when it ends, a failure marked as one; stopping stops', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'trace');
  const stop = traceToFile(file);
  t.equal(await span('first', async () => 'value'), 'value');
  await t.rejects(
    span('second', () => Promise.reject(new Error('refused'))),
    { message: 'refused' },
  );
  stop();
  await span('after', async () => undefined);
  const got = lines(file);
  t.same(
    got.map(({ span, ok }) => ({ span, ok })),
    [
      { span: 'first', ok: true },
      { span: 'second', ok: false },
    ],
  );
  t.ok(
    got.every((l) => typeof l.ms === 'number' && l.ms >= 0),
    'durations in ms',
  );
  t.equal(spans.hasSubscribers, false, 'unsubscribed');
});

t.test('a push and a pull, taken apart: every local step and store request, and nothing of the vault', async (t) => {
  const { dir, file, pushed, pulled } = await pushThenPull(t, { '.env.dev': 'API_TOKEN=s3cr3t-value\n' });
  const all = lines(file);
  for (const name of [
    'vault.open',
    'folder.read',
    'key.unlock',
    'state.read',
    'store.get',
    'store.head',
    'version.write',
    'version.check',
    'store.put-if-absent',
    'state.write',
  ])
    t.ok(pushed.includes(name), `push: ${name}`);
  // A small vault is sealed and opened in memory (version-file.ts IN_MEMORY_BYTES): no work folder either way.
  t.notOk(pushed.includes('work.make') || pushed.includes('work.remove'), 'push: no work folder');
  t.equal(pushed.filter((n) => n === 'store.put-if-absent').length, 2, 'push: the version and, the first time, latest');
  for (const name of ['vault.open', 'state.read', 'store.get', 'store.download', 'version.unzip', 'folder.swap', 'state.write'])
    t.ok(pulled.includes(name), `pull: ${name}`);
  t.notOk(pulled.includes('work.make') || pulled.includes('work.remove'), 'pull: no work folder');
  t.notOk(pulled.includes('backup.write'), 'pull: no backup of a folder that was not there');
  // A first push finds no latest and no version of its name: those two reads are refusals (not found).
  t.same(
    all.filter((l) => !l.ok).map((l) => l.span),
    ['store.get', 'store.head'],
    'what failed: only the reads of what does not exist yet',
  );
  const text = readFileSync(file, 'utf8');
  for (const secret of ['s3cr3t', 'API_TOKEN', '.env.dev', dir, 'vsync/dev'])
    t.notOk(text.includes(secret), `the trace names no ${secret === dir ? 'path' : secret}`);
});

t.test('a vault past IN_MEMORY_BYTES goes through work files both ways, and arrives whole', async (t) => {
  const blob = randomBytes(IN_MEMORY_BYTES + 1024); // incompressible: the object is past the bound too
  const { a, b, pushed, pulled } = await pushThenPull(t, { 'blob.bin': blob });
  t.ok(pushed.includes('work.make') && pushed.includes('work.remove'), 'push: sealed in a work file');
  t.ok(pulled.includes('work.make') && pulled.includes('work.remove'), 'pull: decrypted into a work file');
  t.ok(readFileSync(join((await openVault(b.deps, b.ref)).folder, 'blob.bin')).equals(blob), "Bob has Alice's bytes");
  t.same(readdirSync(workFolder(a.deps.environment)), [], "Alice's work folder is empty again");
  t.same(readdirSync(workFolder(b.deps.environment)), [], "and Bob's");
});
