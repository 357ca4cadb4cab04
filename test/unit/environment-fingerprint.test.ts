import t from 'tap';
import { environmentDifferences, environmentFingerprint } from '../../shared/environment-fingerprint.js';

const base = { HOME: '/home/me', PATH: '/usr/bin', AWS_PROFILE: 'work', VSYNC_KEY: 'k'.repeat(44) };
const diff = (agent: Record<string, string>, client: Record<string, string>, credentials = true) =>
  environmentDifferences(environmentFingerprint(agent), environmentFingerprint(client), { credentials });

t.test('the same environment, or one that differs in what the agent does not read: nothing to say', async (t) => {
  t.same(diff(base, base), []);
  t.same(diff(base, { ...base, PATH: '/other', TERM: 'xterm' }), []);
  t.same(diff(base, { ...base, XDG_CONFIG_HOME: '/home/me/.config' }), [], 'folders compare as resolved');
});

t.test('credentials: by name, never by value; only those the command sets', async (t) => {
  t.same(diff(base, { ...base, AWS_PROFILE: 'play' }), ['AWS_PROFILE (another value)']);
  t.same(diff(base, { ...base, AWS_REGION: 'eu-west-1' }), ['AWS_REGION (set here, not in the agent)']);
  t.same(diff(base, { HOME: '/home/me' }), [], "the agent's own credentials are its to use");
  t.notMatch(environmentFingerprint(base), /work|kkkk/, 'values do not appear');
  t.same(diff(base, { ...base, AWS_PROFILE: 'play' }, false), [], 'a service-managed agent: folders only');
});

t.test('folders: another HOME or XDG folder is named whatever the agent is', async (t) => {
  t.same(diff(base, { ...base, HOME: '/home/other' }, false), [
    'config folder (HOME, XDG_CONFIG_HOME)',
    'state folder (HOME, XDG_STATE_HOME)',
    'store folder (HOME, XDG_DATA_HOME)',
  ]);
  t.same(diff(base, { ...base, XDG_STATE_HOME: '/tmp/state' }), ['state folder (HOME, XDG_STATE_HOME)']);
});

t.test('an entry a newer client sends and this agent does not know is not judged', async (t) => {
  const agent = environmentFingerprint(base);
  t.same(environmentDifferences(agent, `${agent},LOCALE=12345678,junk`, { credentials: true }), []);
});
