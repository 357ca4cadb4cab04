// scripts/run-tests.mjs, the fast lane's runner: a passing file, a failing one and one that crashes before
// printing any TAP, run together. The totals count every assertion, a crash counts as a failure, the failing
// files' output is shown, and the exit code says whether everything passed.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../helpers/built.js';

const runner = join(projectRoot, 'scripts', 'run-tests.mjs');
const tap = pathToFileURL(join(projectRoot, 'node_modules', 'tap', 'dist', 'esm', 'index.js')).href;

t.test('passes, failures and a crash, run together', async (t) => {
  const dir = t.testdir({});
  const file = (name: string, body: string) => {
    writeFileSync(join(dir, name), body);
    return join(dir, name);
  };
  const good = file('good.test.mjs', `import t from '${tap}';\nt.pass('one');\nt.pass('two');\n`);
  const bad = file('bad.test.mjs', `import t from '${tap}';\nt.equal(1, 2, 'one is two');\nt.pass('three');\n`);
  const crash = file('crash.test.mjs', `throw new Error('broken at load');\n`);

  const all = spawnSync(process.execPath, [runner, '--jobs', '2', good, bad, crash], { encoding: 'utf8' });
  t.equal(all.status, 1, 'exit 1: something failed');
  t.match(all.stdout, /^# \{ total: 5, pass: 3, fail: 2 \}$/m, 'three passed; the failed assertion and the crash failed');
  t.match(all.stdout, /^ok .*\/good\.test\.mjs$/m);
  t.match(all.stdout, /^not ok .*\/bad\.test\.mjs \(exit 1\)$/m);
  t.match(all.stdout, /^not ok .*\/crash\.test\.mjs \(exit 1\)$/m);
  t.match(all.stdout, /===== .*crash\.test\.mjs\n[\s\S]*broken at load/, "a failing file's output is shown");
  t.notMatch(all.stdout, /===== .*good\.test\.mjs/, "a passing file's is not");

  const passing = execFileSync(process.execPath, [runner, good], { encoding: 'utf8' });
  t.match(passing, /^# \{ total: 2, pass: 2, fail: 0 \}$/m, 'exit 0 when everything passed');
});
