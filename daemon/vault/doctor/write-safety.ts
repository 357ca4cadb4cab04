// What `vsync push` says about a store that ignores conditional writes: once per store and agent life, on
// the first manual push there, that lost updates cannot be ruled out.
//
// Why a probe and not something a push could notice on its own: on such a store a push's own requests all
// succeed. The version key is new, so put-if-absent cannot show anything; the pointer's put-if-match is
// accepted either way, and only when a teammate moved it meanwhile would acceptance be the bug, which is the
// lost update itself, seen too late and only by the loser. So the agent asks the store once (write-probe.ts:
// five small requests on a scratch key) and keeps the verdict for as long as it keeps the store: adapters.ts
// hands out one Storage per distinct setting for the agent's life, so the store object is the cache key.
import type { Storage } from '../../storage/storage.js';
import type { VaultRef } from '../vault.js';
import { enforced, probeWrites, scratchKey, type WriteProbe } from './write-probe.js';

export class WriteSafety {
  private readonly verdicts = new WeakMap<Storage, Promise<WriteProbe | undefined>>();
  private readonly warned = new WeakSet<Storage>();

  /**
   * The warning for this store the first time it is asked after the store was found to ignore conditional
   * writes, else undefined. Never throws: a probe the store failed (unreachable, refused) says nothing, is
   * not kept, and is made again on the next push; the push's own requests report the store's trouble.
   */
  async warning(storage: Storage, ref: VaultRef): Promise<string | undefined> {
    if (this.warned.has(storage)) return undefined;
    let verdict = this.verdicts.get(storage);
    if (!verdict) {
      verdict = probeWrites(storage, scratchKey(ref.repo, ref.env)).catch(() => {
        this.verdicts.delete(storage);
        return undefined;
      });
      this.verdicts.set(storage, verdict);
    }
    const probe = await verdict;
    // Two first pushes to one store (two vaults) share the probe; only one of them warns.
    if (!probe || enforced(probe) || this.warned.has(storage)) return undefined;
    this.warned.add(storage);
    return `${storage.describe('')} does not honour conditional writes (${ignoredWhat(probe)} on a scratch object): lost updates cannot be ruled out when two machines push at once; run \`vsync doctor ${ref.env}\` for more`;
  }
}

function ignoredWhat(probe: WriteProbe): string {
  if (probe.ifNoneMatch === 'ignored') return 'it ignored If-None-Match: *';
  if (probe.ifMatch === 'ignored') return 'it ignored If-Match';
  return 'it refused If-Match with the current ETag';
}
