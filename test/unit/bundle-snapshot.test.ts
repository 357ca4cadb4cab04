// zipFolder reads the vault folder as one snapshot: whatever another process swaps in while it reads (a
// symlink to a file outside, another file, a fifo, another folder), the bundle is one folder as it stood at
// one moment, read again once if need be, or VAULT_CHANGED_DURING_PUSH; never a mix, never a file from
// outside. The race windows are opened deterministically through the test-only hooks (folder-snapshot.ts):
// onListed runs after an attempt listed the folder, before it opens a file; onRead after it read them all.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { appendFile, copyFile, link, mkdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import unzipper from 'unzipper';
import { KEPT_BYTES } from '../../daemon/bundle/folder-snapshot.js';
import { fileSha256, treeDigest } from '../../daemon/bundle/tree-digest.js';
import { deflatePays, folderDigest, readFolder, zipFolder } from '../../daemon/bundle/zip-folder.js';
import { within } from '../helpers/patience.js';
import type { TestContext } from '../helpers/tap-types.js';

const VAULT = 'infra/vault/dev';
const OUTSIDE_SECRET = 'OUTSIDE=stolen\n';

/** A repo whose vault folder holds two files and a subfolder, a second folder beside it, and a file outside. */
function rig(t: TestContext) {
  const base = t.testdir({
    outside: { id_ed25519: OUTSIDE_SECRET },
    repo: {
      '.vsync': 'repo=acme_web\n',
      infra: {
        vault: {
          dev: { '.env.dev': 'API_KEY=first\n', 'b.txt': 'b-first\n', certs: { 'ca.pem': 'CA-first\n' } },
          other: { '.env.dev': 'API_KEY=second\n', 'b.txt': 'b-second\n', certs: { 'ca.pem': 'CA-second\n' } },
        },
      },
    },
  });
  const repo = join(base, 'repo');
  const dev = join(repo, VAULT);
  const other = join(repo, 'infra', 'vault', 'other');
  return { base, repo, dev, other, outsideFile: join(base, 'outside', 'id_ed25519') };
}

/** The bundle as name → content, names relative to the vault folder. */
async function contents(zip: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await unzipper.Open.buffer(zip)).files) out[f.path.slice(VAULT.length + 1)] = (await f.buffer()).toString();
  return out;
}

const FIRST = { '.env.dev': 'API_KEY=first\n', 'b.txt': 'b-first\n', 'certs/ca.pem': 'CA-first\n' };
const SECOND = { '.env.dev': 'API_KEY=second\n', 'b.txt': 'b-second\n', 'certs/ca.pem': 'CA-second\n' };

/** Swaps the vault folder and `other` through a third name: renamed away, the other put in its place. */
async function swapFolders(dev: string, other: string): Promise<void> {
  await rename(dev, `${dev}.away`);
  await rename(other, dev);
  await rename(`${dev}.away`, other);
}

t.test('with nothing moving, the hooks change nothing: one read, the same bytes', async (t) => {
  const { repo } = rig(t);
  const calls: string[] = [];
  const zip = await zipFolder(repo, VAULT, {
    onListed: (n) => void calls.push(`listed ${n}`),
    onRead: (n) => void calls.push(`read ${n}`),
  });
  t.same(calls, ['listed 1', 'read 1'], 'read once');
  t.same(zip, await zipFolder(repo, VAULT), 'the same bytes as without hooks');
  t.same(await contents(zip), FIRST);
});

t.test('a file swapped for a symlink to a file outside, between listing and open', async (t) => {
  await t.test('left there: read again, and the listing refuses the symlink by name', async (t) => {
    const { repo, dev, outsideFile } = rig(t);
    const calls: number[] = [];
    await t.rejects(
      zipFolder(repo, VAULT, {
        onListed: async (n) => {
          calls.push(n);
          if (n !== 1) return;
          await unlink(join(dev, '.env.dev'));
          await symlink(outsideFile, join(dev, '.env.dev'));
        },
      }),
      { code: 'BUNDLE_SOURCE_INVALID', message: /"infra\/vault\/dev\/\.env\.dev" is a symlink/ },
    );
    t.same(calls, [1], 'the second read refused it while listing');
  });

  await t.test('moved away and back (the same inode) after listing: its ctime moved, read again', async (t) => {
    const { repo, dev, base } = rig(t);
    const calls: string[] = [];
    const zip = await zipFolder(repo, VAULT, {
      onListed: async (n) => {
        calls.push(`listed ${n}`);
        if (n !== 1) return;
        await rename(join(dev, '.env.dev'), join(base, 'parked'));
        await rename(join(base, 'parked'), join(dev, '.env.dev'));
      },
      onRead: (n) => void calls.push(`read ${n}`),
    });
    t.same(calls, ['listed 1', 'listed 2', 'read 2'], 'the first read stopped at the moved file');
    t.same(await contents(zip), FIRST);
  });
});

t.test('a file replaced by another file between listing and read: read again, the new content', async (t) => {
  const { repo, dev } = rig(t);
  const calls: number[] = [];
  const zip = await zipFolder(repo, VAULT, {
    onListed: async (n) => {
      calls.push(n);
      if (n !== 1) return;
      await writeFile(join(dev, '.env.dev.new'), 'API_KEY=edited\n');
      await rename(join(dev, '.env.dev.new'), join(dev, '.env.dev')); // an editor's atomic save: a new inode
    },
  });
  t.same(calls, [1, 2]);
  t.same(await contents(zip), { ...FIRST, '.env.dev': 'API_KEY=edited\n' });
  t.same(zip, await zipFolder(repo, VAULT), 'the same bytes as a quiet read of the new folder');
});

t.test('a file written in place between listing and read, or after it was read: read again', async (t) => {
  for (const hook of ['onListed', 'onRead'] as const) {
    const { repo, dev } = rig(t);
    const calls: number[] = [];
    const zip = await zipFolder(repo, VAULT, {
      [hook]: async (n: number) => {
        calls.push(n);
        if (n === 1) await appendFile(join(dev, '.env.dev'), 'MORE=1\n'); // same inode, new ctime
      },
    });
    t.same(calls, [1, 2], `${hook}: read twice`);
    t.same(await contents(zip), { ...FIRST, '.env.dev': 'API_KEY=first\nMORE=1\n' }, `${hook}: the whole new content`);
  }
});

t.test('files added or removed while the folder was read: read again', async (t) => {
  const changes: [string, (dev: string) => Promise<void>, Record<string, string>][] = [
    ['a file added', (dev) => writeFile(join(dev, 'new.txt'), 'new\n'), { ...FIRST, 'new.txt': 'new\n' }],
    ['a file removed', (dev) => unlink(join(dev, 'b.txt')), { '.env.dev': FIRST['.env.dev'], 'certs/ca.pem': FIRST['certs/ca.pem'] }],
    [
      'a subfolder removed',
      (dev) => rm(join(dev, 'certs'), { recursive: true }),
      { '.env.dev': FIRST['.env.dev'], 'b.txt': FIRST['b.txt'] },
    ],
  ];
  for (const [what, change, expected] of changes) {
    const { repo, dev } = rig(t);
    const calls: number[] = [];
    const zip = await zipFolder(repo, VAULT, {
      onRead: async (n) => {
        calls.push(n);
        if (n === 1) await change(dev);
      },
    });
    t.same(calls, [1, 2], `${what}: read twice`);
    t.same(await contents(zip), expected, `${what}: the folder as it is now`);
  }
});

t.test('a subfolder swapped for another while the folder was read: read again', async (t) => {
  const { repo, dev, base } = rig(t);
  const calls: number[] = [];
  const zip = await zipFolder(repo, VAULT, {
    onListed: async (n) => {
      calls.push(n);
      if (n !== 1) return;
      await rename(join(dev, 'certs'), join(base, 'old-certs'));
      await mkdir(join(dev, 'certs'));
      await writeFile(join(dev, 'certs', 'ca.pem'), 'CA-replaced\n');
    },
  });
  t.same(calls, [1, 2]);
  t.same(await contents(zip), { ...FIRST, 'certs/ca.pem': 'CA-replaced\n' });
});

t.test('the vault folder renamed away and another put in its place during the read', async (t) => {
  for (const hook of ['onListed', 'onRead'] as const) {
    await t.test(`${hook}, the first time only: read again, the new folder whole`, async (t) => {
      const { repo, dev, other } = rig(t);
      const calls: number[] = [];
      const zip = await zipFolder(repo, VAULT, {
        [hook]: async (n: number) => {
          calls.push(n);
          if (n === 1) await swapFolders(dev, other);
        },
      });
      t.same(calls, [1, 2]);
      t.same(await contents(zip), SECOND);
    });

    await t.test(`${hook}, both times: VAULT_CHANGED_DURING_PUSH, with the hint`, async (t) => {
      const { repo, dev, other } = rig(t);
      const calls: number[] = [];
      await t.rejects(
        zipFolder(repo, VAULT, {
          [hook]: async (n: number) => {
            calls.push(n);
            await swapFolders(dev, other);
          },
        }),
        {
          code: 'VAULT_CHANGED_DURING_PUSH',
          message: /^the vault folder kept changing while it was read: infra\/vault\/dev\/, read twice: .+; then .+/,
          hint: 'something changed the folder while it was being read; try again once it is quiet',
          exit: 6,
        },
      );
      t.same(calls, [1, 2], 'read twice, not more');
    });
  }

  await t.test('swapped after listing: the first read stops at the first file that is not the listed one', async (t) => {
    const { repo, dev, other } = rig(t);
    const calls: string[] = [];
    const zip = await zipFolder(repo, VAULT, {
      onListed: async (n) => {
        calls.push(`listed ${n}`);
        if (n === 1) await swapFolders(dev, other);
      },
      onRead: (n) => void calls.push(`read ${n}`),
    });
    t.same(calls, ['listed 1', 'listed 2', 'read 2'], 'no file of the other folder was taken for the listed one');
    t.same(await contents(zip), SECOND);
  });
});

t.test('a fifo swapped in between listing and open does not hang the read', async (t) => {
  await t.test('left there: refused by name', async (t) => {
    const { repo, dev } = rig(t);
    const read = zipFolder(repo, VAULT, {
      onListed: async (n) => {
        if (n !== 1) return;
        await unlink(join(dev, 'b.txt'));
        execFileSync('mkfifo', [join(dev, 'b.txt')]);
      },
    });
    await t.rejects(within(read, 'zipping a folder with a fifo swapped in'), {
      code: 'BUNDLE_SOURCE_INVALID',
      message: /"infra\/vault\/dev\/b\.txt" is a fifo/,
    });
  });
});

t.test('hard-linked files are refused by name, with their number of links and a hint', async (t) => {
  const hint = /replace it with a copy \(`cp f f\.tmp && mv f\.tmp f`\)/;
  await t.test('a hard link to a file outside the vault folder', async (t) => {
    const { repo, dev, outsideFile } = rig(t);
    await link(outsideFile, join(dev, 'leak'));
    await t.rejects(zipFolder(repo, VAULT), {
      code: 'BUNDLE_SOURCE_INVALID',
      message: 'the vault folder cannot be bundled: "infra/vault/dev/leak" has 2 hard links',
      hint,
    });
  });

  await t.test('a file linked from outside (three names): both ways round look the same', async (t) => {
    const { repo, dev, base } = rig(t);
    await link(join(dev, 'certs', 'ca.pem'), join(base, 'copy-1'));
    await link(join(dev, 'certs', 'ca.pem'), join(base, 'copy-2'));
    await t.rejects(zipFolder(repo, VAULT), {
      code: 'BUNDLE_SOURCE_INVALID',
      message: /"infra\/vault\/dev\/certs\/ca\.pem" has 3 hard links/,
      hint,
    });
  });

  await t.test('a link made between listing and open: read again, then refused', async (t) => {
    const { repo, dev, base } = rig(t);
    const calls: number[] = [];
    await t.rejects(
      zipFolder(repo, VAULT, {
        onListed: async (n) => {
          calls.push(n);
          if (n === 1) await link(join(dev, 'b.txt'), join(base, 'elsewhere'));
        },
      }),
      { code: 'BUNDLE_SOURCE_INVALID', message: /"infra\/vault\/dev\/b\.txt" has 2 hard links/, hint },
    );
    t.same(calls, [1]);
  });

  await t.test('once the copy replaces it, it is bundled', async (t) => {
    const { repo, dev, outsideFile } = rig(t);
    await link(outsideFile, join(dev, 'leak'));
    execFileSync('sh', ['-c', 'cp leak leak.tmp && mv leak.tmp leak'], { cwd: dev });
    t.same((await contents(await zipFolder(repo, VAULT))).leak, OUTSIDE_SECRET, 'the copy the user chose to make');
  });
});

// --- Files past the bound on kept bytes: hashed while read, read again (and checked) when zipped ---------------
//
// The read keeps the bytes of small files only (folder-snapshot.ts, KEPT_BYTES; `keptBytes` lowers the bound
// for a test); a larger file keeps its hash and identity and is streamed into the zip from the disk, one open
// at a time, checked to be the file that was hashed.

/** The digest as tree-digest.ts has always computed it, from the bytes: what machines keep in their state. */
function digestTheOldWay(files: Record<string, Buffer>): string {
  const names = Object.keys(files).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const outer = createHash('sha256');
  for (const name of names) outer.update(name, 'utf8').update('\0').update(createHash('sha256').update(files[name]!).digest()).update('\n');
  return outer.digest('hex');
}

/** The zip as archiver builds it from Buffers (FORMAT.md §6: byte order, 1980, 0600, deflate where it pays, level 6). */
async function zipFromMemory(files: Record<string, Buffer>): Promise<Buffer> {
  const { ZipArchive } = await import('archiver');
  const archive = new ZipArchive({ zlib: { level: 6 } });
  const bytes = buffer(archive);
  for (const name of Object.keys(files).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    const data = files[name]!;
    archive.append(data, { name: `${VAULT}/${name}`, date: new Date(Date.UTC(1980, 0, 1)), mode: 0o600, store: !deflatePays(data) });
  }
  const [zip] = await Promise.all([bytes, archive.finalize()]);
  return zip;
}

/** Where two zips first differ, -1 for nowhere: a failure then names an offset instead of printing a MiB. */
function firstDifference(a: Buffer, b: Buffer): number {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : common;
}

const envText = (lines: number) =>
  Buffer.from(Array.from({ length: lines }, (_, i) => `SERVICE_${i}_TOKEN=${'t'.repeat(i % 37)}-${i * 7919}\n`).join(''));

/** A vault of small files and big ones, text (deflated) and random (stored), some at the 64 KiB chunk edges. */
function mixedVault(t: TestContext) {
  const files: Record<string, Buffer> = {
    '.env.dev': Buffer.from('API_KEY=first\n'),
    empty: Buffer.alloc(0),
    'big.env': envText(12_000), // ~ 500 KiB of text: deflated
    'certs/big.bin': randomBytes(300_000), // stored
    'edge-64k.bin': randomBytes(64 * 1024),
    'edge-64k+1.txt': envText(3000).subarray(0, 64 * 1024 + 1),
    // Decided on the sample alone: 4 KiB of noise, then text that would deflate well, is stored.
    'noise-4k-then-text': Buffer.concat([randomBytes(4 * 1024), envText(6000)]),
    // The first 4 KiB decide: text then noise is deflated, noise then text stored.
    'text-then-noise': Buffer.concat([envText(3000).subarray(0, 64 * 1024), randomBytes(100_000)]),
    'noise-then-text': Buffer.concat([randomBytes(64 * 1024), envText(3000)]),
  };
  const base = t.testdir({ repo: { infra: { vault: { dev: { certs: {} } } } }, outside: {} });
  const repo = join(base, 'repo');
  for (const [name, data] of Object.entries(files)) writeFileSync(join(repo, VAULT, name), data);
  return { repo, dev: join(repo, VAULT), outside: join(base, 'outside'), files };
}

/** A sink that keeps what it is given. */
const collect = (into: Buffer[]) =>
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      into.push(chunk);
      done();
    },
  });

/** Descriptors this process holds now (Linux); the listing's own descriptor is counted every time alike. */
const openFds = () => readdirSync('/proc/self/fd').length;
const noProc = existsSync('/proc/self/fd') ? false : 'needs /proc/self/fd';

t.test('the digest is the value it always was, whichever files keep their bytes', async (t) => {
  const { repo, files } = mixedVault(t);
  const expected = digestTheOldWay(files);
  for (const keptBytes of [undefined, 0, 100_000, 1024 * 1024 * 1024]) {
    const read = await readFolder(repo, VAULT, keptBytes === undefined ? {} : { keptBytes });
    t.equal(read.digest, expected, `keptBytes ${keptBytes ?? 'default'}`);
    t.equal(read.files, Object.keys(files).length);
  }
  t.equal(treeDigest(Object.entries(files).map(([name, data]) => ({ name, data }))), expected, 'treeDigest still takes the bytes');
  t.equal(treeDigest(Object.entries(files).map(([name, data]) => ({ name, sha256: fileSha256(data) }))), expected, 'or their SHA-256');
  t.equal((await folderDigest(repo, VAULT)).digest, expected, 'folderDigest too');
});

t.test('a zip with files read again is byte for byte the zip built from memory', async (t) => {
  const { repo, files } = mixedVault(t);
  const reference = await zipFromMemory(files);
  t.ok(KEPT_BYTES > 2 * 1024 * 1024, 'the default bound keeps every byte of this vault');
  t.equal(firstDifference(await zipFolder(repo, VAULT), reference), -1, 'every file kept (the default bound)');
  t.equal(firstDifference(await zipFolder(repo, VAULT, { keptBytes: 0 }), reference), -1, 'every file read again (bound 0)');
  t.equal(firstDifference(await zipFolder(repo, VAULT, { keptBytes: 200_000 }), reference), -1, 'some kept, some read again');
  const read = await readFolder(repo, VAULT, { keptBytes: 0 });
  t.equal(firstDifference(await buffer(read.zip()), reference), -1, 'readFolder().zip() streams the same bytes');
  t.equal(firstDifference(await buffer(read.zip()), reference), -1, 'and again on a second call');

  const entries = (await unzipper.Open.buffer(reference)).files;
  const method = (name: string) => entries.find((f) => f.path === `${VAULT}/${name}`)!.compressionMethod;
  t.same(
    [method('big.env'), method('certs/big.bin'), method('text-then-noise'), method('noise-then-text'), method('noise-4k-then-text')],
    [8, 0, 8, 0, 0],
    'both methods are covered, decided on the first 4 KiB',
  );
  for (const f of entries) t.ok((await f.buffer()).equals(files[f.path.slice(VAULT.length + 1)]!), `${f.path}: its bytes`);
});

t.test('zipBytes: the length of the zip before it is built, wherever no file to deflate was left unkept', async (t) => {
  const { repo, dev, files } = mixedVault(t);
  writeFileSync(join(dev, 'certs', 'nämé ünïcode.bin'), randomBytes(5000)); // a UTF-8 name: its bytes, not its characters
  writeFileSync(join(dev, 'tiny-text'), 'A=1\n'.repeat(20)); // below the size worth deflating
  const built = async (keptBytes?: number) => {
    const read = await readFolder(repo, VAULT, keptBytes === undefined ? {} : { keptBytes });
    return { predicted: read.zipBytes(), actual: (await buffer(read.zip())).length };
  };
  const all = await built();
  t.equal(all.predicted, all.actual, `every file kept: ${all.actual} bytes, as predicted`);
  t.ok(all.actual > 0 && files['big.env']!.length > 0);
  // Unkept, the deflated files (big.env, text-then-noise, edge-64k+1.txt) leave it unknown; the stored ones do not.
  t.equal((await built(0)).predicted, undefined, 'a file to deflate not kept: unknown');
  for (const name of ['big.env', 'text-then-noise', 'edge-64k+1.txt', '.env.dev', 'tiny-text']) await rm(join(dev, name));
  for (const keptBytes of [0, 100_000, undefined]) {
    const { predicted, actual } = await built(keptBytes);
    t.equal(predicted, actual, `only stored files, keptBytes ${keptBytes ?? 'default'}: ${actual} bytes, as predicted`);
  }
  writeFileSync(join(dev, '.env.dev'), 'API_KEY=again\n'.repeat(400));
  const mixed = await built(6000); // .env.dev (5,600 bytes, first in byte order) kept, nothing else
  t.equal(mixed.predicted, mixed.actual, 'a small text file kept (it fits), the stored ones read again: as predicted');

  const emptyBase = t.testdir({ repo: { infra: { vault: { dev: {} } } } });
  const none = await readFolder(join(emptyBase, 'repo'), VAULT);
  t.equal(none.zipBytes(), (await buffer(none.zip())).length, 'an empty folder: the end record alone');
  t.equal(none.zipBytes(), 22);
});

t.test('a big file that changed between the read and the zip fails the zip stream', async (t) => {
  // The same bytes under another inode or a new ctime: caught by the checks at open (fstat), before any of its
  // bytes. Other bytes: caught there too, or else by the hash at the end of the file (the next test).
  const changes: Array<[string, (file: string, outside: string) => Promise<void>]> = [
    ['written in place, same size, other bytes', (file) => writeFile(file, randomBytes(300_000))],
    [
      'written in place with the very same bytes (a new ctime)',
      async (file) => {
        // A kernel with coarse timestamps may give a write in the same tick the old ctime: write until it moves.
        const { ctimeNs } = await stat(file, { bigint: true });
        const data = await readFile(file);
        do await writeFile(file, data);
        while ((await stat(file, { bigint: true })).ctimeNs === ctimeNs);
      },
    ],
    [
      'replaced by a copy of itself (rename: another inode, the same bytes)',
      async (file) => {
        await copyFile(file, `${file}.new`);
        await rename(`${file}.new`, file);
      },
    ],
    [
      'replaced by another file of the same size (rename)',
      async (file) => {
        await writeFile(`${file}.new`, randomBytes(300_000));
        await rename(`${file}.new`, file);
      },
    ],
    [
      'replaced by a symlink to a file with the same bytes',
      async (file, outside) => {
        await rename(file, join(outside, 'parked'));
        await symlink(join(outside, 'parked'), file);
      },
    ],
    ['removed', (file) => unlink(file)],
    ['given a second name outside the folder', (file, outside) => link(file, join(outside, 'second-name'))],
  ];
  for (const [what, change] of changes) {
    await t.test(what, async (t) => {
      const { repo, dev, outside } = mixedVault(t);
      const read = await readFolder(repo, VAULT, { keptBytes: 0 });
      await change(join(dev, 'certs', 'big.bin'), outside);
      const before = noProc ? 0 : openFds();
      const taken: Buffer[] = [];
      await t.rejects(pipeline(read.zip(), collect(taken)), {
        code: 'VAULT_CHANGED_DURING_PUSH',
        message: /"infra\/vault\/dev\/certs\/big\.bin" changed while it was zipped$/,
      });
      await t.rejects(unzipper.Open.buffer(Buffer.concat(taken)), 'what was taken is no archive');
      if (!noProc) t.equal(openFds(), before, 'nothing left open');
    });
  }
});

t.test('a big file written to while it streams into the zip: its bytes no longer hash, the stream fails', async (t) => {
  const repo = t.testdir({ infra: { vault: { dev: {} } } });
  const path = join(repo, VAULT, 'large.bin');
  writeFileSync(path, randomBytes(8 * 1024 * 1024));
  const read = await readFolder(repo, VAULT, { keptBytes: 0 });
  t.equal(read.files, 1, 'one file, past the bound: read again when zipped');
  let written = false;
  const taken: Buffer[] = [];
  // The zip holds the file open (it passed the checks at open) when the first bytes come out; its last byte
  // is then changed, same size, long before the read reaches it (the buffers between hold a few MiB at most).
  const writeAtFirstChunk = new Transform({
    transform(chunk: Buffer, _, done) {
      if (!written) {
        written = true;
        const fd = openSync(path, 'r+');
        writeSync(fd, Buffer.from([0xff ^ readFileSync(path).at(-1)!]), 0, 1, 8 * 1024 * 1024 - 1);
        closeSync(fd);
      }
      taken.push(chunk);
      done();
    },
  });
  await t.rejects(pipeline(read.zip(), writeAtFirstChunk, new Writable({ write: (_c, _e, done) => done() })), {
    code: 'VAULT_CHANGED_DURING_PUSH',
    message: /"infra\/vault\/dev\/large\.bin" changed while it was zipped$/,
  });
  t.ok(written, 'the file was changed mid-stream');
  await t.rejects(unzipper.Open.buffer(Buffer.concat(taken)), 'what was taken is no archive');
});

t.test('a small file edited after the read: the zip holds the bytes read, the ones the digest describes', async (t) => {
  const { repo, dev, files } = mixedVault(t);
  const read = await readFolder(repo, VAULT, { keptBytes: 1024 });
  await writeFile(join(dev, '.env.dev'), 'API_KEY=edited\n');
  t.equal(firstDifference(await buffer(read.zip()), await zipFromMemory(files)), -1);
});

t.test('two files open at a time while zipping: the one zipped and the next', { skip: noProc }, async (t) => {
  const repo = t.testdir({ infra: { vault: { dev: {} } } });
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 50; i++) files[`f${String(i).padStart(2, '0')}`] = i % 2 ? randomBytes(100_000) : envText(2500);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(repo, VAULT, name), data);
  const read = await readFolder(repo, VAULT, { keptBytes: 0 });
  const baseline = openFds();
  let most = baseline;
  let samples = 0;
  const chunks: Buffer[] = [];
  await pipeline(
    read.zip(),
    new Transform({
      transform(chunk: Buffer, _, done) {
        most = Math.max(most, openFds());
        samples++;
        done(null, chunk);
      },
    }),
    collect(chunks),
  );
  t.ok(samples >= 50, `${samples} samples`);
  t.ok(most > baseline, 'a file was seen open (the sampling sees them)');
  t.ok(most - baseline <= 2, `at most 2 more descriptors than before the zip (${most - baseline})`);
  t.ok(most - baseline >= 2, 'the next file is opened while one is zipped (the sampling sees both)');
  t.equal(firstDifference(Buffer.concat(chunks), await zipFromMemory(files)), -1, 'and the zip is the one from memory');
  t.equal(openFds(), baseline, 'none left open');
});

t.test('destroying the zip stream part way closes what it had open, and raises nothing', { skip: noProc }, async (t) => {
  const repo = t.testdir({ infra: { vault: { dev: {} } } });
  // The first file is far larger than the buffers between it and the consumer: open at the first chunk.
  const files: Record<string, Buffer> = {
    'a-large.bin': randomBytes(8 * 1024 * 1024),
    'b.env': envText(3000),
    'c.bin': randomBytes(100_000),
  };
  for (const [name, data] of Object.entries(files)) writeFileSync(join(repo, VAULT, name), data);
  const read = await readFolder(repo, VAULT, { keptBytes: 0 });
  const problems: unknown[] = [];
  const record = (err: unknown) => void problems.push(err);
  process.on('unhandledRejection', record);
  process.on('uncaughtException', record);
  t.teardown(() => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
  });
  const baseline = openFds();

  await t.test('by the consumer, at its first chunk', async (t) => {
    const zip = read.zip();
    let openAtDestroy = 0;
    zip.once('data', () => {
      openAtDestroy = openFds();
      zip.destroy();
    });
    await once(zip, 'close');
    // The file being zipped, and the next one if its open has finished by then.
    t.ok(openAtDestroy > baseline && openAtDestroy <= baseline + 2, `files were open when it was destroyed (${openAtDestroy - baseline})`);
    t.equal(openFds(), baseline, 'and is closed once the zip stream is');
  });

  await t.test('by a pipeline whose consumer fails', async (t) => {
    const boom = new Error('the upload failed');
    const zip = read.zip();
    await t.rejects(pipeline(zip, new Writable({ write: (_chunk, _e, done) => done(boom) })), boom, "the consumer's error");
    // pipeline settles on its consumer's failure, and destroys the zip with it: the zip closes (and reports
    // that same error, to pipeline's listener) once its file is closed.
    if (!zip.closed) await new Promise((resolve) => zip.once('close', resolve));
    t.equal(openFds(), baseline, 'the file is closed once the zip stream is');
  });

  await t.test('before it was read at all: nothing was opened', async (t) => {
    const zip = read.zip();
    zip.destroy();
    await once(zip, 'close');
    t.equal(openFds(), baseline);
  });

  // Let what is left (a read in flight, archiver's queue) run before looking for stray errors.
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  t.same(problems, [], 'no unhandled error or rejection');
  t.equal(firstDifference(await buffer(read.zip()), await zipFromMemory(files)), -1, 'the same read still zips whole');
});

// FolderRead.stillAsRead: what a pull checks just before its swap, by listing the folder again (no byte read).
// It judges writes by ctime, which the kernel takes from a clock that ticks every few ms: a write within the
// tick that made the file can leave ctime as it was. So each case first waits until that clock has moved
// past the files' ctimes (a probe written until its ctime is later): the change is then always visible.
async function untilFileClockPasses(base: string, file: string): Promise<void> {
  const probe = join(base, 'clock-probe');
  const made = (await stat(file, { bigint: true })).ctimeNs;
  for (;;) {
    await writeFile(probe, '');
    if ((await stat(probe, { bigint: true })).ctimeNs > made) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

t.test('stillAsRead: true for a quiet folder; false for every change a listing can see', async (t) => {
  const changes: Array<[string, (dev: string, other: string) => Promise<unknown>]> = [
    ['a file written to (another size)', (dev) => appendFile(join(dev, 'b.txt'), 'more\n')],
    ['a file written to (the same size)', (dev) => writeFile(join(dev, 'b.txt'), 'b-fixed\n')],
    ['a file touched, its bytes the same (ctime moves)', (dev) => writeFile(join(dev, 'b.txt'), 'b-first\n')],
    ['a file added', (dev) => writeFile(join(dev, 'new.txt'), 'new\n')],
    ['a file added in a subfolder', (dev) => writeFile(join(dev, 'certs', 'new.pem'), 'new\n')],
    ['an empty folder added', (dev) => mkdir(join(dev, 'empty'))],
    ['a file removed', (dev) => unlink(join(dev, 'b.txt'))],
    [
      'a file replaced by a copy (a new inode)',
      (dev) => copyFile(join(dev, 'b.txt'), join(dev, 'b.tmp')).then(() => rename(join(dev, 'b.tmp'), join(dev, 'b.txt'))),
    ],
    ['a symlink added', (dev) => symlink('/etc/passwd', join(dev, 'passwd'))],
    ['the folder swapped for another', (dev, other) => swapFolders(dev, other)],
    ['the folder removed', (dev) => rm(dev, { recursive: true })],
  ];
  for (const [what, change] of changes) {
    await t.test(what, async (t) => {
      const { base, repo, dev, other } = rig(t);
      await untilFileClockPasses(base, join(dev, 'b.txt'));
      const read = await readFolder(repo, VAULT);
      t.equal(await read.stillAsRead(), true, 'untouched: as read');
      t.equal(await read.stillAsRead(), true, 'and asking again changes nothing');
      await change(dev, other);
      t.equal(await read.stillAsRead(), false, 'changed');
    });
  }
  await t.test('an editor scratch file comes and goes: not a change (no digest counts one)', async (t) => {
    const { repo, dev } = rig(t);
    const read = await readFolder(repo, VAULT);
    await writeFile(join(dev, '.env.dev.swp'), 'scratch');
    t.equal(await read.stillAsRead(), true);
    t.equal((await folderDigest(repo, VAULT)).digest, read.digest, 'as the digest agrees');
  });
  await t.test('a file only read (its atime moves) is not a change', async (t) => {
    const { repo, dev } = rig(t);
    const read = await readFolder(repo, VAULT);
    await readFile(join(dev, 'b.txt'));
    await readFolder(repo, VAULT);
    t.equal(await read.stillAsRead(), true);
  });
});
