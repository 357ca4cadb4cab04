// put / get / put-if-match latency, through the stack the agent uses (adapter inside RetryingStorage),
// with a 646-byte body (the size of the product page's example version) and the 15-byte pointer.
import { randomBytes } from 'node:crypto';
import { RetryingStorage } from '../daemon/storage/retrying-storage.js';
import type { Storage } from '../daemon/storage/storage.js';
import { ms, sample, table } from './measure.js';

const RUNS = 200;

export async function benchStorage(label: string, adapter: Storage): Promise<void> {
  const storage = new RetryingStorage(adapter);
  const ns = `bench_${randomBytes(4).toString('hex')}/dev`;
  const version = randomBytes(646);
  const put = await sample(RUNS, (i) => storage.put(`${ns}/versions/put-${i}.enc`, version));
  const putIfAbsent = await sample(RUNS, (i) => storage.putIfAbsent(`${ns}/versions/new-${i}.enc`, version));
  const get = await sample(RUNS, (i) => storage.get(`${ns}/versions/put-${Math.max(i, 0)}.enc`));
  let etag = (await storage.put(`${ns}/latest`, Buffer.from('20260516-113304'))).etag;
  let n = 0;
  const putIfMatch = await sample(RUNS, async () => {
    etag = (await storage.putIfMatch(`${ns}/latest`, Buffer.from(`20260516-${String(113305 + n++).padStart(6, '0')}`), etag)).etag;
  });
  const list = await sample(20, () => storage.list(`${ns}/versions/`), 2);
  table(
    `Storage latency: ${label}`,
    ['operation', 'median ms', 'p95 ms', 'runs'],
    [
      ['put (646 B)', ms(put.medianMs), ms(put.p95Ms), String(RUNS)],
      ['put-if-absent (646 B)', ms(putIfAbsent.medianMs), ms(putIfAbsent.p95Ms), String(RUNS)],
      ['get (646 B)', ms(get.medianMs), ms(get.p95Ms), String(RUNS)],
      ['put-if-match (pointer)', ms(putIfMatch.medianMs), ms(putIfMatch.p95Ms), String(RUNS)],
      [`list (${2 * RUNS + 10} keys)`, ms(list.medianMs), ms(list.p95Ms), '20'],
    ],
  );
}
