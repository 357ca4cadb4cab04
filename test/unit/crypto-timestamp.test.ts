import t from 'tap';
import { formatTimestamp, nextTimestamp, parseTimestamp } from '../../daemon/crypto/timestamp.js';

t.test('format and parse', async (t) => {
  const d = new Date(Date.UTC(2026, 4, 16, 11, 33, 4, 999));
  t.equal(formatTimestamp(d), '20260516-113304', 'UTC, truncated to the second');
  t.equal(parseTimestamp('20260516-113304').toISOString(), '2026-05-16T11:33:04.000Z');
  t.equal(parseTimestamp('00010101-000000').getUTCFullYear(), 1, 'year 1 stays year 1');
  t.equal(parseTimestamp('20240229-235959').toISOString(), '2024-02-29T23:59:59.000Z', 'leap day');
});

t.test('invalid timestamps', async (t) => {
  for (const bad of [
    '',
    '20260516113304',
    '20260516-11330',
    '2026051-6113304',
    '20260231-000000',
    '20250229-000000',
    '20261301-000000',
    '20260100-000000',
    '20260101-240000',
    '20260101-006000',
    '20260101-000060',
    '00000101-000000',
    ' 20260516-113304',
    '20260516-113304\n',
    '２0260516-113304',
    '../../etc',
  ]) {
    t.throws(() => parseTimestamp(bad), { code: 'TIMESTAMP_INVALID' }, JSON.stringify(bad));
  }
});

t.test('text order is time order', async (t) => {
  const stamps = [0, 1, 59, 60, 3599, 86_399, 86_400, 31_536_000].map((s) => formatTimestamp(new Date(Date.UTC(2026, 0, 1) + s * 1000)));
  t.same([...stamps].sort(), stamps);
});

t.test('next timestamp is strictly greater', async (t) => {
  const now = new Date(Date.UTC(2026, 4, 16, 11, 33, 4));
  t.equal(nextTimestamp(undefined, now), '20260516-113304', 'no previous version: now');
  t.equal(nextTimestamp('20260516-113303', now), '20260516-113304', 'previous in the past: now');
  t.equal(nextTimestamp('20260516-113304', now), '20260516-113305', 'same second: one later');
  t.equal(nextTimestamp('20260516-120000', now), '20260516-120001', 'clock behind a teammate: previous + 1 s');
  t.equal(nextTimestamp('20261231-235959', now), '20270101-000000', 'rolls over the year');
  let ts = '20260516-113304';
  for (let i = 0; i < 100; i++) {
    const next = nextTimestamp(ts, now);
    if (!(next > ts)) t.fail(`${next} is not after ${ts}`);
    ts = next;
  }
  t.equal(ts, '20260516-113444', 'a hundred pushes in one second stay ordered');
  t.throws(() => nextTimestamp('garbage', now), { code: 'TIMESTAMP_INVALID' });
});
