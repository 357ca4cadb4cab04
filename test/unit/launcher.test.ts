// The `vsync` launcher (client/launcher.ts) runs the bundled CLI from V8's code cache for it: the cache that
// `npm run bundle` writes is one V8 takes, a cache made for another build is never offered (V8 itself would
// run it, as it checks the source's length only), and the CLI works without a cache at all.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import t, { type Test } from 'tap';
import { built, childEnv, CLI } from '../helpers/built.js';

const { BODY, CACHE, BUILD_LINE_BYTES, buildLine } = (await import(
  built('client/code-cache')
)) as typeof import('../../client/code-cache.js');
const distClient = join(fileURLToPath(built(CLI)), '..');

/** A copy of the built launcher, body and cache in a folder of its own, to change without touching dist/. */
function copyOfBuild(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'vsync-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['vsync.cjs', BODY, CACHE]) copyFileSync(join(distClient, name), join(dir, name));
  return dir;
}

function version(dir: string): { stdout: string; status: number | null } {
  const run = spawnSync(process.execPath, [join(dir, 'vsync.cjs'), '--version'], { env: childEnv(), encoding: 'utf8' });
  return { stdout: run.stdout, status: run.status };
}

t.test('the cache the build writes is for the built body, and V8 takes it', async (t) => {
  const source = readFileSync(join(distClient, BODY), 'utf8');
  const cache = readFileSync(join(distClient, CACHE));
  const line = source.slice(-BUILD_LINE_BYTES);
  t.match(line, /^\/\/# vsync-build=[0-9a-f]{64}$/, 'the body ends with its build line');
  t.equal(cache.toString('latin1', 0, BUILD_LINE_BYTES), line, 'the cache starts with the same line');
  const script = new Script(Module.wrap(source), { filename: join(distClient, BODY), cachedData: cache.subarray(BUILD_LINE_BYTES) });
  t.equal(script.cachedDataRejected, false, 'V8 accepts the cached code');
});

t.test('a cache made for another build of the same length is not used', async (t) => {
  const dir = copyOfBuild(t);
  const body = join(dir, BODY);
  const source = readFileSync(body, 'utf8');
  const before = version(dir).stdout;
  t.match(before, /^vsync \d+\.\d+\.\d+\n$/);
  // A rebuild that changes the version string and nothing else: the same length, a new build line, and the
  // old build's cache still beside it. V8 would run the old build's compiled code for it.
  const old = before.trim().slice('vsync '.length);
  const next = old.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
  t.equal(next.length, old.length);
  const text = source.slice(0, -BUILD_LINE_BYTES).replace(`"${old}"`, `"${next}"`);
  t.not(text, source.slice(0, -BUILD_LINE_BYTES), 'the version string is in the body');
  writeFileSync(body, `${text}${buildLine('0'.repeat(64))}`);
  t.same(version(dir), { stdout: `vsync ${next}\n`, status: 0 }, 'the new body runs, not the cached one');
});

t.test('without a cache, or with one V8 refuses, the CLI runs as before', async (t) => {
  const dir = copyOfBuild(t);
  rmSync(join(dir, CACHE));
  const expected = version(distClient);
  t.same(version(dir), expected, 'no cache');
  const cache = readFileSync(join(distClient, CACHE));
  // The right build line with bytes that are not V8's.
  writeFileSync(join(dir, CACHE), Buffer.concat([cache.subarray(0, BUILD_LINE_BYTES), Buffer.alloc(4096, 7)]));
  t.same(version(dir), expected, 'a cache V8 refuses');
});
