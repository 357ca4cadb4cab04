import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../shared/version.js';
import { CLI, built, childEnv, projectRoot } from '../helpers/built.js';

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

t.equal(VERSION, pkg.version, 'shared/version.ts matches package.json');

t.test('both programs, built, answer --version and refuse unknown input', async (t) => {
  for (const [name, main] of [
    ['vsync', CLI],
    ['vsyncd', 'daemon/main'],
  ] as const) {
    const file = fileURLToPath(built(main));
    t.equal(join(projectRoot, pkg.bin[name]!), file, `bin ${name} points at the built ${main}`);
    t.equal(execFileSync(process.execPath, [file, '--version'], { env: childEnv(), encoding: 'utf8' }), `${name} ${VERSION}\n`);
    const bad = spawnSync(process.execPath, [file, 'bogus'], { env: childEnv(), encoding: 'utf8' });
    t.equal(bad.status, 2, `${name}: usage errors exit 2`);
    t.match(bad.stderr, new RegExp(`^${name}: error: invalid usage: unknown .* "bogus"\\n${name}: hint: `));
    t.equal(bad.stdout, '');
  }
});
