// vsync diff's domain: dotenv files read as Node reads them, compared key by key with values masked, files by
// their bytes; the operation over the in-memory store and real folders, each side a version or the folder;
// and a version that is not what it claims refused as a pull would refuse it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { ZipArchive } from 'archiver';
import type { FileChange } from '../../shared/api.js';
import { fingerprint, maskKey } from '../../daemon/crypto/value-mask.js';
import { encryptEnvelope } from '../../daemon/crypto/envelope.js';
import { seal } from '../../daemon/crypto/seal.js';
import { compareContents, type Contents, type SideFile } from '../../daemon/vault/diff/compare.js';
import { diff } from '../../daemon/vault/diff/diff.js';
import { isDotenvFile, parseDotenv } from '../../daemon/vault/diff/dotenv-file.js';
import { summarise } from '../../daemon/vault/diff/summary.js';
import { push } from '../../daemon/vault/push.js';
import { pull } from '../../daemon/vault/pull.js';
import { openVault } from '../../daemon/vault/vault.js';
import { versionKey } from '../../daemon/vault/remote-layout.js';
import { MemoryStorage } from '../fakes/memory-storage.js';
import { envFileOf, twoMachines } from '../helpers/vault-fixture.js';

t.test('dotenv files are read by util.parseEnv: quotes, export, comments, multi-line values', async (t) => {
  const text = [
    '# a comment',
    'PLAIN=value',
    'export EXPORTED=yes',
    "SINGLE='a # not a comment'",
    'DOUBLE="line one\\nline two"',
    'MULTI="first',
    'second"',
    'TRAILING=kept # dropped',
    'EMPTY=',
    '  SPACED  =  trimmed  ',
    '',
  ].join('\n');
  t.same(
    { ...parseDotenv(Buffer.from(text)) },
    {
      PLAIN: 'value',
      EXPORTED: 'yes',
      SINGLE: 'a # not a comment',
      DOUBLE: 'line one\nline two',
      MULTI: 'first\nsecond',
      TRAILING: 'kept',
      EMPTY: '',
      SPACED: 'trimmed',
    },
  );
  t.equal(parseDotenv(Buffer.from([0x41, 0x3d, 0xff, 0xfe])), undefined, 'not UTF-8: compared as bytes');
  t.equal(parseDotenv(Buffer.from('A=1\0')), undefined, 'a NUL: not a text file');
  t.equal(Object.getPrototypeOf(parseDotenv(Buffer.from('A=1'))), null, 'no prototype: every name is a key');
  t.ok(isDotenvFile('.env') && isDotenvFile('.env.dev') && isDotenvFile('sub/.env.local'));
  t.notOk(isDotenvFile('env.dev') || isDotenvFile('.envrc') || isDotenvFile('x.env'));
});

t.test('a value fingerprint is HMAC-SHA256 under the mask key (the FORMAT.md §13 vector)', async (t) => {
  const mask = maskKey(Buffer.from(Array.from({ length: 32 }, (_, i) => i)));
  t.equal(fingerprint(mask, 'hunter2'), '1f5572aa');
  t.equal(fingerprint(mask, ''), 'bb69f059');
  t.equal(fingerprint(mask, 'postgres://dev'), 'b5d8b712');
  t.equal(fingerprint(mask, 'é'), 'ee028f7f', 'UTF-8 bytes');
  t.not(fingerprint(maskKey(Buffer.alloc(32)), 'hunter2'), '1f5572aa', 'another key, another fingerprint');
});

const masking = { fingerprint: (v: string) => fingerprint(maskKey(Buffer.alloc(32, 7)), v), showValues: false };
const file = (sha256: string, vars?: Record<string, string>, size = 10): SideFile => ({
  size,
  sha256,
  ...(vars
    ? {
        vars: Object.fromEntries(
          Object.entries(vars).map(([k, v]) => [k, { length: [...v].length, hash: masking.fingerprint(v), value: v }]),
        ),
      }
    : {}),
});

t.test('compare: files added, removed and changed; dotenv files key by key; values masked', async (t) => {
  const from: Contents = new Map([
    ['.env.dev', file('a', { KEEP: 'same', GONE: 'x', CHANGED: 'old' }, 30)],
    ['cert.pem', file('c', undefined, 100)],
    ['same.bin', file('s')],
  ]);
  const to: Contents = new Map([
    ['.env.dev', file('b', { KEEP: 'same', CHANGED: 'new!', NEW: 'y' }, 31)],
    ['key.bin', file('k', undefined, 5)],
    ['same.bin', file('s')],
  ]);
  const changes = compareContents(from, to, masking);
  t.same(changes, [
    {
      path: '.env.dev',
      change: 'changed',
      fromBytes: 30,
      toBytes: 31,
      keys: [
        {
          name: 'CHANGED',
          change: 'changed',
          from: { length: 3, hash: masking.fingerprint('old') },
          to: { length: 4, hash: masking.fingerprint('new!') },
        },
        { name: 'GONE', change: 'removed', from: { length: 1, hash: masking.fingerprint('x') } },
        { name: 'NEW', change: 'added', to: { length: 1, hash: masking.fingerprint('y') } },
      ],
    },
    { path: 'cert.pem', change: 'removed', fromBytes: 100 },
    { path: 'key.bin', change: 'added', toBytes: 5 },
  ]);
  t.notMatch(JSON.stringify(changes), /old|new!|"y"|"x"/, 'no value, only lengths and fingerprints');
  t.equal(summarise(changes), '.env.dev (~CHANGED, -GONE, +NEW), cert.pem (removed), key.bin (added)');

  const shown = compareContents(from, to, { ...masking, showValues: true });
  t.same(shown[0]!.keys![0], {
    name: 'CHANGED',
    change: 'changed',
    from: { length: 3, hash: masking.fingerprint('old'), value: 'old' },
    to: { length: 4, hash: masking.fingerprint('new!'), value: 'new!' },
  });
  t.same(compareContents(from, from, masking), [], 'a side against itself: nothing');
});

t.test('compare: comments only, a file that stopped parsing, a new dotenv file, and lengths in characters', async (t) => {
  const comments = compareContents(new Map([['.env', file('a', { A: '1' })]]), new Map([['.env', file('b', { A: '1' })]]), masking);
  t.same(comments, [{ path: '.env', change: 'changed', fromBytes: 10, toBytes: 10, keys: [] }]);
  t.equal(summarise(comments), '.env (comments or layout only)');
  const broken = compareContents(new Map([['.env', file('a', { A: '1' })]]), new Map([['.env', file('b')]]), masking);
  t.same(broken, [{ path: '.env', change: 'changed', fromBytes: 10, toBytes: 10 }], 'no longer text: compared as bytes');
  const added = compareContents(new Map(), new Map([['.env', file('a', { B: 'é' })]]), masking);
  t.same(added[0]!.keys, [{ name: 'B', change: 'added', to: { length: 1, hash: masking.fingerprint('é') } }]);
});

t.test('summary: at most six files and six keys each, never a value', async (t) => {
  const keys = Array.from({ length: 8 }, (_, i) => ({ name: `K${i}`, change: 'added' as const, to: { length: 1, hash: '00000000' } }));
  const files: FileChange[] = [
    { path: '.env', change: 'changed', keys },
    ...Array.from({ length: 7 }, (_, i) => ({ path: `f${i}`, change: 'changed' as const })),
  ];
  t.equal(
    summarise(files),
    '.env (+K0, +K1, +K2, +K3, +K4, +K5, 2 more), f0 (changed), f1 (changed), f2 (changed), f3 (changed), f4 (changed), 2 more files',
  );
  t.equal(summarise([]), 'no file differs');
});

function day() {
  return twoMachines('vsync-diff-', new MemoryStorage());
}

t.test('diff: the folder against the version synced here, against a version, and version against version', async (t) => {
  const { cleanup, clock, a, b } = await day();
  t.teardown(cleanup);
  const none = await diff(a.deps, a.ref, {});
  t.same(none, {
    repo: 'vsync',
    env: 'dev',
    from: { kind: 'none' },
    to: { kind: 'folder', folder: 'infra/vault/dev/', exists: true },
    same: true,
    files: [],
  });

  writeFileSync(envFileOf(a), 'DB=one\nAPI=k\n');
  const unpushed = await diff(a.deps, a.ref, {});
  t.same(unpushed.from, { kind: 'none' }, 'never pushed: against nothing');
  t.same(
    unpushed.files.map((f) => [f.path, f.change, f.keys?.map((k) => `${k.change} ${k.name}`)]),
    [['.env.dev', 'added', ['added API', 'added DB']]],
  );

  const first = (await push(a.deps, a.ref, {}, () => undefined)).version;
  t.same(await diff(a.deps, a.ref, {}), { ...unpushed, from: { kind: 'version', ts: first }, same: true, files: [] }, 'pushed: the same');

  clock.advance(1);
  writeFileSync(envFileOf(a), 'DB=two\nAPI=k\n');
  writeFileSync(join(a.ref.root, 'infra', 'vault', 'dev', 'tls.key'), 'KEY');
  const second = (await push(a.deps, a.ref, {}, () => undefined)).version;

  // Bob has synced nothing: against latest.
  const bobs = await diff(b.deps, b.ref, {});
  t.same(bobs.from, { kind: 'version', ts: second });
  t.same(bobs.to, { kind: 'folder', folder: 'infra/vault/dev/', exists: false }, 'no folder yet');
  t.same(
    bobs.files.map((f) => `${f.change} ${f.path}`),
    ['removed .env.dev', 'removed tls.key'],
  );

  await pull(b.deps, b.ref, { at: first }, () => undefined);
  const behind = await diff(b.deps, b.ref, {});
  t.same(behind.from, { kind: 'version', ts: first }, 'the version synced here, not latest');
  t.ok(behind.same);
  const ahead = await diff(b.deps, b.ref, { from: second });
  t.same(
    ahead.files.map((f) => `${f.change} ${f.path} ${(f.keys ?? []).map((k) => `${k.change} ${k.name}`).join(',')}`),
    ['changed .env.dev changed DB', 'removed tls.key '],
  );
  const versions = await diff(a.deps, a.ref, { from: first, to: second, showValues: true });
  t.same(versions.from, { kind: 'version', ts: first });
  t.same(versions.to, { kind: 'version', ts: second });
  t.same(versions.files[0]!.keys![0]!.to!.value, 'two', 'values when asked for');
  t.same(versions.files[1], { path: 'tls.key', change: 'added', toBytes: 3 });
});

t.test('diff: bad paths refuse with a code and write nothing', async (t) => {
  const { cleanup, a, storage } = await day();
  t.teardown(cleanup);
  writeFileSync(envFileOf(a), 'A=1\n');
  const first = (await push(a.deps, a.ref, {}, () => undefined)).version;
  await t.rejects(diff(a.deps, a.ref, { from: '20260516-000000' }), { code: 'VAULT_VERSION_NOT_FOUND' });
  await t.rejects(diff(a.deps, a.ref, { from: '20260231-000000' }), { code: 'TIMESTAMP_INVALID' });
  await t.rejects(diff(a.deps, a.ref, { to: first }), { code: 'USAGE' });
  await t.rejects(diff(a.deps, { ...a.ref, env: 'qa' }, {}), { code: 'CONFIG_NOT_FOUND' });

  // Someone who can write the store but has no key renames a version: the seal says so.
  const vault = await openVault(a.deps, a.ref);
  const aesKey = await vault.aesKey();
  const copy = (await storage.get(versionKey('vsync', 'dev', first))).body;
  await storage.put(versionKey('vsync', 'dev', '20260516-120000'), copy);
  await t.rejects(diff(a.deps, a.ref, { from: '20260516-120000' }), { code: 'VAULT_SEAL_MISMATCH' });

  // Someone with the key pushes a bundle with an entry outside the vault folder: refused as a pull refuses it.
  const zip = new ZipArchive({ zlib: { level: 6 } });
  zip.append(Buffer.from('x'), { name: 'infra/vault/dev/.env.dev' });
  zip.append(Buffer.from('owned'), { name: '.git/hooks/post-checkout' });
  void zip.finalize();
  const hostile = encryptEnvelope(aesKey, seal('20260516-130000', await buffer(zip)));
  await storage.put(versionKey('vsync', 'dev', '20260516-130000'), hostile);
  await t.rejects(diff(a.deps, a.ref, { from: '20260516-130000' }), { code: 'BUNDLE_UNSAFE_ENTRY' });

  // A folder holding something no push would take: refused as a push refuses it.
  const fifo = join(a.ref.root, 'infra', 'vault', 'dev', 'pipe');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0);
  await t.rejects(diff(a.deps, a.ref, {}), { code: 'BUNDLE_SOURCE_INVALID' });
  rmSync(fifo);
  t.ok((await diff(a.deps, a.ref, {})).same);
});
