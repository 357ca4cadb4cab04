import t from 'tap';
import { SEAL_HEADER_BYTES, seal, unseal } from '../../daemon/crypto/seal.js';

const zip = Buffer.from('PK\x05\x06' + '\0'.repeat(18), 'latin1');

t.test('seal then unseal', async (t) => {
  const sealed = seal('20260516-113304', zip);
  t.equal(sealed.subarray(0, 23).toString('latin1'), 'RQEM000120260516-113304');
  const opened = unseal(sealed);
  t.equal(opened.ts, '20260516-113304');
  t.same(opened.payload, zip);
  t.same(unseal(seal('20260516-113304', Buffer.alloc(0))).payload, Buffer.alloc(0), 'empty payload');
});

t.test('bad seals', async (t) => {
  const good = seal('20260516-113304', zip);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['too short', good.subarray(0, SEAL_HEADER_BYTES - 1), /at least 23/],
    ['no magic', Buffer.concat([Buffer.from('XXXX0001'), good.subarray(8)]), /no RQEM magic/],
    ['newer seal version', Buffer.concat([Buffer.from('RQEM0002'), good.subarray(8)]), /seal version "0002"/],
    ['bad timestamp', Buffer.concat([Buffer.from('RQEM000120261399-000000'), zip]), /sealed timestamp/],
    ['timestamp with junk', Buffer.concat([Buffer.from('RQEM0001 0260516-113304'), zip]), /sealed timestamp/],
  ];
  for (const [name, buf, message] of cases) {
    t.throws(() => unseal(buf), { code: 'SEAL_INVALID', message }, name);
  }
});

t.test('a newer seal version says to upgrade', async (t) => {
  const newer = Buffer.concat([Buffer.from('RQEM0002'), seal('20260516-113304', zip).subarray(8)]);
  t.throws(() => unseal(newer), { code: 'SEAL_INVALID', hint: /newer vsync; upgrade/ });
});

t.test('sealing refuses a bad timestamp', async (t) => {
  t.throws(() => seal('2026-05-16', zip), { code: 'TIMESTAMP_INVALID' });
});
