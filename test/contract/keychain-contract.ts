// The one contract every Keychain adapter passes: what daemon/keychain/keychain.ts promises, and no more. Each
// adapter's test calls runKeychainContract: MemoryKeychain (memory-keychain.test.ts), EnvKeychain
// (env-keychain.test.ts, the read-only variant, seeded through its env) and OsKeychain on a real Secret Service
// (keychain.test.ts). Every case names its own vaults under a random repo, so runs never see each other's keys,
// and every key the contract stored is deleted when it ends.
//
// Accounts are `<repo>/<env>` (keychainAccount) built from names shared/names.ts accepts: that is every account
// the agent ever asks for, so the "odd" names are the edges of that alphabet (dots, "_", "-", digits first,
// the longest names), not characters no vault can have.
import { randomBytes } from 'node:crypto';
import type { Keychain } from '../../daemon/keychain/keychain.js';
import { keychainAccount } from '../../daemon/keychain/keychain.js';
import { isVsyncError } from '../../shared/errors.js';
import { ENV_NAME, REPO_NAME } from '../../shared/names.js';
import type { TestContext } from '../helpers/tap-types.js';

export interface KeychainContractOptions {
  /**
   * Puts a key where a read-only keychain reads it (for EnvKeychain: its environment). Required when the
   * keychain is not writable; a writable one is seeded through its own set.
   */
  readonly seed?: (account: string, key: string) => void | Promise<void>;
}

/** Key text as vsync writes it: 32 random bytes, base64. */
export const keyText = (): string => randomBytes(32).toString('base64');

/** A repo name no other run uses. */
export const uniqueRepo = (): string => `vsync_contract_${randomBytes(6).toString('hex')}`;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    return isVsyncError(err) ? err.code : `not a VsyncError: ${String(err)}`;
  }
}

/** Accounts at the edges of the name alphabet, each under a fresh repo. */
function oddAccounts(): Array<[string, string]> {
  const tag = randomBytes(4).toString('hex');
  const long = `${tag}_${'x.y_'.repeat(30)}`.slice(0, 100);
  const names: Array<[string, string]> = [
    [`acme.web.v2.${tag}`, 'prod-eu_1'],
    [`_${tag}`, 'a'],
    [`9${tag}.`, 'z-'],
    [`a_b_${tag}`, 'e__-9'],
    [long, `e${'-_a9'.repeat(16)}`.slice(0, 64)],
  ];
  for (const [repo, env] of names) {
    if (!REPO_NAME.test(repo) || !ENV_NAME.test(env)) throw new Error(`the contract's own name is not a valid one: ${repo}/${env}`);
  }
  return names;
}

export function runKeychainContract(t: TestContext, keychain: Keychain, options: KeychainContractOptions = {}): void {
  const stored = new Set<string>();
  const seed = async (account: string, key: string): Promise<void> => {
    if (keychain.writable) {
      await keychain.set(account, key);
      stored.add(account);
    } else {
      if (!options.seed) throw new Error(`the read-only keychain ${keychain.name} needs a seed function`);
      await options.seed(account, key);
    }
  };
  t.teardown(async () => {
    for (const account of stored) {
      const code = await codeOf(keychain.delete(account));
      if (code !== 'ok' && code !== 'KEYCHAIN_NOT_FOUND') throw new Error(`could not remove ${account} from ${keychain.name}: ${code}`);
    }
  });

  t.test('name and writable', async (t) => {
    t.type(keychain.name, 'string');
    t.ok(keychain.name.length > 0, `a name for logs and vsync doctor: ${keychain.name}`);
    t.type(keychain.writable, 'boolean');
  });

  t.test('get of a missing account: KEYCHAIN_NOT_FOUND', async (t) => {
    const repo = uniqueRepo();
    t.equal(await codeOf(keychain.get(keychainAccount(repo, 'dev'))), 'KEYCHAIN_NOT_FOUND');
    await seed(keychainAccount(repo, 'dev'), keyText());
    t.equal(await codeOf(keychain.get(keychainAccount(repo, 'prod'))), 'KEYCHAIN_NOT_FOUND', 'another env of a repo that has a key');
    t.equal(await codeOf(keychain.get(keychainAccount(`${repo}x`, 'dev'))), 'KEYCHAIN_NOT_FOUND', 'a longer repo name: no prefix matching');
    t.equal(await codeOf(keychain.get(keychainAccount(repo.slice(0, -1), 'dev'))), 'KEYCHAIN_NOT_FOUND', 'a shorter repo name');
    t.equal(await codeOf(keychain.get(keychainAccount(repo, 'dev2'))), 'KEYCHAIN_NOT_FOUND', 'a longer env name');
  });

  t.test('a stored key is read back exactly, again and again', async (t) => {
    const account = keychainAccount(uniqueRepo(), 'dev');
    const key = keyText();
    await seed(account, key);
    t.equal(await keychain.get(account), key);
    t.equal(await keychain.get(account), key, 'a second read');
  });

  t.test('accounts are separate', async (t) => {
    const repo = uniqueRepo();
    const other = uniqueRepo();
    const keys = new Map([
      [keychainAccount(repo, 'dev'), keyText()],
      [keychainAccount(repo, 'prod'), keyText()],
      [keychainAccount(other, 'dev'), keyText()],
    ]);
    for (const [account, key] of keys) await seed(account, key);
    for (const [account, key] of keys) t.equal(await keychain.get(account), key, account);
  });

  t.test('names at the edges of the alphabet', async (t) => {
    for (const [repo, env] of oddAccounts()) {
      const account = keychainAccount(repo, env);
      const key = keyText();
      await seed(account, key);
      t.equal(await keychain.get(account), key, `${account} round-trips`);
      t.equal(await codeOf(keychain.get(keychainAccount(repo, 'other'))), 'KEYCHAIN_NOT_FOUND', `${repo}/other stays missing`);
    }
  });

  if (keychain.writable) writableContract(t, keychain, stored);
  else readOnlyContract(t, keychain, seed);
}

function writableContract(t: TestContext, keychain: Keychain, stored: Set<string>): void {
  const account = (repo: string, env: string): string => {
    const a = keychainAccount(repo, env);
    stored.add(a);
    return a;
  };

  t.test('set replaces the previous key', async (t) => {
    const a = account(uniqueRepo(), 'dev');
    await keychain.set(a, keyText());
    const second = keyText();
    await keychain.set(a, second);
    t.equal(await keychain.get(a), second);
  });

  t.test('delete removes the key; a missing one is KEYCHAIN_NOT_FOUND', async (t) => {
    const a = account(uniqueRepo(), 'dev');
    await keychain.set(a, keyText());
    await keychain.delete(a);
    t.equal(await codeOf(keychain.get(a)), 'KEYCHAIN_NOT_FOUND', 'get after delete');
    t.equal(await codeOf(keychain.delete(a)), 'KEYCHAIN_NOT_FOUND', 'delete again');
    t.equal(await codeOf(keychain.delete(keychainAccount(uniqueRepo(), 'never'))), 'KEYCHAIN_NOT_FOUND', 'delete of a never-set account');
    const key = keyText();
    await keychain.set(a, key);
    t.equal(await keychain.get(a), key, 'set after delete stores again');
  });

  t.test('delete of one account leaves the others', async (t) => {
    const repo = uniqueRepo();
    const dev = account(repo, 'dev');
    const prod = account(repo, 'prod');
    const longer = account(`${repo}x`, 'dev');
    const kp = keyText();
    const kl = keyText();
    await keychain.set(dev, keyText());
    await keychain.set(prod, kp);
    await keychain.set(longer, kl);
    await keychain.delete(dev);
    t.equal(await codeOf(keychain.get(dev)), 'KEYCHAIN_NOT_FOUND');
    t.equal(await keychain.get(prod), kp, 'the other env');
    t.equal(await keychain.get(longer), kl, 'the repo whose name starts the same');
  });

  t.test('names at the edges of the alphabet: set over, delete', async (t) => {
    for (const [repo, env] of oddAccounts()) {
      const a = account(repo, env);
      await keychain.set(a, keyText());
      const key = keyText();
      await keychain.set(a, key);
      t.equal(await keychain.get(a), key, `${a} replaced`);
      await keychain.delete(a);
      t.equal(await codeOf(keychain.get(a)), 'KEYCHAIN_NOT_FOUND', `${a} deleted`);
    }
  });
}

function readOnlyContract(t: TestContext, keychain: Keychain, seed: (account: string, key: string) => Promise<void>): void {
  t.test('set is refused with KEYCHAIN_READ_ONLY and changes nothing', async (t) => {
    const repo = uniqueRepo();
    const held = keychainAccount(repo, 'dev');
    const key = keyText();
    await seed(held, key);
    t.equal(await codeOf(keychain.set(held, keyText())), 'KEYCHAIN_READ_ONLY', 'over a key it holds');
    t.equal(await keychain.get(held), key, 'the key it holds is unchanged');
    const missing = keychainAccount(repo, 'prod');
    t.equal(await codeOf(keychain.set(missing, keyText())), 'KEYCHAIN_READ_ONLY', 'for an account it has no key for');
    t.equal(await codeOf(keychain.get(missing)), 'KEYCHAIN_NOT_FOUND', 'and that account stays missing');
  });

  t.test('delete is refused with KEYCHAIN_READ_ONLY and changes nothing', async (t) => {
    const repo = uniqueRepo();
    const held = keychainAccount(repo, 'dev');
    const key = keyText();
    await seed(held, key);
    t.equal(await codeOf(keychain.delete(held)), 'KEYCHAIN_READ_ONLY', 'of a key it holds');
    t.equal(await keychain.get(held), key, 'the key is still there');
    t.equal(await codeOf(keychain.delete(keychainAccount(repo, 'prod'))), 'KEYCHAIN_READ_ONLY', 'of an account it has no key for');
  });

  t.test('names at the edges of the alphabet: refused too', async (t) => {
    for (const [repo, env] of oddAccounts()) {
      const a = keychainAccount(repo, env);
      t.equal(await codeOf(keychain.set(a, keyText())), 'KEYCHAIN_READ_ONLY', `set ${a}`);
      t.equal(await codeOf(keychain.delete(a)), 'KEYCHAIN_READ_ONLY', `delete ${a}`);
    }
  });
}
