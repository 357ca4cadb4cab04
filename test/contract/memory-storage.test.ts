// The unit tests' in-memory store must keep the same contract as the real adapters.
import t from 'tap';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { runStorageContract } from './storage-contract.js';

t.test('contract: memory store', async (t) => {
  runStorageContract(t, new MemoryStorage(), { describes: /^memory:\/\/\// });
});
