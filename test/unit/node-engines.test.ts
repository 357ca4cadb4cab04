// vsync promises the Node.js of package.json's engines.node (20.19 and newer): every installed package must
// accept that floor, or `npm ci` warns EBADENGINE there and the package may use what that Node lacks.
// (cookie 2, via fastify's light-my-request, wanted Node 22: package.json's overrides keep it on cookie 1.)
// Only the floor is checked, not every later version: many packages leave out odd lines (21) and early 22.x.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { projectRoot } from '../helpers/built.js';

interface Semver {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
}

// npm's own semver, installed with fastify (a dependency, so present wherever vsync is installed).
const semver = createRequire(join(projectRoot, 'package.json'))('semver') as Semver;

const promise = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

/** Every package folder under node_modules, nested ones and scoped ones included. */
function packages(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      found.push(...packages(path));
      continue;
    }
    if (existsSync(join(path, 'package.json'))) found.push(path);
    if (existsSync(join(path, 'node_modules'))) found.push(...packages(join(path, 'node_modules')));
  }
  return found;
}

t.test("every installed package accepts the lowest Node vsync promises (package.json's engines.node)", (t) => {
  const floor = semver.minVersion(promise)?.version;
  t.equal(floor, '20.19.0', 'the promise is Node.js 20.19 or newer (README, CONTRIBUTING, .ci/run say so too)');
  const all = packages(join(projectRoot, 'node_modules'));
  t.ok(all.length > 100, `node_modules is installed (${all.length} packages)`);
  const refusing: string[] = [];
  for (const dir of all) {
    const { name, version, engines } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name?: string;
      version?: string;
      engines?: { node?: unknown };
    };
    const wants = engines?.node;
    if (typeof wants !== 'string' || wants.trim() === '') continue;
    if (!semver.satisfies(floor!, wants)) refusing.push(`${name}@${version} (${relative(projectRoot, dir)}) wants node ${wants}`);
  }
  t.same(refusing, [], `no package refuses Node ${floor}`);
  t.end();
});
