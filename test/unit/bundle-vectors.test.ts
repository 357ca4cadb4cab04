// The zips inside the vectors were made by Python's zipfile (reference.py), not by vsync: the guarded
// unzip must accept another writer's ordinary archives, and put each file where its name says.
import t from 'tap';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seal, unseal } from '../../daemon/crypto/seal.js';
import { unzipToStaging } from '../../daemon/bundle/unzip-to-staging.js';
import { projectRoot } from '../helpers/built.js';

const dir = join(projectRoot, 'test', 'vectors');
const expected: Array<[string, string, Record<string, string>]> = [
  ['sealed-single-env-file', 'dev', { '.env.dev': 'DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n' }],
  [
    'sealed-nested-files-18-byte-salt',
    'production',
    {
      '.env.production': 'STRIPE_KEY=sk_live_xyz\n',
      'certs/tls.key': '-----BEGIN PRIVATE KEY-----\nMIIB\n',
      'gcp.json': '{"type":"service_account"}\n',
    },
  ],
  ['sealed-empty-zip', 'dev', {}],
];

for (const [name, env, files] of expected) {
  t.test(name, async (t) => {
    const v = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as { ts: string; plaintext: string };
    const zip = unseal(seal(v.ts, Buffer.from(v.plaintext, 'hex'))).payload;
    const staging = mkdtempSync(join(tmpdir(), 'vsync-vector-unzip-'));
    t.teardown(() => rmSync(staging, { recursive: true, force: true }));
    const result = await unzipToStaging(zip, staging, `infra/vault/${env}`);
    t.same(result.files, Object.keys(files).sort());
    for (const [path, content] of Object.entries(files)) t.equal(readFileSync(join(staging, path), 'utf8'), content, path);
    if (Object.keys(files).length === 0) t.same(readdirSync(staging), []);
  });
}
