// The pure parts of what a hostile store is refused with: timestamps at the edges of the 15-character form
// and of the future, the anti-rollback floor, names at the file system's limits, and the size cap setting.
import t from 'tap';
import { FUTURE_SKEW_MS, isFromFuture, nextTimestamp, parseTimestamp, plausibleFloor } from '../../daemon/crypto/timestamp.js';
import { lengthProblem, nameProblem, NAME_MAX_BYTES, PATH_MAX_BYTES } from '../../daemon/bundle/entry-names.js';
import { afterSync, floorOf, type LocalState } from '../../daemon/vault/local-state.js';
import { DEFAULT_MAX_VERSION_BYTES, MaxVersionBytesSetting } from '../../daemon/vault/version-cap.js';

const now = new Date(Date.UTC(2026, 4, 16, 11, 33, 4));
const at = (ms: number) => new Date(now.getTime() + ms);

t.test('nextTimestamp at the end of the form: a coded refusal, never a RangeError (INTERNAL)', async (t) => {
  for (const last of ['99991231-235959']) {
    t.throws(() => nextTimestamp(last, now), { code: 'TIMESTAMP_INVALID' }, `${last}: TIMESTAMP_INVALID`);
  }
  t.equal(nextTimestamp('99991231-235958', now), '99991231-235959', 'the last second is still reachable');
  t.equal(nextTimestamp('20261231-235959', at(0)), '20270101-000000', 'rolls over the year');
  t.equal(nextTimestamp(undefined, now), '20260516-113304');
});

t.test('from the future: more than FUTURE_SKEW_MS after the clock, to the second', async (t) => {
  const edge = new Date(now.getTime() + FUTURE_SKEW_MS);
  const name = (d: Date) => nextTimestamp(undefined, d);
  t.equal(isFromFuture(name(edge), now), false, 'exactly a day ahead: a clock in the wrong time zone, taken');
  t.equal(isFromFuture(name(at(FUTURE_SKEW_MS + 1000)), now), true, 'a day and a second: refused');
  t.equal(isFromFuture('99991231-235959', now), true);
  t.equal(isFromFuture('00010101-000000', now), false, 'the past is never the future');
  t.equal(plausibleFloor('99991231-235959', now), undefined);
  t.equal(plausibleFloor('20260517-113304', now), '20260517-113304');
  t.equal(plausibleFloor(undefined, now), undefined);
  // What push does with a floor: past a plausible one by a second, ignoring one from the future.
  t.equal(nextTimestamp(plausibleFloor('20260516-120000', now), now), '20260516-120001');
  t.equal(nextTimestamp(plausibleFloor('99991231-235959', now), now), '20260516-113304');
  t.equal(parseTimestamp('99991231-235959').getUTCFullYear(), 9999, 'the latest representable name parses');
});

t.test('afterSync never raises the floor to the future, and drops one already there', async (t) => {
  const sync = { ts: '20260516-113304', etag: 'e', digest: '0'.repeat(64) };
  const poisoned: LocalState = { version: 1, newestSeen: '99991231-235959' };
  t.equal(floorOf(poisoned, now), undefined, 'a poisoned floor is no floor');
  t.equal(afterSync(poisoned, '/r', sync, '20260516-113304', now).newestSeen, '20260516-113304', 'replaced by the real one');
  t.equal(afterSync({ version: 1 }, '/r', sync, '99991231-235959', now).newestSeen, undefined, 'not raised to the future');
  t.equal(
    afterSync({ version: 1, newestSeen: '20260516-113300' }, '/r', sync, '99991231-235959', now).newestSeen,
    '20260516-113300',
    'kept as it was',
  );
  t.equal(afterSync({ version: 1, newestSeen: '20260516-113300' }, '/r', sync, undefined, now).newestSeen, '20260516-113300');
});

t.test('names at NAME_MAX and PATH_MAX, in bytes', async (t) => {
  const deep = `${'x'.repeat(199)}/`.repeat(20);
  const cases: Array<[string, string, string | undefined, boolean]> = [
    ['255 ASCII bytes', 'a'.repeat(255), undefined, true],
    ['256 ASCII bytes', 'a'.repeat(256), undefined, false],
    ['255 bytes of 2-byte characters and one more', 'é'.repeat(127) + 'a', undefined, true],
    ['256 bytes of 2-byte characters (128 characters)', 'é'.repeat(128), undefined, false],
    ['a deep path of short parts', Array(1000).fill('abc').join('/'), undefined, true],
    ['a long part deep inside', `a/b/${'c'.repeat(256)}/d`, undefined, false],
    // A 10-byte root, a slash, and 4084 bytes of 200-byte parts: 4095 bytes in all.
    ['rooted at exactly 4095 bytes', deep + 'x'.repeat(84), '/' + 'r'.repeat(9), true],
    ['rooted at 4096 bytes', deep + 'x'.repeat(85), '/' + 'r'.repeat(9), false],
    ['rooted at 4096 bytes by a multibyte last character', deep + 'x'.repeat(83) + 'é', '/' + 'r'.repeat(9), false],
  ];
  for (const [what, name, root, fits] of cases) {
    const problem = lengthProblem(name, root);
    t.equal(problem === undefined, fits, `${what}: ${fits ? 'fits' : 'refused'}${problem ? ` (${problem})` : ''}`);
  }
  t.equal(NAME_MAX_BYTES, 255);
  t.equal(PATH_MAX_BYTES, 4095);
  t.match(nameProblem(`infra/vault/dev/${'a'.repeat(256)}`), /255/, 'push refuses such a name too (nameProblem)');
  t.equal(nameProblem(`infra/vault/dev/${'a'.repeat(255)}`), undefined);
});

t.test('VSYNC_MAX_VERSION_BYTES: whole bytes, at least 1 KiB, at most what one Buffer holds', async (t) => {
  const good: Array<[string, number]> = [
    ['268435456', DEFAULT_MAX_VERSION_BYTES],
    ['1024', 1024],
    ['1048576', 1 << 20],
    [' 2048 ', 2048],
  ];
  for (const [text, value] of good) t.equal(MaxVersionBytesSetting.parse(text), value, `${JSON.stringify(text)} → ${value}`);
  for (const bad of ['', 'abc', '0', '-1', '1023', '1.5', '1e400', '99999999999999999999', 'Infinity', 'NaN']) {
    t.equal(MaxVersionBytesSetting.safeParse(bad).success, false, `${JSON.stringify(bad)} refused`);
  }
});
