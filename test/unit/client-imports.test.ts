// What each program loads when it starts. The client must start in about Node's own time, so what it loads at
// run time is held to Node's own modules and the zod-free part of shared/: zod alone costs ~70 ms. `import
// type` is free (erased by tsc), so shared/api.ts and shared/progress.ts may be named for their types only.
// The agent loads the packages only some work needs (the S3 SDK, the zip writer and reader, the native
// keyring) through import() alone, so an idle agent, or one whose vaults are all on the directory store,
// never pays their memory (`npm run bench` prints the agent's idle resident memory).
import t from 'tap';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { built, projectRoot } from '../helpers/built.js';
import { filesUnder, packageOf, runtimeSpecifiers, specifiersOf, walk } from '../helpers/import-graph.js';
import type { TestContext } from '../helpers/tap-types.js';

const ALLOWED_SHARED = new Set([
  'shared/errors',
  'shared/error-output',
  'shared/socket-path',
  'shared/socket-folder',
  'shared/paths',
  'shared/version',
  'shared/agent-environment',
  'shared/environment-fingerprint',
]);

function check(t: TestContext, files: string[], external: Map<string, string>): void {
  for (const [spec, from] of external)
    t.ok(spec.startsWith('node:'), `${from} imports ${spec}: only node:* modules (no zod, fastify, @aws-sdk, …)`);
  for (const file of files) {
    t.ok(
      file.startsWith('client/') || ALLOWED_SHARED.has(file),
      `${file} is loaded by the client: only client/ and ${[...ALLOWED_SHARED].join(', ')}`,
    );
  }
  t.ok(files.includes('shared/errors'), 'the walk found the registry (the walk works)');
}

t.test('the sources: every client file, following imports into shared/', async (t) => {
  const entries = filesUnder(join(projectRoot, 'client'), '.ts');
  t.ok(entries.length > 5);
  const { files, external } = walk(entries, '.ts', projectRoot);
  check(t, files, external);
});

t.test('the build: what node really loads from dist/client/main.js', async (t) => {
  const main = fileURLToPath(built('client/main'));
  const root = join(projectRoot, 'dist');
  const { files, external } = walk([main], '.js', root);
  check(t, files, external);
  t.ok(files.includes('client/agent-client'), 'the walk reached the transport');
});

t.test('the import scanner itself', async (t) => {
  const source = [
    "import type { StatusResult } from '../shared/api.js';",
    "import { request } from 'node:http';",
    'import {',
    '  a,',
    '  b,',
    "} from './multi.js';",
    "export { x } from './re-export.js';",
    "export type { Y } from './types-only.js';",
    "import './side-effect.js';",
    "const lazy = await import('zod');",
    "// a comment that says import from 'nowhere' is not at a line start",
  ].join('\n');
  t.same(runtimeSpecifiers(source).sort(), ['./multi.js', './re-export.js', './side-effect.js', 'node:http', 'zod'].sort());
  t.same(
    runtimeSpecifiers(source, { dynamic: false }).sort(),
    ['./multi.js', './re-export.js', './side-effect.js', 'node:http'].sort(),
    'without import()',
  );
  const typeOnly = specifiersOf(source)
    .filter((s) => s.typeOnly)
    .map((s) => s.spec);
  t.same(typeOnly.sort(), ['../shared/api.js', './types-only.js'], 'the type-only ones, which the layering test also reads');
  t.same(['@aws-sdk/client-s3', '@aws-sdk/lib-storage/x', 'zod/v4', 'node:fs/promises'].map(packageOf), [
    '@aws-sdk/client-s3',
    '@aws-sdk/lib-storage',
    'zod',
    'node:fs/promises',
  ]);
});

t.test('the bundle users run holds no npm package', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const { built, CLI } = await import('../helpers/built.js');
  const bundle = readFileSync(fileURLToPath(built(CLI)), 'utf8');
  t.ok(bundle.startsWith('#!/usr/bin/env node\n'), 'runnable as a bin');
  t.notMatch(bundle, /\/\/ node_modules\//, 'esbuild marks each inlined package with its path; there are none');
  t.notMatch(bundle, /from ["'](zod|fastify|@aws-sdk\/[^"']+|@napi-rs\/keyring)["']/, 'and nothing heavy is imported');
});

const ON_DEMAND = ['@aws-sdk/client-s3', 'archiver', 'unzipper', '@napi-rs/keyring'];
const agentMain = join(projectRoot, 'daemon', 'main.ts');

const packagesReached = (dynamic: boolean): Map<string, string> => {
  const { external } = walk([agentMain], '.ts', projectRoot, { dynamic });
  return new Map([...external].map(([spec, file]) => [packageOf(spec), file]));
};

t.test('starting the agent loads none of the packages that only some work needs', async (t) => {
  const atStart = packagesReached(false);
  for (const name of ON_DEMAND)
    t.notOk(atStart.has(name), `${name} is not loaded at start${atStart.has(name) ? ` (named by ${atStart.get(name)})` : ''}`);
  t.ok(atStart.has('fastify') && atStart.has('zod'), 'the walk reaches what the agent does load at start (so a pass means something)');
});

t.test('each of them is still reached, through import()', async (t) => {
  const all = packagesReached(true);
  for (const name of ON_DEMAND) t.ok(all.has(name), `${name} is loaded when first needed (${all.get(name) ?? 'not reached at all'})`);
});

// Node modules outside its start-up snapshot cost start-up time when loaded (node:net ~5 % of `node -e 0`,
// node:child_process about as much): the client loads each only on the path that uses it.
t.test('vsync --version loads none of the Node modules a command loads on demand', async (t) => {
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { createServer } = await import('node:net');
  const { tmpdir } = await import('node:os');
  const { built, CLI, childEnv } = await import('../helpers/built.js');
  const dir = mkdtempSync(join(tmpdir(), 'vsync-imports-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Read when the process exits, after the command has run; into a file, as a pipe for output would load node:net itself.
  const preload = join(dir, 'report.cjs');
  writeFileSync(
    preload,
    "process.on('exit', () => require('node:fs').writeFileSync(process.env.LOAD_LIST, JSON.stringify(process.moduleLoadList)));\n",
  );
  // Something listening on the socket, so that `status` gets as far as a request (it is answered by a hang-up).
  const socket = join(dir, 'vsyncd.sock');
  const server = createServer((conn) => conn.destroy());
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(() => server.close());
  let runs = 0;
  const loaded = async (args: string[]): Promise<string[]> => {
    const { spawn } = await import('node:child_process');
    const list = join(dir, `loaded-${++runs}.json`);
    // Through env(1): tap puts its own --import back into NODE_OPTIONS of whatever a test spawns, and that loads
    // more than the client does.
    const argv = ['-u', 'NODE_OPTIONS', process.execPath, '--require', preload, fileURLToPath(built(CLI)), ...args];
    const child = spawn('env', argv, {
      env: childEnv({ VSYNC_NO_AUTOSTART: '1', VSYNC_SOCKET: socket, LOAD_LIST: list }),
      stdio: 'ignore',
    });
    await new Promise((resolve) => child.on('close', resolve));
    return JSON.parse(readFileSync(list, 'utf8')) as string[];
  };
  const onDemand = ['NativeModule http', 'NativeModule net', 'NativeModule child_process', 'NativeModule fs/promises'];
  const atVersion = await loaded(['--version']);
  for (const name of onDemand) t.notOk(atVersion.includes(name), `${name} is not loaded by --version`);
  // The same list from a command that asks the agent shows the check can fail.
  const atStatus = await loaded(['status']);
  t.ok(atStatus.includes('NativeModule net'), 'status, which asks the agent, loads node:net');
  // The client speaks its HTTP on node:net (http-exchange.ts); node:http would cost about 4 ms more.
  t.notOk(atStatus.includes('NativeModule http'), 'status does not load node:http');
});
