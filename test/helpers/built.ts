// Tests that start separate processes run the built JavaScript (dist/), as users do. scripts/test.sh
// builds before testing; running one test file by hand needs `npm run build` first.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The CLI as users run it: one bundled file (package.json bin, bin/vsync). */
export const CLI = 'client/vsync.cjs';

/** The checkout: the nearest folder above this file with a package.json (this file also runs from dist/test/). */
export const projectRoot = findRoot(import.meta.dirname);

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/**
 * The file URL of a built module, e.g. built('daemon/storage/dir-storage'), or of a built file named with
 * its extension (built('client/vsync.cjs'), the bundled CLI). Throws when not built.
 */
export function built(modulePath: string): string {
  const file = join(projectRoot, 'dist', /\.[cm]?js$/.test(modulePath) ? modulePath : `${modulePath}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before this test`);
  return pathToFileURL(file).href;
}

/** The environment for a child Node process without tap's instrumentation hooks (NODE_OPTIONS). */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}
