// vsync and spec-reader.py (an implementation written from docs/FORMAT.md alone) read each other's writing:
// vsync writes a config, a key and two versions to a directory store; the spec reader pulls the latest;
// the spec reader pushes a new version; vsync reads it back through its own guards.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { zipFolder } from '../../daemon/bundle/zip-folder.js';
import { unzipToStaging } from '../../daemon/bundle/unzip-to-staging.js';
import { decryptEnvelope, encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { generateKey, generateSalt } from '../../daemon/crypto/key.js';
import { keyCheck } from '../../daemon/crypto/key-check.js';
import { seal, unseal } from '../../daemon/crypto/seal.js';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { readConfig, writeConfig } from '../../daemon/vault/config.js';
import { configFile } from '../../shared/paths.js';
import { skipUnless } from '../helpers/real-component.js';

const run = promisify(execFile);
const python = '/usr/bin/python3';
const script = join(import.meta.dirname, 'spec-reader.py');
const hasPython = await run(python, ['-c', 'import cryptography']).then(
  () => true,
  () => false,
);
const skip = skipUnless(hasPython, 'the spec reader needs /usr/bin/python3 with python3-cryptography');

t.test('vsync and an implementation of FORMAT.md read each other', { skip }, async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'vsync-interop-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const repo = join(data, 'repo');
  const vault = join(repo, 'infra', 'vault', 'staging');
  mkdirSync(join(vault, 'certs'), { recursive: true });
  writeFileSync(join(vault, 'certs', 'ca.pem'), '-----BEGIN CERTIFICATE-----\nabc\n');

  const key = generateKey();
  const salt = generateSalt();
  const aesKey = await deriveKey(key, salt);
  writeFileSync(join(data, 'KEY'), key);
  const file = configFile('acme_web', 'staging', { XDG_CONFIG_HOME: join(data, 'config') });
  await writeConfig(file, {
    version: 1,
    store: { kind: 'dir', root: join(data, 'store') },
    encryption: { salt, keyCheck: keyCheck(aesKey) },
  });
  const store = new DirStorage(join(data, 'store'));
  for (const ts of ['20261128-090000', '20261129-101500']) {
    writeFileSync(join(vault, '.env.staging'), `DB=postgres://staging\nTOKEN=${ts}\n`);
    await store.putIfAbsent(
      `acme_web/staging/versions/${ts}.enc`,
      encryptEnvelope(aesKey, seal(ts, await zipFolder(repo, 'infra/vault/staging'))),
    );
  }
  await store.put('acme_web/staging/latest', Buffer.from('20261129-101500'));

  const out = join(data, 'pulled');
  const pull = await run(python, [script, 'pull', '--data', data, '--out', out]);
  t.match(pull.stdout, /keyCheck: OK/, 'the spec reader accepts the key check');
  t.equal(readFileSync(join(out, 'infra', 'vault', 'staging', '.env.staging'), 'utf8'), 'DB=postgres://staging\nTOKEN=20261129-101500\n');
  t.equal(readFileSync(join(out, 'infra', 'vault', 'staging', 'certs', 'ca.pem'), 'utf8'), '-----BEGIN CERTIFICATE-----\nabc\n');

  // The spec writer's clock is given, never today's date: one push with a clock behind `latest`, one ahead.
  const pushAt = async (now: string, token: string): Promise<string> => {
    writeFileSync(join(vault, '.env.staging'), `DB=postgres://staging\nTOKEN=${token}\n`);
    const push = await run(python, [script, 'push', '--data', data, '--from', repo, '--now', now]);
    const ts = (await store.get('acme_web/staging/latest')).body.toString().trim();
    t.match(push.stdout, new RegExp(`^pushed ${ts} `, 'm'), 'the spec writer names what it pushed');
    return ts;
  };
  t.equal(await pushAt('20261129-101459', 'from-the-spec'), '20261129-101501', 'a clock behind latest: the spec writer takes latest + 1 s');
  const ts = await pushAt('20300101-000000', 'later');
  t.equal(ts, '20300101-000000', 'a clock ahead of latest: the spec writer takes the clock');

  const config = await readConfig(file);
  const sealed = unseal(decryptEnvelope(aesKey, (await store.get(`acme_web/staging/versions/${ts}.enc`)).body));
  t.equal(sealed.ts, ts, 'the seal names the pointer');
  const staging = mkdtempSync(join(data, 'staging-'));
  const { files } = await unzipToStaging(sealed.payload, staging, 'infra/vault/staging');
  t.same(files, ['.env.staging', 'certs/ca.pem']);
  t.equal(readFileSync(join(staging, '.env.staging'), 'utf8'), 'DB=postgres://staging\nTOKEN=later\n');
  t.equal(config.encryption.salt, salt);
});
