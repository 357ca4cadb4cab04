// vsync doctor on the client's side: its command line, its lines, and its own check of the agent. The
// command against a real agent is test/integration/doctor.test.ts.
import t from 'tap';
import { parseArgs } from '../../client/args.js';
import { agentCheck } from '../../client/commands/doctor.js';
import { helpText } from '../../client/help.js';
import { doctorLines } from '../../client/render.js';
import type { DoctorCheck } from '../../shared/api.js';

t.test('the command line: an optional env, --json, and nothing else', async (t) => {
  t.same(parseArgs(['doctor']), { name: 'run', json: false, command: { name: 'doctor' } });
  t.same(parseArgs(['doctor', 'dev']), { name: 'run', json: false, command: { name: 'doctor', env: 'dev' } });
  t.same(parseArgs(['doctor', '--json', 'prod']), { name: 'run', json: true, command: { name: 'doctor', env: 'prod' } });
  t.same(parseArgs(['doctor', '--help']), { name: 'help', topic: 'doctor' });
  t.throws(() => parseArgs(['doctor', 'dev', 'prod']), {
    code: 'USAGE',
    message: 'invalid usage: unexpected argument "prod"',
    hint: 'run `vsync doctor --help`',
  });
  t.throws(() => parseArgs(['doctor', '--force']), { code: 'USAGE', message: /unknown option "--force" for doctor/ });
  t.match(helpText(), /\n {2}doctor \[<env>\] {14}check the agent and the keychain, and <env>'s config, key and store\n/);
  t.match(helpText('doctor'), /^usage: vsync doctor \[<env>\]\n[\s\S]*if-none-match {2}the store refuses a second put-if-absent/);
});

t.test('the lines: status, check and detail in columns, the hint under each problem, one summing-up line', async (t) => {
  const ok: DoctorCheck[] = [
    { name: 'agent', status: 'ok', detail: 'vsyncd 0.1.0 (pid 42) answers on /run/user/1000/vsync/vsyncd.sock' },
    { name: 'keychain', status: 'ok', detail: 'secret-service answers' },
  ];
  t.same(doctorLines(ok), [
    'ok    agent          vsyncd 0.1.0 (pid 42) answers on /run/user/1000/vsync/vsyncd.sock',
    'ok    keychain       secret-service answers',
    '✅ all 2 checks passed',
  ]);

  const mixed: DoctorCheck[] = [
    { name: 'config', status: 'ok', detail: '/h/.config/vsync/web/env_dev (store s3://b/web/dev/)' },
    { name: 'clock', status: 'warn', code: 'STORAGE_CLOCK_SKEWED', detail: "this machine's clock is off", hint: 'set the clock right' },
    {
      name: 'if-none-match',
      status: 'fail',
      code: 'STORAGE_CONDITIONAL_WRITES_IGNORED',
      detail: 'replaced',
      hint: 'use a store that enforces them',
    },
    { name: 'if-match', status: 'skip', detail: 'needs a scratch object in the store', hint: 'never shown for a skip' },
  ];
  t.same(doctorLines(mixed), [
    'ok    config         /h/.config/vsync/web/env_dev (store s3://b/web/dev/)',
    "warn  clock          this machine's clock is off",
    '                     hint: set the clock right',
    'fail  if-none-match  replaced',
    '                     hint: use a store that enforces them',
    'skip  if-match       needs a scratch object in the store',
    '❌ 1 check failed: if-none-match',
  ]);
  t.equal(doctorLines(mixed.slice(0, 2)).at(-1), '⚠️  nothing failed; 1 warning: clock');
  t.equal(doctorLines([mixed[2]!, { ...mixed[2]!, name: 'if-match' }]).at(-1), '❌ 2 checks failed: if-none-match, if-match');
});

t.test("the agent check: ok when it is of this vsync's version, a warning when not", async (t) => {
  const agent = { version: '0.1.0', pid: 42, socket: '/tmp/s.sock' };
  t.same(agentCheck(agent, '0.1.0'), { name: 'agent', status: 'ok', detail: 'vsyncd 0.1.0 (pid 42) answers on /tmp/s.sock' });
  t.match(agentCheck(agent, '0.2.0'), {
    name: 'agent',
    status: 'warn',
    detail: 'vsyncd 0.1.0 (pid 42) answers on /tmp/s.sock, but this is vsync 0.2.0',
    hint: /vsync daemon stop/,
  });
});
