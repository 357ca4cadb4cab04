// The headless key source keeps the read-only half of the keychain contract: keys are seeded through the
// environment object it reads (VSYNC_KEY_<REPO>_<ENV>), never through set. The general VSYNC_KEY is left
// unset, since it answers for every account and "missing" could never be seen; test/unit/env-keychain.test.ts
// covers it and the validation of the key text.
import t from 'tap';
import { EnvKeychain, specificKeyVariable } from '../../daemon/keychain/env-keychain.js';
import { runKeychainContract } from './keychain-contract.js';

t.test('contract: environment keychain (read-only)', async (t) => {
  const env: Record<string, string | undefined> = {};
  const keychain = new EnvKeychain(env);
  t.equal(keychain.writable, false);
  runKeychainContract(t, keychain, {
    seed: (account, key) => {
      const variable = specificKeyVariable(account);
      if (env[variable] !== undefined) throw new Error(`two of the contract's accounts share ${variable}`);
      env[variable] = key;
    },
  });
});
