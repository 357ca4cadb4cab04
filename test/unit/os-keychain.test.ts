// OsKeychain's own logic around the library, with scripted entries in place of @napi-rs/keyring's: calls go one
// at a time, a call whose Secret Service went away under it is asked once more of a fresh entry, and nothing else
// is. The real Secret Service (its daemon killed between calls and while answering) is in
// test/contract/keychain.test.ts.
import t from 'tap';
import { isVsyncError } from '../../shared/errors.js';
import { type KeyringEntry, OsKeychain } from '../../daemon/keychain/os-keychain.js';
import { caught } from '../helpers/caught.js';

// The library's messages, as @napi-rs/keyring 2.1.2 words them.
const LOST = 'Platform failure: DBus error: Message recipient disconnected from message bus without replying';
const STALE = 'Platform failure: DBus error: The session does not exist';
const STALE_SECRET = 'Platform failure: DBus error: The session wrapping the secret does not exist';
const LOCKED = "Couldn't access platform storage: Secret Service: unlock prompt was dismissed";

type Step = string | null | boolean | Error;

/** Entries whose calls answer `steps` in order, across entries; counts the entries opened and the calls in flight. */
function scripted(steps: Step[]): { open: () => Promise<KeyringEntry>; opened: () => number; maxInFlight: () => number } {
  let opened = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const answer = async (): Promise<never> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
    if (steps.length === 0) throw new Error('the script has no more answers');
    const step = steps.shift()!;
    if (step instanceof Error) throw step;
    return step as never;
  };
  const entry: KeyringEntry = {
    getPassword: answer,
    setPassword: answer as KeyringEntry['setPassword'],
    deletePassword: answer,
  } as KeyringEntry;
  return {
    open: async () => {
      opened++;
      return entry;
    },
    opened: () => opened,
    maxInFlight: () => maxInFlight,
  };
}

for (const [what, message] of [
  ['it died while answering', LOST],
  ["the kept entry's session is a dead daemon's", STALE],
  ["the secret's session is a dead daemon's", STALE_SECRET],
] as const) {
  t.test(`${what}: asked once more, of a fresh entry`, async (t) => {
    const s = scripted([new Error(message), 'the key']);
    const kc = new OsKeychain(s.open);
    t.equal(await kc.get('r/dev'), 'the key');
    t.equal(s.opened(), 2, 'a second entry for the second asking');
  });
}

t.test('gone twice: KEYCHAIN_UNAVAILABLE with the cause, not a third asking', async (t) => {
  const s = scripted([new Error(LOST), new Error(LOST), 'never asked']);
  const err = await caught(new OsKeychain(s.open).set('r/dev', 'k'));
  t.ok(isVsyncError(err, 'KEYCHAIN_UNAVAILABLE'), String(err));
  t.match((err as Error).message, /the Secret Service stopped while answering \(it may have crashed\) \(account "r\/dev"/);
  t.equal(((err as Error).cause as Error).message, LOST, 'the library error stays the cause');
  t.equal(s.opened(), 2);
});

t.test('other failures are not asked again', async (t) => {
  const s = scripted([new Error(LOCKED), 'the key']);
  const kc = new OsKeychain(s.open);
  const err = await caught(kc.get('r/dev'));
  t.ok(isVsyncError(err, 'KEYCHAIN_UNAVAILABLE'));
  t.match((err as Error).message, /locked/);
  t.equal(s.opened(), 1);
  t.equal(await kc.get('r/dev'), 'the key', 'the next call opens a fresh entry');
  t.equal(s.opened(), 2);
});

t.test('delete', async (t) => {
  t.test('the answer lost, and then nothing to delete: deleted (the first asking may have done it)', async (t) => {
    const s = scripted([new Error(LOST), false]);
    await new OsKeychain(s.open).delete('r/dev');
    t.equal(s.opened(), 2);
  });
  t.test('nothing to delete at the first asking: KEYCHAIN_NOT_FOUND', async (t) => {
    const s = scripted([false]);
    t.ok(isVsyncError(await caught(new OsKeychain(s.open).delete('r/dev')), 'KEYCHAIN_NOT_FOUND'));
  });
});

t.test('missing is KEYCHAIN_NOT_FOUND, and is not asked again', async (t) => {
  const s = scripted([null]);
  t.ok(isVsyncError(await caught(new OsKeychain(s.open).get('r/dev')), 'KEYCHAIN_NOT_FOUND'));
  t.equal(s.opened(), 1);
});

t.test('calls go one at a time, in order, and a failed one does not stop the next', async (t) => {
  const s = scripted(['k1', new Error(LOCKED), 'k3', true, 'k5']);
  const kc = new OsKeychain(s.open);
  const results = await Promise.allSettled([kc.get('a/1'), kc.get('a/2'), kc.get('a/3'), kc.delete('a/4'), kc.get('a/5')]);
  t.same(
    results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed')),
    ['k1', 'failed', 'k3', undefined, 'k5'],
  );
  t.equal(s.maxInFlight(), 1, 'never two calls in flight');
});
