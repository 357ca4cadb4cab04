// zipFolder and the round trip through unzipToStaging. Hostile archives are in bundle-unsafe.test.ts.

import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import unzipper from 'unzipper';
import { defaultBundleLimits } from '../../daemon/bundle/limits.js';
import { unzipToStaging } from '../../daemon/bundle/unzip-to-staging.js';
import { deflatePays, zipFolder } from '../../daemon/bundle/zip-folder.js';

const VAULT = 'infra/vault/dev';

// A vault folder with dotfiles, nesting, an empty folder, and names whose UTF-8 byte order differs from
// JavaScript's UTF-16 order (U+FF21 sorts before U+1F600 in bytes, after it in UTF-16 code units).
function repoWithVault(t: Test) {
  return t.testdir({
    '.vsync': 'repo=acme_web\n',
    'README.md': 'not in the bundle\n',
    infra: {
      vault: {
        dev: {
          '.env.dev': 'API_KEY=dev-123\n',
          _underscore: 'u\n',
          'Zeta.txt': 'z\n',
          'alpha.txt': 'a\n',
          '\uff21-fullwidth': 'fw\n',
          '\u{1f600}-emoji': 'smile\n',
          certs: { 'server.key': 'KEY\n', nested: { '.hidden': 'h\n' } },
          'empty-folder': {},
          'empty-file': '',
        },
        prod: { '.env.prod': 'API_KEY=prod-999\n' },
      },
    },
  });
}

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** `zip` as a pull leaves it: a 0600 file in a 0700 folder of its own, outside the test's folders. */
async function asFile(t: Test, zip: Buffer): Promise<{ path: string }> {
  const folder = await mkdtemp(join(tmpdir(), 'vsync-zip-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const path = join(folder, 'bundle.zip');
  await writeFile(path, zip, { mode: 0o600, flag: 'wx' });
  return { path };
}

const expectedNames = [
  'infra/vault/dev/.env.dev',
  'infra/vault/dev/Zeta.txt',
  'infra/vault/dev/_underscore',
  'infra/vault/dev/alpha.txt',
  'infra/vault/dev/certs/nested/.hidden',
  'infra/vault/dev/certs/server.key',
  'infra/vault/dev/empty-file',
  'infra/vault/dev/\uff21-fullwidth',
  'infra/vault/dev/\u{1f600}-emoji',
];

t.test('entries: regular files only, named from the repo root, in byte order, mode 0600, dated 1980', async (t) => {
  const repo = repoWithVault(t);
  const zip = await zipFolder(repo, VAULT);
  const directory = await unzipper.Open.buffer(zip);
  t.same(
    directory.files.map((f) => f.path),
    expectedNames,
  );
  for (const f of directory.files) {
    t.equal(((f.externalFileAttributes >>> 16) & 0o177777).toString(8), '100600', `${f.path}: regular file, 0600`);
    t.equal(f.lastModifiedDate, 0x21, `${f.path}: dated 1980-01-01`);
    t.equal(f.lastModifiedTime, 0, `${f.path}: at 00:00:00`);
    t.equal(f.compressionMethod, 0, `${f.path}: stored`);
  }
  t.equal((await directory.files[0]!.buffer()).toString(), 'API_KEY=dev-123\n');
});

t.test("editors' scratch files are left out, whatever their type; look-alikes are kept", async (t) => {
  const repo = repoWithVault(t);
  const before = await zipFolder(repo, VAULT);
  const dev = join(repo, VAULT);
  for (const name of ['.env.dev.swp', '.env.dev.swo', '.env.dev.swx', '.env.dev~', '4913', '#.env.dev#', join('certs', 'server.key~')]) {
    await writeFile(join(dev, name), 'scratch\n');
  }
  await symlink('user@host.1234:1700000000', join(dev, '.#.env.dev')); // emacs's lock: a dangling symlink
  t.ok((await zipFolder(repo, VAULT)).equals(before), 'the same bundle as without them');
  await writeFile(join(dev, 'swp.txt'), 'kept\n');
  await writeFile(join(dev, '49130'), 'kept\n');
  const names = (await unzipper.Open.buffer(await zipFolder(repo, VAULT))).files.map((f) => f.path);
  t.ok(names.includes(`${VAULT}/swp.txt`) && names.includes(`${VAULT}/49130`), 'names that only look alike are bundled');
});

t.test('round trip through unzipToStaging, from bytes and from a file', async (t) => {
  for (const form of ['bytes', 'file'] as const) {
    await t.test(form, async (t) => {
      const repo = repoWithVault(t);
      const zip = await zipFolder(repo, VAULT);
      const staging = await mkdtemp(join(repo, 'infra', 'vault', '.stage-'));
      const { files } = await unzipToStaging(form === 'file' ? await asFile(t, zip) : zip, staging, VAULT);
      t.same(
        files,
        expectedNames.map((n) => n.slice(VAULT.length + 1)),
      );
      for (const file of files) {
        t.same(await readFile(join(staging, file)), await readFile(join(repo, VAULT, file)), `${file}: same bytes`);
        t.equal((await stat(join(staging, file))).mode & 0o777, 0o600, `${file}: 0600`);
      }
      t.equal((await stat(join(staging, 'certs', 'nested'))).mode & 0o777, 0o700, 'folders are 0700');
      t.notOk(await stat(join(staging, 'empty-folder')).catch(() => undefined), 'empty folders are not represented');

      // And zipping the staging folder as if it were the vault folder gives the very same bytes.
      const again = join(repo, 'copy-of-repo');
      await mkdir(join(again, 'infra', 'vault'), { recursive: true });
      await rename(staging, join(again, VAULT));
      t.same(await zipFolder(again, VAULT), zip, 'zip → unzip → zip is the identity');
    });
  }
});

t.test('deterministic: same content, same bytes, whatever the mtimes, modes and order of creation', async (t) => {
  const repo = repoWithVault(t);
  const first = await zipFolder(repo, VAULT);
  t.same(await zipFolder(repo, VAULT), first, 'zipping twice');

  await utimes(join(repo, VAULT, '.env.dev'), new Date('2031-02-03T04:05:06Z'), new Date('2031-02-03T04:05:06Z'));
  await chmod(join(repo, VAULT, 'alpha.txt'), 0o644);
  t.same(await zipFolder(repo, VAULT), first, 'after touching and chmod-ing files');

  await writeFile(join(repo, VAULT, '.env.dev'), 'API_KEY=dev-124\n');
  t.notSame(await zipFolder(repo, VAULT), first, 'a changed byte changes the bundle');

  const tz = process.env.TZ;
  t.teardown(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });
  const a = await zipFolder(repo, VAULT);
  process.env.TZ = 'Pacific/Kiritimati';
  t.same(await zipFolder(repo, VAULT), a, 'the time zone does not leak into the bytes');
});

t.test('an empty vault folder gives an empty archive, which unzips to nothing', async (t) => {
  const repo = t.testdir({ infra: { vault: { dev: { sub: {} } } } });
  const zip = await zipFolder(repo, VAULT);
  t.equal(zip.length, 22, 'just the end record');
  const staging = t.testdir({});
  t.same(await unzipToStaging(zip, staging, VAULT), { files: [] });
});

t.test('the vault folder may be spelled ./infra/vault/dev/', async (t) => {
  const repo = repoWithVault(t);
  t.same(await zipFolder(repo, `./${VAULT}/`), await zipFolder(repo, VAULT));
});

t.test('refused sources', async (t) => {
  await t.test('a missing folder, with a hint', async (t) => {
    const repo = t.testdir({ infra: {} });
    await t.rejects(zipFolder(repo, VAULT), {
      code: 'BUNDLE_SOURCE_INVALID',
      message: /infra\/vault\/dev\/ does not exist/,
      hint: /mkdir -p infra\/vault\/dev/,
    });
  });

  await t.test('a file where the folder should be', async (t) => {
    const repo = t.testdir({ infra: { vault: { dev: 'a file' } } });
    await t.rejects(zipFolder(repo, VAULT), { code: 'BUNDLE_SOURCE_INVALID', message: /is not a folder/ });
  });

  await t.test('vault folders that are not inside the repo', async (t) => {
    const repo = repoWithVault(t);
    for (const vault of ['../outside', '/etc', '.', '', './', 'infra/../..', 'infra/vault/../../..']) {
      await t.rejects(zipFolder(repo, vault), { code: 'BUNDLE_SOURCE_INVALID' }, JSON.stringify(vault));
    }
  });

  await t.test('a vault folder reached through a symlinked parent that leaves the repo', async (t) => {
    const root = t.testdir({ elsewhere: { dev: { '.env.dev': 'STOLEN=1\n' } }, repo: { infra: {} } });
    await symlink(join(root, 'elsewhere'), join(root, 'repo', 'infra', 'vault'));
    await t.rejects(zipFolder(join(root, 'repo'), VAULT), {
      code: 'BUNDLE_SOURCE_INVALID',
      message: /not inside the repo/,
    });
  });

  await t.test('a vault folder that is itself a symlink', async (t) => {
    const repo = t.testdir({ infra: { vault: { real: { '.env.dev': 'x' } } } });
    await symlink(join(repo, 'infra', 'vault', 'real'), join(repo, VAULT));
    await t.rejects(zipFolder(repo, VAULT), { code: 'BUNDLE_SOURCE_INVALID', message: /is a symlink/ });
  });

  await t.test('a symlink inside the folder, named in the error', async (t) => {
    for (const target of ['/etc/passwd', '.env.dev', '../prod/.env.prod', 'certs']) {
      const repo = repoWithVault(t);
      await symlink(target, join(repo, VAULT, 'certs', 'link'));
      await t.rejects(
        zipFolder(repo, VAULT),
        { code: 'BUNDLE_SOURCE_INVALID', message: /"infra\/vault\/dev\/certs\/link" is a symlink/ },
        `symlink to ${target}`,
      );
    }
  });

  await t.test('a fifo inside the folder', async (t) => {
    const repo = repoWithVault(t);
    execFileSync('mkfifo', [join(repo, VAULT, 'pipe')]);
    await t.rejects(zipFolder(repo, VAULT), { code: 'BUNDLE_SOURCE_INVALID', message: /"infra\/vault\/dev\/pipe" is a fifo/ });
  });

  await t.test('a socket inside the folder', async (t) => {
    const repo = repoWithVault(t);
    const server = createServer();
    // A relative socket path: the absolute one would pass the 108-byte limit on socket addresses.
    t.chdir(join(repo, VAULT));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen('sock', resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await t.rejects(zipFolder(repo, VAULT), { code: 'BUNDLE_SOURCE_INVALID', message: /is a socket/ });
  });

  await t.test('names a pull would refuse', async (t) => {
    for (const name of ['back\\slash', 'new\nline', '.ENV.dev']) {
      const repo = repoWithVault(t);
      await writeFile(join(repo, VAULT, name), 'x');
      await t.rejects(zipFolder(repo, VAULT), { code: 'BUNDLE_SOURCE_INVALID' }, JSON.stringify(name));
    }
  });
});

t.test('the caps apply when zipping too', async (t) => {
  const repo = repoWithVault(t); // 9 files, the largest 16 bytes, 37 bytes in all
  await t.rejects(zipFolder(repo, VAULT, { maxEntries: 8 }), {
    code: 'BUNDLE_TOO_LARGE',
    message: /more than 8 \(VSYNC_MAX_BUNDLE_ENTRIES, or limits\.maxEntries in the vault's config\) files/,
  });
  await t.rejects(zipFolder(repo, VAULT, { maxEntryBytes: 15 }), {
    code: 'BUNDLE_TOO_LARGE',
    message: /\.env\.dev.*cap of 15 \(VSYNC_MAX_FILE_BYTES/,
  });
  await t.rejects(zipFolder(repo, VAULT, { maxTotalBytes: 36 }), {
    code: 'BUNDLE_TOO_LARGE',
    message: /over its cap of 36 \(VSYNC_MAX_BUNDLE_BYTES/,
  });
  t.ok(await zipFolder(repo, VAULT, { maxEntries: 9, maxEntryBytes: 16, maxTotalBytes: 37 }), 'exactly at the caps');

  // Whatever zipFolder accepts, unzipToStaging accepts under the same caps.
  const limits = { maxEntries: 9, maxEntryBytes: 16, maxTotalBytes: 37 };
  const staging = await mkdtemp(join(repo, '.stage-'));
  const { files } = await unzipToStaging(await zipFolder(repo, VAULT, limits), staging, VAULT, limits);
  t.equal(files.length, 9);
});

t.test('limits: defaults and bad overrides', async (t) => {
  t.same(defaultBundleLimits, { maxEntries: 1000, maxEntryBytes: 16 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024 });
  const repo = repoWithVault(t);
  for (const bad of [{ maxEntries: 0 }, { maxEntryBytes: -1 }, { maxTotalBytes: 1.5 }, { maxEntries: Number.NaN }]) {
    await t.rejects(zipFolder(repo, VAULT, bad), { code: 'INTERNAL' }, JSON.stringify(bad));
  }
});

t.test('the tree digest: the same files give the same digest, whatever zip carried them', async (t) => {
  const { treeDigest } = await import('../../daemon/bundle/tree-digest.js');
  const { bundleFolder } = await import('../../daemon/bundle/zip-folder.js');
  const root = mkdtempSync(join(tmpdir(), 'vsync-digest-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'infra', 'vault', 'dev', 'certs'), { recursive: true });
  writeFileSync(join(root, 'infra', 'vault', 'dev', '.env.dev'), 'A=1\n');
  writeFileSync(join(root, 'infra', 'vault', 'dev', 'certs', 'ca.pem'), 'CA\n');
  const bundle = await bundleFolder(root, 'infra/vault/dev');
  t.equal(bundle.files, 2);
  t.equal(
    bundle.digest,
    treeDigest([
      { name: 'certs/ca.pem', data: Buffer.from('CA\n') },
      { name: '.env.dev', data: Buffer.from('A=1\n') },
    ]),
    'order-independent, names relative to the vault folder',
  );
  t.not(
    bundle.digest,
    treeDigest([
      { name: '.env.dev', data: Buffer.from('A=2\n') },
      { name: 'certs/ca.pem', data: Buffer.from('CA\n') },
    ]),
    'a changed byte changes it',
  );
  t.not(
    bundle.digest,
    treeDigest([
      { name: '.env.prod', data: Buffer.from('A=1\n') },
      { name: 'certs/ca.pem', data: Buffer.from('CA\n') },
    ]),
    'a renamed file changes it',
  );
});

t.test('deflated where it pays, stored where it does not, and back byte for byte either way', async (t) => {
  const env = Array.from({ length: 200 }, (_, i) => `SERVICE_${i}_URL=https://service-${i}.internal.example.com/api\n`).join('');
  const noise = randomBytes(20_000);
  const repo = t.testdir({
    infra: { vault: { dev: { '.env.dev': env, 'key.bin': noise, 'short.txt': 'TOKEN=aaaaaaaaaaaaaaaaaaaaaaaa\n' } } },
  });
  const zip = await zipFolder(repo, VAULT);
  const methods = Object.fromEntries(
    (await unzipper.Open.buffer(zip)).files.map((f) => [
      f.path.slice(VAULT.length + 1),
      [f.compressionMethod, f.compressedSize, f.uncompressedSize],
    ]),
  );
  t.equal(methods['.env.dev']![0], 8, 'text: deflated');
  t.ok(methods['.env.dev']![1]! < methods['.env.dev']![2]! / 4, `text: ${methods['.env.dev']![1]} bytes for ${methods['.env.dev']![2]}`);
  t.same(methods['key.bin'], [0, 20_000, 20_000], 'random bytes: stored');
  t.equal(methods['short.txt']![0], 0, 'a file too short for deflate to pay: stored');
  t.ok(zip.length < env.length + noise.length, `the bundle (${zip.length} bytes) is smaller than its files`);
  t.ok(deflatePays(Buffer.from(env)) && !deflatePays(noise), 'deflatePays says so itself');

  const staging = await mkdtemp(join(repo, '.stage-'));
  await unzipToStaging(zip, staging, VAULT);
  t.equal(await readFile(join(staging, '.env.dev'), 'utf8'), env, 'the deflated file comes back as it was');
  t.same(await readFile(join(staging, 'key.bin')), noise, 'and the stored one');
  t.same(await zipFolder(repo, VAULT), zip, 'still the same bytes for the same folder');
});
