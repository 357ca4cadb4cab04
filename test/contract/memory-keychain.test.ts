// The unit tests' in-memory keychain must keep the same contract as the real adapters.
import t from 'tap';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { runKeychainContract } from './keychain-contract.js';

t.test('contract: memory keychain', async (t) => {
  runKeychainContract(t, new MemoryKeychain());
});

t.test('nothing is left behind: the contract deletes what it stored', async (t) => {
  const keychain = new MemoryKeychain();
  await t.test('the contract', async (t) => runKeychainContract(t, keychain));
  t.same([...keychain.entries.keys()], []);
});
