// Every path and name field of every route, checked at the door (shared/api.ts): a NUL byte, an absurd
// length, a relative path where an absolute one is needed, a store setting that could never work. Each is a
// 400 with a code, and leaves this machine exactly as it was (no config, no key, no vault folder). And
// POST /v1/shutdown with a body that is not `{}` is refused and stops nothing.
import t from 'tap';
import { readdirSync, type Dirent } from 'node:fs';
import { join, relative } from 'node:path';
import type { InjectOptions } from 'fastify';
import { ErrorBodySchema } from '../../shared/api.js';
import { appFixture } from '../helpers/app-fixture.js';

let shutdowns = 0;
const { base, repo, keychain, home, app } = appFixture(t, 'vsync-boundary-', {
  origin: null,
  freshStorage: true,
  onShutdown: () => shutdowns++,
});

/** Every file under a folder, relative to it: what "this machine as it was" means here. */
function files(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.push(relative(root, path));
    }
  };
  walk(root);
  return found.sort();
}

type Route = { method: 'GET' | 'POST'; url: string; valid: Record<string, unknown>; paths: string[]; names: string[] };
const share = join(base, 'web-dev.share');
const routes: Route[] = [
  { method: 'POST', url: '/v1/init', valid: { cwd: repo, env: 'dev' }, paths: ['cwd', 'store'], names: ['env', 'bucket'] },
  {
    method: 'POST',
    url: '/v1/init',
    valid: { cwd: repo, env: 'dev', bucket: 'ok-bucket' },
    paths: [],
    names: ['region', 'prefix', 'endpoint'],
  },
  { method: 'POST', url: '/v1/push', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env'] },
  { method: 'POST', url: '/v1/pull', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env', 'at'] },
  { method: 'GET', url: '/v1/versions', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env'] },
  { method: 'POST', url: '/v1/doctor', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env'] },
  { method: 'GET', url: '/v1/backups', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env'] },
  { method: 'POST', url: '/v1/backups/restore', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env', 'ts'] },
  { method: 'POST', url: '/v1/use', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env'] },
  { method: 'POST', url: '/v1/key/export', valid: { cwd: repo, env: 'dev' }, paths: ['cwd', 'out'], names: ['env'] },
  {
    method: 'POST',
    url: '/v1/key/import',
    valid: { cwd: repo, file: share, passphrase: 'correct horse battery staple' },
    paths: ['cwd', 'file'],
    names: [],
  },
  { method: 'POST', url: '/v1/watch', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env'] },
  { method: 'POST', url: '/v1/unwatch', valid: { cwd: repo, env: 'dev' }, paths: ['cwd'], names: ['env'] },
];

// A path: NUL inside, over PATH_MAX in bytes (also when under it in characters), relative.
const badPaths: Array<[string, string]> = [
  ['a NUL byte', `${repo}/a\0b`],
  ['5000 bytes', `/${'a'.repeat(4999)}`],
  ['4096 characters but 8191 bytes', `/${'é'.repeat(4095)}`],
  ['relative', 'relative/folder'],
  ['a NUL byte alone', '\0'],
];
// A name: NUL inside, 5000 bytes, a path where a name goes.
const badNames: Array<[string, string]> = [
  ['a NUL byte', 'de\0v'],
  ['5000 bytes', 'd'.repeat(5000)],
  ['a relative path', '../dev'],
  ['a newline', 'dev\nX-Injected: 1'],
];

function send(route: Route, body: Record<string, unknown>) {
  if (route.method === 'GET') {
    const query = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)]));
    return app.inject({ method: 'GET', url: `${route.url}?${query}` });
  }
  return app.inject({ method: 'POST', url: route.url, payload: body });
}

t.test('every path and name field of every route: a 400 with a code, and nothing written', async (t) => {
  const before = files(home);
  let cases = 0;
  for (const route of routes) {
    const fields: Array<[string, Array<[string, string]>]> = [
      ...route.paths.map((f): [string, Array<[string, string]>] => [f, badPaths]),
      ...route.names.map((f): [string, Array<[string, string]>] => [f, badNames]),
    ];
    for (const [field, values] of fields) {
      for (const [what, value] of values) {
        const res = await send(route, { ...route.valid, [field]: value });
        const label = `${route.method} ${route.url} ${field}: ${what}`;
        cases++;
        t.equal(res.statusCode, 400, label);
        const body = ErrorBodySchema.safeParse(res.json());
        t.ok(body.success, `${label}: an error body`);
        t.match(body.data?.error.code, /^(AGENT_BAD_REQUEST|NAME_INVALID)$/, `${label}: ${body.data?.error.message.slice(0, 120)}`);
      }
    }
  }
  t.ok(cases >= 140, `${cases} cases`);
  t.same(files(home), before, 'this machine is as it was: no config, no vault, no backup');
  t.equal(keychain.entries.size, 0, 'no key made');
});

t.test('a store that could never work is refused before a config exists', async (t) => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['--store with a NUL', { store: '/tmp/store\0x' }, /store: must not hold a NUL byte/],
    ['--store relative', { store: 'store' }, /store: must be an absolute path/],
    ['--store over PATH_MAX', { store: `/${'s'.repeat(4200)}` }, /store: must be at most 4096 bytes/],
    ['--bucket with capitals', { bucket: 'My_Bucket' }, /bucket: must be an S3 bucket name/],
    ['--endpoint not http', { bucket: 'ok-bucket', endpoint: 'ftp://example.com' }, /endpoint: must be an http\(s\) URL/],
    ['--region with a NUL', { bucket: 'ok-bucket', region: 'eu\0' }, /region: must be a region name/],
    ['--prefix with spaces', { bucket: 'ok-bucket', prefix: 'a b' }, /prefix: may hold only/],
    ['--prefix with ..', { bucket: 'ok-bucket', prefix: 'team/../other' }, /prefix: must not hold "\." or "\.\." segments/],
  ];
  for (const [name, extra, message] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/init', payload: { cwd: repo, env: 'dev', ...extra } });
    t.equal(res.statusCode, 400, name);
    t.match(res.json(), { error: { code: 'AGENT_BAD_REQUEST', message } }, name);
  }
  t.same(files(home), [], 'no config written');
  const ok = await app.inject({ method: 'POST', url: '/v1/init', payload: { cwd: repo, env: 'dev', store: join(base, 'store') } });
  t.equal(ok.statusCode, 200, 'a good store still works');
});

t.test('POST /v1/shutdown with a body that is not {} is refused, and the agent keeps running', async (t) => {
  const json = { 'content-type': 'application/json' };
  const cases: Array<[string, InjectOptions, number]> = [
    ['not JSON', { method: 'POST', url: '/v1/shutdown', payload: 'stop now', headers: json }, 400],
    ['half a JSON object', { method: 'POST', url: '/v1/shutdown', payload: '{"now":', headers: json }, 400],
    ['a field', { method: 'POST', url: '/v1/shutdown', payload: { now: true } }, 400],
    ['an array', { method: 'POST', url: '/v1/shutdown', payload: '[]', headers: json }, 400],
    ['null', { method: 'POST', url: '/v1/shutdown', payload: 'null', headers: json }, 400],
    ['a string', { method: 'POST', url: '/v1/shutdown', payload: '"{}"', headers: json }, 400],
    ['1 MiB', { method: 'POST', url: '/v1/shutdown', payload: { pad: 'x'.repeat(1 << 20) } }, 400],
    ['text/plain', { method: 'POST', url: '/v1/shutdown', payload: '{}', headers: { 'content-type': 'text/plain' } }, 400],
  ];
  for (const [name, request, status] of cases) {
    const res = await app.inject(request);
    t.equal(res.statusCode, status, name);
    t.ok(ErrorBodySchema.safeParse(res.json()).success, `${name}: an error body`);
    t.match(res.json(), { error: { code: 'AGENT_BAD_REQUEST' } }, name);
    await new Promise((resolve) => setImmediate(resolve));
    t.equal(shutdowns, 0, `${name}: no shutdown`);
  }
  const bye = await app.inject({ method: 'POST', url: '/v1/shutdown', payload: {} });
  t.equal(bye.statusCode, 202);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(shutdowns, 1, 'an empty object still stops it');
});
