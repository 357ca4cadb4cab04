// docs/API.md is held to the routes the agent really serves, the way errors-doc.test.ts holds ERRORS.md to
// the registry: every `### METHOD /v1/…` heading is a route, and every route has its heading.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { buildApp } from '../../daemon/server/app.js';
import { EventHub } from '../../daemon/vault/event-hub.js';
import { KeyRing } from '../../daemon/vault/key-ring.js';
import { VaultService } from '../../daemon/vault/vault-service.js';
import { DEFAULT_WATCH_SETTINGS } from '../../daemon/watch/vault-watch.js';
import { watchListFile } from '../../daemon/watch/watch-list.js';
import { Watches } from '../../daemon/watch/watches.js';
import { projectRoot } from '../helpers/built.js';
import { tempBase } from '../helpers/vault-fixture.js';

const { base, cleanup } = tempBase('vsync-api-doc-');
t.teardown(cleanup);
const keychain = new MemoryKeychain();
const keys = new KeyRing(keychain);
const events = new EventHub();
const environment = { HOME: join(base, 'home') };
const service = new VaultService({ storageFor: () => new MemoryStorage(), keychain, keys, environment, now: () => new Date() }, { events });
const watches = new Watches({
  service,
  events,
  keys,
  settings: DEFAULT_WATCH_SETTINGS,
  listFile: watchListFile(environment),
  log: () => undefined,
});
const app = buildApp({ service, keys, watches, events, socket: '/tmp/x.sock', startedAt: new Date(0), onShutdown: () => undefined });
t.teardown(() => watches.close());
t.teardown(() => app.close());

/**
 * `METHOD /path` for each route, from fastify's own table (HEAD, which fastify adds to each GET, left out).
 * printRoutes draws a tree: a line's depth is where its branch starts, and its path follows its parent's.
 */
function served(): string[] {
  const routes: string[] = [];
  const parents: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    parents.length = depth;
    const path = (parents[depth - 1] ?? '') + m[2]!;
    parents[depth] = path;
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

/** `METHOD /path` for each route heading of docs/API.md, the query string left out. */
function documented(text: string): string[] {
  return [...text.matchAll(/^### (GET|POST|PUT|DELETE) (\/v1\/[^\s?]*)/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
}

t.test('every route is documented, and every documented route is served', async (t) => {
  await app.ready();
  const routes = served();
  t.ok(routes.length >= 15, `fastify's table was read (${routes.length} routes)`);
  t.same(documented(readFileSync(join(projectRoot, 'docs', 'API.md'), 'utf8')), routes);
});

t.test('the check itself: a missing or an extra heading is seen', async (t) => {
  const text = '### GET /v1/status\n### POST /v1/push\n### GET /v1/versions?cwd=…&env=…\nno heading: ### POST /v1/x\n';
  t.same(documented(text), ['GET /v1/status', 'GET /v1/versions', 'POST /v1/push']);
  t.notSame(documented('### GET /v1/status\n'), served());
});
