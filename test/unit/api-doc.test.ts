// docs/API.md is held to the routes the agent really serves, the way errors-doc.test.ts holds ERRORS.md to
// the registry: every `### METHOD /v1/…` heading is a route, and every route has its heading.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../helpers/built.js';
import { agentApp } from '../helpers/app-fixture.js';
import { tempBase } from '../helpers/vault-fixture.js';

const { base, cleanup } = tempBase('vsync-api-doc-');
t.teardown(cleanup);
const { app } = agentApp(t, base, { startedAt: new Date(0) });

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
