// Reading the socket-activation variables (sd_listen_fds(3)): which handovers are ours, which are refused,
// and that the variables are gone afterwards either way. The descriptor itself is tested with real
// processes in test/integration/socket-activation.test.ts.
import t from 'tap';
import { exitCodes } from '../../shared/errors.js';
import { takeListenFds } from '../../daemon/server/listen-fds.js';

const PID = 4242;

function envOf(vars: Record<string, string>): NodeJS.ProcessEnv {
  return { HOME: '/home/u', ...vars };
}

t.test('no handover, or one meant for another process: undefined, and the variables are removed', async (t) => {
  const cases: Array<Record<string, string>> = [
    {},
    { LISTEN_PID: '4241', LISTEN_FDS: '1' },
    { LISTEN_PID: '04242', LISTEN_FDS: '1' },
    { LISTEN_PID: 'x', LISTEN_FDS: '1', LISTEN_FDNAMES: 'vsyncd.socket' },
    { LISTEN_FDS: '1' },
    { LISTEN_PID: String(PID), LISTEN_FDS: '0' },
  ];
  for (const vars of cases) {
    const env = envOf(vars);
    t.equal(takeListenFds(env, PID), undefined, JSON.stringify(vars));
    t.same(env, { HOME: '/home/u' }, `${JSON.stringify(vars)}: only the other variables are left`);
  }
});

t.test('a handover vsyncd cannot serve is a configuration error (exit 3), the variables removed all the same', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [
      { LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' },
      /2 descriptors were passed \(LISTEN_FDS\); vsyncd serves exactly one socket/,
    ],
    [{ LISTEN_PID: String(PID), LISTEN_FDS: 'one' }, /LISTEN_FDS="one" is not a count of descriptors/],
    [{ LISTEN_PID: String(PID), LISTEN_FDS: '-1' }, /LISTEN_FDS="-1" is not a count/],
    [{ LISTEN_PID: String(PID) }, /LISTEN_FDS="" is not a count/],
  ];
  for (const [vars, message] of cases) {
    const env = envOf(vars);
    t.throws(() => takeListenFds(env, PID), { code: 'AGENT_LISTEN_FDS_INVALID', exit: exitCodes.config, message }, JSON.stringify(vars));
    t.same(env, { HOME: '/home/u' }, `${JSON.stringify(vars)}: removed`);
  }
});
