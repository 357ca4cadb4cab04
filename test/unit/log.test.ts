// vsync log's domain: each push writes its log entry (who, which machine, what it holds, values masked) beside
// the version, never touching the version's bytes; log reads the entries, falls back on the version itself for
// one pushed without an entry, and tells an entry that is not the version's, and a version under another key.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VsyncError } from '../../shared/errors.js';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { generateKey } from '../../daemon/crypto/key.js';
import { seal } from '../../daemon/crypto/seal.js';
import { toContents } from '../../daemon/vault/diff/compare.js';
import { vaultMasking } from '../../daemon/vault/diff/compare.js';
import { log } from '../../daemon/vault/log.js';
import { push } from '../../daemon/vault/push.js';
import { logKey, versionKey } from '../../daemon/vault/remote-layout.js';
import { encodeMeta, metaOf, readMeta, VersionMetaSchema } from '../../daemon/vault/version-meta.js';
import { fileSha256 } from '../../daemon/bundle/tree-digest.js';
import { bundleFolder } from '../../daemon/bundle/zip-folder.js';
import type { Authorship } from '../../daemon/vault/authorship.js';
import { machineId, machineIdFile } from '../../daemon/vault/authorship.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import type { Body } from '../../daemon/storage/storage.js';
import { envFileOf, twoMachines, type Machine } from '../helpers/vault-fixture.js';
import { VECTORS } from '../helpers/reference-py.js';

const alice: Authorship = { by: 'alice@example.com', machine: { id: '0123456789abcdef', name: 'laptop' } };
const bob: Authorship = { by: 'bob@example.com', machine: { id: 'fedcba9876543210' } };
const as = (m: Machine, who: Authorship | undefined): Machine => ({
  ...m,
  deps: { ...m.deps, ...(who ? { author: async () => who } : { author: undefined }) },
});

t.test('the FORMAT.md §14 vector: the entry vsync writes is the one the reference made from the document', async (t) => {
  const v = JSON.parse(readFileSync(join(VECTORS, 'log-entry.json'), 'utf8')) as {
    key: string;
    salt: string;
    ts: string;
    plaintext: string;
    envelope: string;
  };
  const aesKey = await deriveKey(v.key, v.salt);
  const data = Buffer.from('DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n');
  const contents = toContents([{ path: '.env.dev', size: data.length, sha256: fileSha256(data), data }], vaultMasking(aesKey, false));
  const meta = metaOf(v.ts, alice, contents);
  t.equal(JSON.stringify(VersionMetaSchema.parse(meta)), Buffer.from(v.plaintext, 'hex').toString('utf8'), 'byte for byte');
  const storage = new MemoryStorage();
  await storage.put(logKey('vsync', 'dev', v.ts), Buffer.from(v.envelope, 'hex'));
  t.same(await readMeta(storage, 'vsync', 'dev', aesKey, v.ts), meta, "and vsync reads the reference's");
  t.notMatch(Buffer.from(v.plaintext, 'hex').toString(), /postgres|abc123/, 'no value in it');
});

t.test('log: who, which machine, and what each version changed, from the entries alone', async (t) => {
  const { cleanup, clock, a, b, storage } = await twoMachines('vsync-log-', new MemoryStorage());
  t.teardown(cleanup);
  const aa = as(a, alice);
  writeFileSync(envFileOf(a), 'DB=one\nAPI=k\n');
  const v1 = (await push(aa.deps, a.ref, {}, () => undefined)).version;
  const versionBytes = (await storage.get(versionKey('vsync', 'dev', v1))).body;
  clock.advance(1);
  writeFileSync(envFileOf(a), 'DB=two\nAPI=k\nNEW=1\n');
  writeFileSync(join(a.ref.root, 'infra', 'vault', 'dev', 'tls.key'), 'KEY');
  const v2 = (await push(aa.deps, a.ref, {}, () => undefined)).version;

  // Bob reads the log with no version downloaded: only entries, the pointer and the listing.
  const gets: string[] = [];
  const counting = Object.create(storage) as MemoryStorage;
  counting.download = (key, consume, options) => {
    gets.push(key);
    return storage.download(key, consume, options);
  };
  const r = await log({ ...b.deps, storageFor: () => counting }, b.ref, {});
  t.same(gets, [], 'no version downloaded');
  t.equal(r.latest, v2);
  t.equal(r.more, 0);
  t.match(r.entries, [
    {
      ts: v2,
      latest: true,
      entry: 'ok',
      by: 'alice@example.com',
      machine: { id: '0123456789abcdef', name: 'laptop' },
      summary: '.env.dev (~DB, +NEW), tls.key (added)',
    },
    { ts: v1, latest: false, entry: 'ok', summary: '.env.dev (added)' },
  ]);
  t.same(
    r.entries[1]!.changes![0]!.keys!.map((k) => k.name),
    ['API', 'DB'],
  );
  t.notMatch(JSON.stringify(r), /"one"|"two"|"k"/, 'no value');
  t.same(
    (await storage.get(versionKey('vsync', 'dev', v1))).body,
    versionBytes,
    "the version's bytes are what a push without entries writes",
  );

  const one = await log(b.deps, b.ref, { limit: 1 });
  t.equal(one.entries.length, 1);
  t.equal(one.more, 1);
  t.equal(one.entries[0]!.summary, '.env.dev (~DB, +NEW), tls.key (added)', 'the oldest shown is still said against the one before it');
});

t.test('log: a version without an entry, an entry that is not its own, a version under another key', async (t) => {
  const { cleanup, clock, a, b, storage } = await twoMachines('vsync-log-', new MemoryStorage());
  t.teardown(cleanup);
  writeFileSync(envFileOf(a), 'A=1\n');
  const v1 = (await push(as(a, alice).deps, a.ref, {}, () => undefined)).version;
  clock.advance(1);
  writeFileSync(envFileOf(a), 'A=1\nB=2\n');
  const v2 = (await push(as(a, undefined).deps, a.ref, {}, () => undefined)).version; // an older vsync: no entry
  clock.advance(1);
  writeFileSync(envFileOf(a), 'A=1\nB=3\n');
  const v3 = (await push(as(a, bob).deps, a.ref, {}, () => undefined)).version;

  let r = await log(b.deps, b.ref, {});
  t.match(r.entries, [
    { ts: v3, entry: 'ok', by: 'bob@example.com', machine: { id: 'fedcba9876543210' }, summary: '.env.dev (~B)' },
    { ts: v2, entry: 'missing', summary: '.env.dev (+B)' },
    { ts: v1, entry: 'ok', summary: '.env.dev (added)' },
  ]);
  t.notOk('by' in r.entries[1]!, 'who is unknown');
  t.notOk('name' in r.entries[0]!.machine!, 'no hostname when left out');

  // Someone who can write the store copies v1's entry over v3's name: the seal says it is not v3's.
  await storage.put(logKey('vsync', 'dev', v3), (await storage.get(logKey('vsync', 'dev', v1))).body);
  r = await log(b.deps, b.ref, {});
  t.match(r.entries[0], { ts: v3, entry: 'invalid', summary: '.env.dev (~B)' }, 'read from the version instead');
  t.notOk('by' in r.entries[0]!);
  await storage.put(logKey('vsync', 'dev', v3), Buffer.from('junk'));
  t.match((await log(b.deps, b.ref, {})).entries[0], { entry: 'invalid' });

  // A version under a key this machine does not hold (pushed before a rotation, say).
  const other = await deriveKey(generateKey(), 'AAAAAAAAAAAAAAAAAAAAAA==');
  clock.advance(1);
  const v0 = '20260516-100000';
  await storage.put(
    versionKey('vsync', 'dev', v0),
    encryptEnvelope(other, seal(v0, (await bundleFolder(a.ref.root, 'infra/vault/dev')).zip)),
  );
  await storage.put(logKey('vsync', 'dev', v0), encodeMeta(other, metaOf(v0, alice, new Map())));
  r = await log(b.deps, b.ref, {});
  t.match(r.entries.at(-1), { ts: v0, entry: 'other-key' });
  t.notOk('summary' in r.entries.at(-1)! || 'by' in r.entries.at(-1)!, 'neither who nor what');
  t.match(r.entries.at(-2), { ts: v1, entry: 'ok' });
  t.notOk('summary' in r.entries.at(-2)!, 'what v1 changed against a version it cannot read: unknown, not "everything added"');
});

t.test('the machine id: made once, 16 hex characters, 0600, kept; a damaged file is replaced', async (t) => {
  const dir = t.testdir();
  const env = { HOME: dir };
  const id = await machineId(env);
  t.match(id, /^[0-9a-f]{16}$/);
  t.equal(await machineId(env), id, 'stable');
  const { statSync } = await import('node:fs');
  t.equal(statSync(machineIdFile(env)).mode & 0o777, 0o600);
  writeFileSync(machineIdFile(env), 'not an id\n');
  const again = await machineId(env);
  t.match(again, /^[0-9a-f]{16}$/);
  t.not(again, id);
});

t.test('with no key for the vault, or nothing pushed: each new command says so, and writes nothing', async (t) => {
  const { cleanup, a, b, keychain, storage } = await twoMachines('vsync-nokey-', new MemoryStorage());
  t.teardown(cleanup);
  const { diff } = await import('../../daemon/vault/diff/diff.js');
  const { envValues } = await import('../../daemon/vault/env-file.js');
  const { rotateKey } = await import('../../daemon/vault/key-rotate.js');
  t.same(
    await log(a.deps, a.ref, {}),
    { repo: 'vsync', env: 'dev', location: 'memory:///vsync/dev/versions/', entries: [], more: 0 },
    'never pushed: an empty log',
  );
  await t.rejects(envValues(b.deps, b.ref, { latest: true }), { code: 'VAULT_EMPTY' });
  await t.rejects(
    rotateKey(a.deps, a.ref, () => undefined),
    { code: 'VAULT_EMPTY' },
  );

  writeFileSync(envFileOf(a), 'A=1\n');
  await push(a.deps, a.ref, {}, () => undefined);
  const objects = (await storage.list('')).map((o) => o.key);
  await keychain.delete('vsync/dev');
  const fresh = { ...b, deps: { ...b.deps, keys: new (await import('../../daemon/vault/key-ring.js')).KeyRing(keychain) } };
  const attempts: Array<[string, () => Promise<unknown>]> = [
    ['diff', () => diff(fresh.deps, b.ref, {})],
    ['log', () => log(fresh.deps, b.ref, {})],
    ['run --latest', () => envValues(fresh.deps, b.ref, { latest: true })],
    ['key rotate', () => rotateKey(fresh.deps, b.ref, () => undefined)],
  ];
  for (const [what, run] of attempts) {
    await t.rejects(run(), { code: 'KEYCHAIN_NOT_FOUND' }, what);
  }
  t.same(
    (await storage.list('')).map((o) => o.key),
    objects,
    'the store is as it was',
  );
  t.notOk([...keychain.entries.keys()].length, 'and the keychain');
});

t.test('who: git user.email, asked of git again only when a git config file changed', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { chmodSync, mkdirSync, readFileSync: read } = await import('node:fs');
  const { localAuthor } = await import('../../daemon/vault/authorship.js');
  const dir = t.testdir();
  const root = join(dir, 'repo');
  mkdirSync(root);
  execFileSync('git', ['init', '-q', root]);
  execFileSync('git', ['-C', root, 'config', 'user.email', 'first@example.com']);
  // A git on PATH that counts its runs, then runs the real one.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  writeFileSync(join(bin, 'git'), `#!/bin/sh\necho run >> ${join(dir, 'runs')}\nexec ${real} "$@"\n`);
  chmodSync(join(bin, 'git'), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  t.teardown(() => {
    process.env.PATH = path;
  });
  const runs = () => read(join(dir, 'runs'), 'utf8').split('\n').filter(Boolean).length;
  const author = localAuthor({ HOME: join(dir, 'home') }, { hostname: false });
  t.match(await author(root), { by: 'first@example.com', machine: { id: /^[0-9a-f]{16}$/ } });
  t.notOk('name' in (await author(root)).machine, 'no hostname when left out');
  t.equal(runs(), 1, 'git asked once for two pushes');
  execFileSync(real, ['-C', root, 'config', 'user.email', 'second@example.com']);
  t.equal((await author(root)).by, 'second@example.com', 'a changed config is seen');
  t.equal(runs(), 2);
  const host = localAuthor({ HOME: join(dir, 'home') }, { hostname: true });
  t.match((await host(root)).machine, { name: /.+/ });
});

t.test('a push whose log entry cannot be written is still a push, and says so; log then reads the version itself', async (t) => {
  const storage = new MemoryStorage();
  const { cleanup, a, b } = await twoMachines('vsync-nolog-', storage);
  t.teardown(cleanup);
  const putIfAbsent = storage.putIfAbsent.bind(storage);
  storage.putIfAbsent = async (key: string, body: Body) => {
    if (key.includes('/log/')) throw new VsyncError('STORAGE_PERMANENT', `${key}: AccessDenied`);
    return putIfAbsent(key, body);
  };
  writeFileSync(envFileOf(a), 'A=1\n');
  const warnings: string[] = [];
  const pushed = await push(as(a, alice).deps, a.ref, {}, (e) => {
    if (e.kind === 'warning') warnings.push(e.text);
  });
  t.match(warnings, [new RegExp(`^version ${pushed.version} has no log entry \\(the store refused the request: .*AccessDenied\\)$`)]);
  t.match((await log(b.deps, b.ref, {})).entries, [{ ts: pushed.version, latest: true, entry: 'missing', summary: '.env.dev (added)' }]);
});
