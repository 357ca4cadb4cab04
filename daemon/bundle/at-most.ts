// Bounded concurrency for file work (reading a folder's files, writing an archive's entries): each file is
// a few system calls, each a round trip through libuv's thread pool, so one at a time leaves the disk and
// the pool idle between them.

/**
 * `work` on every item, at most `limit` at a time; the results in the items' order. After a failure nothing
 * new starts, what is running is waited for, and the failure of the earliest item is thrown (every item
 * before it has started, so which error is reported depends on the items alone, never on timing).
 */
export async function mapAtMost<T, R>(limit: number, items: readonly T[], work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure = undefined as { index: number; error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]!, index);
      } catch (error) {
        // (Read again after the await: another worker may have failed meanwhile.)
        const before = failure as { index: number; error: unknown } | undefined;
        if (before === undefined || index < before.index) failure = { index, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
