// The layers of the house, held by a test over the real import graph (docs/ARCHITECTURE.md draws them):
// the domain (daemon/vault) knows the Storage and Keychain interfaces, never an adapter, a web server, a
// file watcher or a cloud SDK; daemon/main.ts and daemon/adapters.ts alone pick the adapters; crypto stands
// on Node and shared/ alone; the client talks to the agent through shared/ only; shared/ is Node and zod.
//
// Type-only imports count as imports here (a type from an adapter ties the domain to it just the same); the
// domain's rule also follows run-time imports through other modules, since what it loads is what it costs.
// test/unit/client-imports.test.ts holds the client to a stricter rule of its own: what it loads at run time.
import t from 'tap';
import { projectRoot } from '../helpers/built.js';
import { importGraph, type Edge, type ImportGraph } from '../helpers/import-graph.js';

const SOURCES = ['daemon', 'client', 'shared'];

const ADAPTERS = new Set([
  'daemon/storage/s3-storage',
  'daemon/storage/dir-storage',
  'daemon/keychain/os-keychain',
  'daemon/keychain/env-keychain',
]);
const INFRASTRUCTURE_PACKAGES = ['fastify', '@aws-sdk/', 'chokidar', '@napi-rs/keyring'];
const ADAPTER_CHOOSERS = new Set(['daemon/main', 'daemon/adapters']);

const under = (folder: string) => (module: string) => module.startsWith(`${folder}/`);
const isNode = (target: string) => target.startsWith('node:');
const isInfrastructure = (target: string) => INFRASTRUCTURE_PACKAGES.some((p) => (p.endsWith('/') ? target.startsWith(p) : target === p));

interface Rule {
  /** What the rule says, as the test output shows it. */
  readonly says: string;
  /** The modules it holds. */
  readonly covers: (module: string) => boolean;
  /** An import target a covered module may not name. */
  readonly refuses: (target: string) => boolean;
  /** Also refused when reached through other modules' run-time imports. */
  readonly transitive?: boolean;
}

const RULES: readonly Rule[] = [
  {
    says: 'daemon/vault/** reaches no adapter, no fastify, no @aws-sdk/*, no chokidar, no @napi-rs/keyring',
    covers: under('daemon/vault'),
    refuses: (target) => ADAPTERS.has(target) || ADAPTER_CHOOSERS.has(target) || isInfrastructure(target),
    transitive: true,
  },
  {
    says: 'only daemon/main.ts and daemon/adapters.ts import an adapter',
    covers: (module) => !ADAPTER_CHOOSERS.has(module),
    refuses: (target) => ADAPTERS.has(target),
  },
  {
    says: 'what ships imports nothing from test/ (the in-memory fakes live there)',
    covers: () => true,
    refuses: (target) => under('test')(target),
  },
  {
    says: 'daemon/crypto/** imports only node:*, shared/ and daemon/crypto/',
    covers: under('daemon/crypto'),
    refuses: (target) => !(isNode(target) || under('shared')(target) || under('daemon/crypto')(target)),
  },
  {
    says: 'client/** imports only node:*, shared/ and client/',
    covers: under('client'),
    refuses: (target) => !(isNode(target) || under('shared')(target) || under('client')(target)),
  },
  {
    says: 'shared/** imports only node:*, zod and shared/',
    covers: under('shared'),
    refuses: (target) => !(isNode(target) || target === 'zod' || under('shared')(target)),
  },
];

/** Every broken rule in `graph`, one line each, naming the importing module, the target and the path to it. */
function violations(graph: ImportGraph, rules: readonly Rule[] = RULES): string[] {
  const found: string[] = [];
  for (const rule of rules) {
    for (const [module, edges] of graph) {
      if (!rule.covers(module)) continue;
      for (const edge of edges)
        if (rule.refuses(edge.target)) found.push(`${module} imports ${edge.target}${edge.typeOnly ? ' (types)' : ''}: ${rule.says}`);
      if (!rule.transitive) continue;
      for (const [target, path] of reached(graph, module)) {
        if (path.length > 1 && rule.refuses(target))
          found.push(`${module} reaches ${target} through ${path.slice(0, -1).join(' → ')}: ${rule.says}`);
      }
    }
  }
  return found;
}

/** What `start` loads at run time, directly or not, each with the modules on the way (ending at the target). */
function reached(graph: ImportGraph, start: string): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  const queue: Array<[string, string[]]> = [[start, []]];
  while (queue.length > 0) {
    const [module, path] = queue.shift()!;
    for (const edge of graph.get(module) ?? []) {
      if (edge.typeOnly || paths.has(edge.target) || edge.target === start) continue;
      const next = [...path, edge.target];
      paths.set(edge.target, next);
      if (graph.has(edge.target)) queue.push([edge.target, next]);
    }
  }
  return paths;
}

function graphOf(edges: Record<string, Array<string | [string, 'type']>>): ImportGraph {
  const graph = new Map<string, Edge[]>();
  for (const [from, targets] of Object.entries(edges)) {
    graph.set(
      from,
      targets.map((x) => (typeof x === 'string' ? { from, target: x, typeOnly: false } : { from, target: x[0], typeOnly: true })),
    );
  }
  return graph;
}

const real = importGraph(projectRoot, SOURCES);

t.test('the sources keep every rule', async (t) => {
  t.same(violations(real), [], 'no rule is broken');
});

t.test('the graph is the real one (so a pass means something)', async (t) => {
  t.ok(real.size > 80, `${real.size} modules read`);
  const targets = (module: string) => (real.get(module) ?? []).map((e) => e.target);
  t.ok(targets('daemon/main').includes('daemon/adapters'), 'daemon/main → daemon/adapters');
  t.ok(targets('daemon/adapters').includes('daemon/storage/s3-storage'), 'daemon/adapters → daemon/storage/s3-storage');
  t.ok(targets('daemon/storage/s3-storage').includes('@aws-sdk/client-s3'), 'daemon/storage/s3-storage → @aws-sdk/client-s3');
  t.ok(targets('daemon/server/app').includes('fastify'), 'daemon/server/app → fastify');
  t.ok(targets('daemon/vault/config').includes('zod'), 'daemon/vault/config → zod');
  for (const adapter of ADAPTERS) t.ok(real.has(adapter), `the adapter ${adapter} exists (the list is not stale)`);
  for (const rule of RULES) t.ok([...real.keys()].some(rule.covers), `"${rule.says}" holds some module`);
  const dangling = [...real.values()].flat().filter((e) => SOURCES.some((s) => e.target.startsWith(`${s}/`)) && !real.has(e.target));
  t.same(dangling, [], 'every relative import resolves to a module that was read');
});

t.test('self-test: each rule fails on a synthetic graph that breaks it', async (t) => {
  const clean = graphOf({
    'daemon/main': ['daemon/adapters', 'daemon/server/app', 'daemon/vault/vault-service', 'zod'],
    'daemon/adapters': ['daemon/storage/s3-storage', 'daemon/keychain/os-keychain', ['daemon/keychain/keychain', 'type']],
    'daemon/storage/s3-storage': ['@aws-sdk/client-s3', 'daemon/storage/storage'],
    'daemon/keychain/os-keychain': ['@napi-rs/keyring', 'shared/errors'],
    'daemon/server/app': ['fastify', 'daemon/vault/vault-service'],
    'daemon/vault/vault-service': ['daemon/vault/push', ['daemon/storage/storage', 'type'], 'node:fs/promises'],
    'daemon/vault/push': ['daemon/crypto/seal', 'daemon/bundle/zip-folder', 'zod'],
    'daemon/bundle/zip-folder': ['archiver'],
    'daemon/crypto/seal': ['node:crypto', 'shared/errors', 'daemon/crypto/kdf'],
    'client/main': ['client/args', 'shared/errors', ['shared/api', 'type'], 'node:net'],
    'shared/api': ['zod', 'shared/errors'],
    'shared/errors': [],
  });
  t.same(violations(clean), [], 'a graph that keeps the rules passes');

  const broken = (extra: Record<string, Array<string | [string, 'type']>>): string[] => {
    const graph = new Map(clean);
    for (const [from, targets] of Object.entries(extra))
      graph.set(from, [...(graph.get(from) ?? []), ...graphOf({ [from]: targets }).get(from)!]);
    return violations(graph);
  };
  const cases: Array<[string, Record<string, Array<string | [string, 'type']>>, RegExp]> = [
    [
      'the domain imports an adapter',
      { 'daemon/vault/push': ['daemon/storage/s3-storage'] },
      /^daemon\/vault\/push imports daemon\/storage\/s3-storage: daemon\/vault/,
    ],
    [
      'the domain imports a type from an adapter',
      { 'daemon/vault/push': [['daemon/keychain/os-keychain', 'type']] },
      /imports daemon\/keychain\/os-keychain \(types\)/,
    ],
    ['the domain imports fastify', { 'daemon/vault/push': ['fastify'] }, /^daemon\/vault\/push imports fastify/],
    ['the domain imports an AWS SDK package', { 'daemon/vault/vault-service': ['@aws-sdk/lib-storage'] }, /imports @aws-sdk\/lib-storage/],
    ['the domain imports chokidar', { 'daemon/vault/push': ['chokidar'] }, /imports chokidar/],
    ['the domain imports the keyring library', { 'daemon/vault/push': ['@napi-rs/keyring'] }, /imports @napi-rs\/keyring/],
    ['the domain imports the adapter chooser', { 'daemon/vault/push': ['daemon/adapters'] }, /imports daemon\/adapters/],
    [
      'the domain reaches fastify through another module',
      { 'daemon/vault/push': ['daemon/server/app'] },
      /^daemon\/vault\/push reaches fastify through daemon\/server\/app: /,
    ],
    [
      'another module imports an adapter',
      { 'daemon/server/app': ['daemon/storage/s3-storage'] },
      /^daemon\/server\/app imports daemon\/storage\/s3-storage: only daemon\/main/,
    ],
    [
      'an adapter imports another adapter',
      { 'daemon/storage/s3-storage': ['daemon/storage/dir-storage'] },
      /^daemon\/storage\/s3-storage imports daemon\/storage\/dir-storage/,
    ],
    [
      'shipped code imports a test fake',
      { 'daemon/main': ['test/fakes/memory-storage'] },
      /^daemon\/main imports test\/fakes\/memory-storage: what ships imports nothing from test\//,
    ],
    ['crypto imports a package', { 'daemon/crypto/seal': ['zod'] }, /^daemon\/crypto\/seal imports zod: daemon\/crypto/],
    [
      'crypto imports the domain',
      { 'daemon/crypto/seal': [['daemon/vault/config', 'type']] },
      /^daemon\/crypto\/seal imports daemon\/vault\/config \(types\)/,
    ],
    [
      'the client imports the daemon',
      { 'client/main': [['daemon/vault/config', 'type']] },
      /^client\/main imports daemon\/vault\/config \(types\): client/,
    ],
    ['the client imports a package', { 'client/main': ['zod'] }, /^client\/main imports zod: client/],
    ['shared imports the daemon', { 'shared/api': ['daemon/crypto/seal'] }, /^shared\/api imports daemon\/crypto\/seal: shared/],
    ['shared imports a package other than zod', { 'shared/errors': ['fastify'] }, /^shared\/errors imports fastify: shared/],
    ['shared imports the client', { 'shared/errors': ['client/render'] }, /^shared\/errors imports client\/render: shared/],
  ];
  for (const [what, extra, expected] of cases) {
    const found = broken(extra);
    t.ok(
      found.some((v) => expected.test(v)),
      `${what}: ${found.join('; ') || 'nothing found'}`,
    );
  }
  t.same(
    broken({ 'daemon/vault/push': [['daemon/server/app', 'type']] }).filter((v) => v.includes('reaches')),
    [],
    'a type-only import is not followed',
  );
});

t.test('self-test: the real graph with one edge added breaks a rule', async (t) => {
  const withEdge = (from: string, target: string): string[] => {
    const graph = new Map(real);
    graph.set(from, [...(graph.get(from) ?? []), { from, target, typeOnly: false }]);
    return violations(graph);
  };
  const cases: Array<[string, string, RegExp]> = [
    ['daemon/vault/push', 'daemon/server/app', /^daemon\/vault\/push reaches fastify through daemon\/server\/app: /],
    ['daemon/vault/pull', 'daemon/watch/folder-watcher', /^daemon\/vault\/pull reaches chokidar through daemon\/watch\/folder-watcher: /],
    ['daemon/vault/vault-service', 'daemon/storage/dir-storage', /^daemon\/vault\/vault-service imports daemon\/storage\/dir-storage: /],
    ['shared/events', 'daemon/vault/event-hub', /^shared\/events imports daemon\/vault\/event-hub: /],
    ['daemon/crypto/kdf', 'daemon/fs/atomic-write', /^daemon\/crypto\/kdf imports daemon\/fs\/atomic-write: /],
    ['client/render', 'daemon/vault/versions', /^client\/render imports daemon\/vault\/versions: /],
  ];
  for (const [from, target, expected] of cases) {
    const found = withEdge(from, target);
    t.ok(
      found.some((v) => expected.test(v)),
      `${from} → ${target}: ${found.join('; ') || 'nothing found'}`,
    );
  }
});
