// An in-memory Keychain for unit tests of domain logic: same contract as the real adapters (NOT_FOUND on a missing
// get or delete), no validation of the key text, nothing persisted.
import { VsyncError } from '../../shared/errors.js';
import type { Keychain } from '../../daemon/keychain/keychain.js';

export class MemoryKeychain implements Keychain {
  readonly writable = true;
  readonly name = 'memory';
  readonly entries: Map<string, string>;

  constructor(entries: Iterable<readonly [string, string]> = []) {
    this.entries = new Map(entries);
  }

  async get(account: string): Promise<string> {
    const key = this.entries.get(account);
    if (key === undefined) throw new VsyncError('KEYCHAIN_NOT_FOUND', `no entry for account "${account}" (memory keychain)`);
    return key;
  }

  async set(account: string, key: string): Promise<void> {
    this.entries.set(account, key);
  }

  async delete(account: string): Promise<void> {
    if (!this.entries.delete(account)) {
      throw new VsyncError('KEYCHAIN_NOT_FOUND', `no entry for account "${account}" (memory keychain)`);
    }
  }
}
