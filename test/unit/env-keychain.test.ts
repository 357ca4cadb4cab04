import { randomBytes } from 'node:crypto';
import t from 'tap';
import { isVsyncError } from '../../shared/errors.js';
import { EnvKeychain, GENERAL_KEY_VARIABLE, specificKeyVariable } from '../../daemon/keychain/env-keychain.js';
import { keychainAccount } from '../../daemon/keychain/keychain.js';
import { MemoryKeychain } from '../fakes/memory-keychain.js';
import { caught } from '../helpers/caught.js';

const key = (): string => randomBytes(32).toString('base64');

t.test('variable names', async (t) => {
  t.equal(specificKeyVariable(keychainAccount('acme.web', 'prod-eu')), 'VSYNC_KEY_ACME_WEB_PROD_EU');
  t.equal(specificKeyVariable(keychainAccount('my_repo', 'dev')), 'VSYNC_KEY_MY_REPO_DEV');
  t.equal(specificKeyVariable('a1/b2'), 'VSYNC_KEY_A1_B2');
  t.equal(GENERAL_KEY_VARIABLE, 'VSYNC_KEY');
});

t.test('the specific variable beats the general one', async (t) => {
  const general = key();
  const specific = key();
  const kc = new EnvKeychain({ VSYNC_KEY: general, VSYNC_KEY_ACME_WEB_PROD: specific });
  t.equal(await kc.get('acme.web/prod'), specific);
  t.equal(await kc.get('acme.web/dev'), general, 'other vaults fall back to VSYNC_KEY');
  t.equal(await new EnvKeychain({ VSYNC_KEY_ACME_WEB_PROD: specific }).get('acme.web/prod'), specific, 'specific alone');
  t.equal(
    await new EnvKeychain({ VSYNC_KEY: general, VSYNC_KEY_ACME_WEB_PROD: '' }).get('acme.web/prod'),
    general,
    'empty counts as unset',
  );
  t.equal(kc.name, 'env:VSYNC_KEY');
});

t.test('the environment is read at each get', async (t) => {
  const env: Record<string, string | undefined> = {};
  const kc = new EnvKeychain(env);
  await t.rejects(kc.get('r/e'), { code: 'KEYCHAIN_NOT_FOUND' });
  const k = key();
  env.VSYNC_KEY = k;
  t.equal(await kc.get('r/e'), k);
});

t.test('an invalid key is refused without echoing it', async (t) => {
  const good = key();
  const bad = [
    'not-a-key-at-all-but-quite-long-secret-text',
    good.slice(0, 43),
    `${good}\n`,
    ` ${good}`,
    good.replace(/.$/, '!'),
    Buffer.alloc(32, 0xfb).toString('base64url') + '=',
    randomBytes(33).toString('base64'),
    randomBytes(24).toString('hex'),
  ];
  for (const value of bad) {
    for (const [env, variable] of [
      [{ VSYNC_KEY: value }, 'VSYNC_KEY'],
      [{ VSYNC_KEY: good, VSYNC_KEY_R_E: value }, 'VSYNC_KEY_R_E'],
    ] as const) {
      const err = await caught(new EnvKeychain(env).get('r/e'));
      t.ok(isVsyncError(err, 'KEY_INVALID'), `KEY_INVALID for ${JSON.stringify(value)} in ${variable}`);
      if (!isVsyncError(err)) continue;
      const shown = `${err.message}\n${err.hint}\n${err.detail}\n${err.stack}\n${JSON.stringify(err)}`;
      t.notOk(shown.includes(value.trim()), 'the value is not in the error');
      t.notOk(shown.includes(value.trim().slice(0, 12)), 'nor a prefix of it');
      t.ok(err.message.includes(variable), 'the error names the variable');
    }
  }
});

t.test('unset: NOT_FOUND naming both variables', async (t) => {
  const err = await caught(new EnvKeychain({ PATH: '/usr/bin' }).get('acme.web/prod'));
  t.ok(isVsyncError(err, 'KEYCHAIN_NOT_FOUND'));
  if (!isVsyncError(err)) return;
  t.match(err.message, /VSYNC_KEY_ACME_WEB_PROD/);
  t.match(err.message, /VSYNC_KEY\b/);
  t.match(err.hint, /VSYNC_KEY_ACME_WEB_PROD/);
  t.match(err.message, /acme\.web\/prod/);
});

t.test('set and delete are refused, and nothing is written anywhere', async (t) => {
  const k = key();
  const env: Record<string, string | undefined> = { VSYNC_KEY: k };
  const frozen = Object.freeze({ ...env });
  const before = JSON.stringify(process.env);
  const kc = new EnvKeychain(env);
  const err = await caught(kc.set('r/e', key()));
  t.ok(isVsyncError(err, 'KEYCHAIN_READ_ONLY'));
  t.notOk(String((err as Error).message).includes(k));
  await t.rejects(kc.delete('r/e'), { code: 'KEYCHAIN_READ_ONLY' });
  await t.rejects(kc.delete('nothing/here'), { code: 'KEYCHAIN_READ_ONLY' }, 'read-only even when missing');
  t.same(env, { VSYNC_KEY: k }, 'the env object is unchanged');
  t.equal(await kc.get('r/e'), k);
  t.equal(JSON.stringify(process.env), before, 'process.env is unchanged');
  // A frozen env object works too (a write would throw in strict mode).
  t.equal(await new EnvKeychain(frozen).get('r/e'), k);
  await t.rejects(new EnvKeychain(frozen).set('r/e', key()), { code: 'KEYCHAIN_READ_ONLY' });
});

t.test('defaults to process.env', async (t) => {
  const variable = specificKeyVariable('envkc.test/unit');
  t.equal(process.env[variable], undefined);
  if (!process.env.VSYNC_KEY) await t.rejects(new EnvKeychain().get('envkc.test/unit'), { code: 'KEYCHAIN_NOT_FOUND' });
  const k = key();
  process.env[variable] = k;
  t.teardown(() => {
    delete process.env[variable];
  });
  t.equal(await new EnvKeychain().get('envkc.test/unit'), k);
});

t.test('memory keychain keeps the contract', async (t) => {
  const kc = new MemoryKeychain();
  await t.rejects(kc.get('r/e'), { code: 'KEYCHAIN_NOT_FOUND' });
  await t.rejects(kc.delete('r/e'), { code: 'KEYCHAIN_NOT_FOUND' });
  const a = key();
  const b = key();
  await kc.set('r/e', a);
  await kc.set('r/f', b);
  t.equal(await kc.get('r/e'), a);
  t.equal(await kc.get('r/f'), b);
  await kc.set('r/e', b);
  t.equal(await kc.get('r/e'), b, 'overwrite');
  await kc.delete('r/e');
  await t.rejects(kc.get('r/e'), { code: 'KEYCHAIN_NOT_FOUND' });
  t.equal(await new MemoryKeychain([['x/y', a]]).get('x/y'), a, 'seeded');
});
