// Hostile and broken archives against unzipToStaging. Each is built by hand (a tiny zip writer below), because
// an honest zip library will not write `../evil`, a symlink or a lying header. For every refusal we check the
// error code, that nothing changed outside the staging folder, and that the staging folder is empty again.
// Each archive is given both ways a pull may hand it over: as bytes and as a file.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { ZipArchive } from 'archiver';
import { buffer } from 'node:stream/consumers';
import t from 'tap';
import { unzipToStaging } from '../../daemon/bundle/unzip-to-staging.js';
import { readCentralDirectory } from '../../daemon/bundle/central-directory.js';
import { resolveBundleLimits, type BundleLimits } from '../../daemon/bundle/limits.js';
import { openZipSource, type ZipInput } from '../../daemon/bundle/zip-source.js';

const VAULT = 'infra/vault/dev';

// A subtest's `t` (the last overload of t.test takes just the callback).
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

// ---- a minimal zip writer: local headers, central directory, end record; stored or deflated -------------

interface RawEntry {
  name: string;
  data?: Buffer;
  method?: number; // 0 stored, 8 deflate (the body is deflated unless `body` is given)
  body?: Buffer; // the bytes written after the local header, as they are
  mode?: number; // the full unix mode (type bits included) for the central external attributes
  flags?: number;
  // central directory values, when they should lie
  crc?: number;
  compressedSize?: number;
  uncompressedSize?: number;
  // local header values, when they should differ from the central ones
  localName?: string;
  localCompressedSize?: number;
  localUncompressedSize?: number;
  // point the central record at another offset and write no local header of its own
  centralOffset?: number;
  noLocal?: boolean;
}

function localHeader(e: RawEntry, crc: number, compressed: number, uncompressed: number, method: number): Buffer {
  const name = Buffer.from(e.localName ?? e.name, 'utf8');
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4); // version needed
  h.writeUInt16LE(e.flags ?? 0, 6);
  h.writeUInt16LE(method, 8);
  h.writeUInt16LE(0, 10); // time
  h.writeUInt16LE(0x21, 12); // date: 1980-01-01
  h.writeUInt32LE(crc >>> 0, 14);
  h.writeUInt32LE(e.localCompressedSize ?? compressed, 18);
  h.writeUInt32LE(e.localUncompressedSize ?? uncompressed, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(0, 28);
  return Buffer.concat([h, name]);
}

function makeZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 0;
    const body = e.body ?? (method === 8 ? deflateRawSync(data) : data);
    const crc = e.crc ?? crc32(data);
    const compressed = e.compressedSize ?? body.length;
    const uncompressed = e.uncompressedSize ?? data.length;
    const at = e.centralOffset ?? offset;
    if (!e.noLocal) {
      const local = Buffer.concat([localHeader(e, crc, compressed, uncompressed, method), body]);
      locals.push(local);
      offset += local.length;
    }
    const name = Buffer.from(e.name, 'utf8');
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE((3 << 8) | 20, 4); // made by: unix
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.flags ?? 0, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt16LE(0, 12);
    c.writeUInt16LE(0x21, 14);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(compressed, 20);
    c.writeUInt32LE(uncompressed, 24);
    c.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number, internal attributes: 0
    c.writeUInt32LE(((e.mode ?? 0o100600) * 0x10000) >>> 0, 38);
    c.writeUInt32LE(at, 42);
    centrals.push(c, name);
  }
  const central = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, central, end]);
}

const file = (name: string, text = 'SECRET=1\n', extra: Partial<RawEntry> = {}): RawEntry => ({
  name,
  data: Buffer.from(text),
  ...extra,
});

// ---- an arena: a sentinel tree beside the staging folder, to prove nothing outside it changes ----------

async function snapshot(root: string, skip: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      if (path === skip) continue;
      const s = await lstat(path);
      const rel = relative(root, path);
      if (s.isDirectory()) {
        out.push(`${rel}/ ${(s.mode & 0o777).toString(8)}`);
        await walk(path);
      } else {
        out.push(`${rel} ${s.size} ${(await readFile(path)).toString('base64')}`);
      }
    }
  };
  await walk(root);
  return out;
}

async function arena(t: Test) {
  // root/home/me/repo/infra/vault/dev is a live vault folder; the staging folder sits in the repo, as the pull
  // makes it. The sentinels around it sit where a naive extractor would land `../x`, `../../x` and so on.
  const root = t.testdir({
    'keep.txt': 'outside\n',
    home: {
      me: {
        '.bashrc': 'sentinel\n',
        repo: {
          '.vsync': 'repo=acme_web\n',
          infra: { vault: { dev: { '.env.dev': 'OLD=1\n' }, other: { x: 'other env\n' } } },
          '.stage-dev': {},
        },
      },
    },
  });
  const staging = join(root, 'home', 'me', 'repo', '.stage-dev');
  const before = await snapshot(root, staging);
  return {
    root,
    staging,
    /** Asserts that everything outside the staging folder is as it was, and the staging folder is empty. */
    async untouched(t: Test) {
      t.same(await snapshot(root, staging), before, 'nothing outside the staging folder changed');
      t.same(await readdir(staging), [], 'the staging folder is empty');
      for (const outside of ['../evil', '../../evil', '../../x', '../../../x', '../infra/vault/other/x2']) {
        t.notOk(await lstat(join(staging, outside)).catch(() => undefined), `${outside} was not written`);
      }
    },
  };
}

// ---- the two forms of an archive: bytes, and a file as a pull leaves it (0600, in a 0700 folder) ----------

const archives = mkdtempSync(join(tmpdir(), 'vsync-zips-'));
t.teardown(() => rmSync(archives, { recursive: true, force: true }));
let zipFiles = 0;

async function asFile(zip: Buffer): Promise<{ path: string }> {
  const path = join(archives, `${++zipFiles}.zip`);
  await writeFile(path, zip, { mode: 0o600, flag: 'wx' });
  return { path };
}

const forms = ['bytes', 'file'] as const;

async function inForm(form: (typeof forms)[number], zip: Buffer): Promise<ZipInput> {
  return form === 'file' ? asFile(zip) : zip;
}

/** This process's descriptors open on `path`; none where /proc/self/fd is missing (not Linux). */
async function descriptorsOn(path: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd').catch(() => []);
  const targets = await Promise.all(fds.map(async (fd) => ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === path ? fd : '')));
  return targets.filter((fd) => fd !== '');
}

/** Asserts that extracting `input` left no descriptor open on it. */
async function closed(t: Test, input: ZipInput): Promise<void> {
  if (!Buffer.isBuffer(input)) t.same(await descriptorsOn(input.path), [], 'the archive file was closed');
}

async function refused(t: Test, zip: Buffer, code: string, message?: RegExp, limits?: Partial<BundleLimits>): Promise<void> {
  const a = await arena(t);
  for (const form of forms) {
    const input = await inForm(form, zip);
    await t.rejects(unzipToStaging(input, a.staging, VAULT, limits), message ? { code, message } : { code }, `as ${form}`);
    await a.untouched(t);
    await closed(t, input);
  }
}

/** Runs `check` on the archive as bytes and as a file, each in a subtest with its own arena. */
async function eachForm(
  t: Test,
  zip: Buffer,
  check: (t: Test, input: ZipInput, a: Awaited<ReturnType<typeof arena>>) => Promise<void>,
): Promise<void> {
  for (const form of forms) {
    await t.test(`as ${form}`, async (t) => {
      const input = await inForm(form, zip);
      await check(t, input, await arena(t));
      await closed(t, input);
    });
  }
}

// ---- names ---------------------------------------------------------------------------------------------

t.test('entries whose names leave the vault folder are refused', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['../evil', /"\.\." segment/],
    ['/abs', /absolute/],
    ['/etc/cron.d/evil', /absolute/],
    ['C:/evil', /drive letter/],
    ['c:evil', /drive letter/],
    [`${VAULT}/../../x`, /"\.\." segment/],
    [`${VAULT}/../dev/x`, /"\.\." segment/],
    [`${VAULT}/./x`, /"\." or "\.\." segment/],
    [`${VAULT}//x`, /empty segment/],
    ['infra\\vault\\dev\\x', /backslash/],
    [`${VAULT}\\..\\..\\x`, /backslash/],
    [`${VAULT}/a\0b`, /NUL byte/],
    [`${VAULT}/line\nbreak`, /control character/],
    ['infra/vault/other/x', /outside the vault folder/],
    ['infra/vault/other/x2', /outside the vault folder/],
    ['../../x', /"\.\." segment/],
    ['../../../x', /"\.\." segment/],
    ['infra/vault/dev-evil/x', /outside the vault folder/],
    ['infra/vault/dev', /outside the vault folder/], // a file where the vault folder should be
    ['x', /outside the vault folder/],
  ];
  for (const [name, message] of cases) {
    await t.test(JSON.stringify(name), async (t) => {
      // A harmless entry first: a refusal must come before anything at all is written.
      await refused(t, makeZip([file(`${VAULT}/ok`), file(name)]), 'BUNDLE_UNSAFE_ENTRY', message);
    });
  }
});

t.test('a name that is not valid UTF-8 is refused', async (t) => {
  const zip = makeZip([file(`${VAULT}/ok`)]);
  // Patch one byte of the central name ("ok" → "o\xff") and the local one alike, so only the encoding is wrong.
  const patched = Buffer.from(zip);
  for (let at = patched.indexOf('/ok'); at >= 0; at = patched.indexOf('/ok', at + 1)) patched[at + 2] = 0xff;
  await refused(t, patched, 'BUNDLE_UNSAFE_ENTRY', /not valid UTF-8/);
});

t.test('duplicate and clashing names are refused', async (t) => {
  const cases: Array<[string, RawEntry[], RegExp]> = [
    ['exact duplicate', [file(`${VAULT}/.env.dev`, 'A=1\n'), file(`${VAULT}/.env.dev`, 'A=2\n')], /appears twice/],
    ['case collision', [file(`${VAULT}/.env.dev`), file(`${VAULT}/.ENV.dev`)], /case-insensitive/],
    ['normalisation collision', [file(`${VAULT}/caf\u00e9`), file(`${VAULT}/cafe\u0301`)], /case-insensitive/],
    ['file then folder', [file(`${VAULT}/a`), file(`${VAULT}/a/b`)], /both a file and a folder/],
    ['folder then file', [file(`${VAULT}/a/b`), file(`${VAULT}/a`)], /both a file and a folder/],
    ['folder entry over a file', [file(`${VAULT}/a`), { name: `${VAULT}/a/`, mode: 0o040700 }], /both a file and a folder/],
    [
      'folder listed twice',
      [
        { name: `${VAULT}/d/`, mode: 0o040700 },
        { name: `${VAULT}/d/`, mode: 0o040700 },
      ],
      /appears twice/,
    ],
  ];
  for (const [label, entries, message] of cases) {
    await t.test(label, async (t) => refused(t, makeZip(entries), 'BUNDLE_UNSAFE_ENTRY', message));
  }
});

// ---- types ---------------------------------------------------------------------------------------------

t.test('entries that are not regular files or folders are refused', async (t) => {
  const cases: Array<[string, RawEntry, RegExp]> = [
    ['symlink', file(`${VAULT}/link`, '/etc/passwd', { mode: 0o120777 }), /is a symlink/],
    ['symlink to a parent', file(`${VAULT}/up`, '../..', { mode: 0o120777 }), /is a symlink/],
    ['fifo', file(`${VAULT}/pipe`, '', { mode: 0o010600 }), /is a fifo/],
    ['socket', file(`${VAULT}/sock`, '', { mode: 0o140600 }), /is a socket/],
    ['character device', file(`${VAULT}/tty`, '', { mode: 0o020600 }), /is a device/],
    ['block device', file(`${VAULT}/sda`, '', { mode: 0o060600 }), /is a device/],
    ['unknown type bits', file(`${VAULT}/odd`, '', { mode: 0o160600 }), /unknown type/],
    ['folder mode, file name', file(`${VAULT}/notdir`, '', { mode: 0o040700 }), /named like/],
    ['file mode, folder name', file(`${VAULT}/dir/`, '', { mode: 0o100600 }), /named like/],
    ['folder carrying data', file(`${VAULT}/dir/`, 'data', { mode: 0o040700 }), /carries data/],
  ];
  for (const [label, entry, message] of cases) {
    await t.test(label, async (t) => refused(t, makeZip([file(`${VAULT}/ok`), entry]), 'BUNDLE_UNSAFE_ENTRY', message));
  }
});

// ---- sizes ---------------------------------------------------------------------------------------------

t.test('too many entries', async (t) => {
  const entries = (n: number) => Array.from({ length: n }, (_, i) => file(`${VAULT}/f${i}`, 'x'));
  await t.test('over a per-call cap', async (t) =>
    refused(t, makeZip(entries(4)), 'BUNDLE_TOO_LARGE', /4 entries \(at most 3 \(VSYNC_MAX_BUNDLE_ENTRIES, or limits\.maxEntries/, {
      maxEntries: 3,
    }),
  );
  await t.test('over the default cap of 1000', async (t) => refused(t, makeZip(entries(1001)), 'BUNDLE_TOO_LARGE', /1001 entries/));
  await t.test('folder entries count too', async (t) =>
    refused(t, makeZip([...entries(2), { name: `${VAULT}/d/`, mode: 0o040700 }]), 'BUNDLE_TOO_LARGE', /3 entries/, { maxEntries: 2 }),
  );
  await t.test('a zip64 end record declaring millions: refused by its count, before a record is parsed', async (t) => {
    // A zip64 end record (56 bytes) declaring 2,000,000 entries, its locator (20), and a classic end record
    // (22) whose count is the zip64 mark. No central directory at all: nothing is read but these three.
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeBigUInt64LE(2_000_000n, 24);
    record.writeBigUInt64LE(2_000_000n, 32);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(0n, 8); // the zip64 end record starts the archive
    locator.writeUInt32LE(1, 16);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 16);
    await refused(t, Buffer.concat([record, locator, end]), 'BUNDLE_TOO_LARGE', /lists 2000000 entries \(at most 1000/);
  });
  await t.test('exactly at the cap is fine', async (t) =>
    eachForm(t, makeZip(entries(3)), async (t, zip, a) => {
      const { files } = await unzipToStaging(zip, a.staging, VAULT, { maxEntries: 3 });
      t.equal(files.length, 3);
    }),
  );
});

t.test('declared sizes over the caps', async (t) => {
  const sixty = 'x'.repeat(60);
  await t.test('total', async (t) =>
    refused(
      t,
      makeZip([file(`${VAULT}/a`, sixty), file(`${VAULT}/b`, sixty)]),
      'BUNDLE_TOO_LARGE',
      /more than 100 \(VSYNC_MAX_BUNDLE_BYTES, or limits\.maxTotalBytes in the vault's config\) bytes in all/,
      {
        maxTotalBytes: 100,
      },
    ),
  );
  await t.test('one entry', async (t) =>
    refused(t, makeZip([file(`${VAULT}/a`, sixty)]), 'BUNDLE_TOO_LARGE', /declares 60 bytes \(at most 50 \(VSYNC_MAX_FILE_BYTES/, {
      maxEntryBytes: 50,
    }),
  );
  await t.test('a deflated entry is judged by its uncompressed size', async (t) => {
    const big = Buffer.alloc(2 * 1024 * 1024, 0x61); // deflates to a few KiB
    const zip = makeZip([{ name: `${VAULT}/big`, data: big, method: 8 }]);
    t.ok(zip.length < 10 * 1024, 'the archive itself is small');
    await refused(t, zip, 'BUNDLE_TOO_LARGE', /declares 2097152 bytes/, { maxEntryBytes: 1024 * 1024 });
  });
  await t.test('the archive itself, before parsing', async (t) =>
    refused(t, Buffer.alloc(2 * 1024 * 1024), 'BUNDLE_TOO_LARGE', /the archive is/, {
      maxTotalBytes: 1024,
      maxEntries: 1,
    }),
  );
});

// ---- lying headers -------------------------------------------------------------------------------------

t.test('headers that lie about sizes', async (t) => {
  const mib = Buffer.alloc(1024 * 1024, 0x61);

  await t.test('deflated entry declared 10 bytes that inflates to 1 MiB', async (t) => {
    // unzipper trusts the central compressed size but not the uncompressed one: it would inflate the whole
    // MiB. The guard stops at byte 11; the earlier, honest entry was written and is removed again.
    const zip = makeZip([
      file(`${VAULT}/ok`),
      { name: `${VAULT}/bomb`, data: mib, method: 8, uncompressedSize: 10, crc: crc32(mib.subarray(0, 10)) },
    ]);
    await refused(t, zip, 'BUNDLE_CORRUPT', /holds more than the 10 bytes its header declares/);
  });

  // Entries up to 1 MiB are extracted in one piece, larger ones as a stream (unzip-to-staging.ts writeWhole):
  // both ways a lie about the size is caught, and an honest entry of either size arrives whole.
  for (const [way, declared] of [
    ['in one piece', 1000],
    ['as a stream', 2 * 1024 * 1024],
  ] as const) {
    await t.test(`${way}: an entry that inflates past its declared size, or short of it, or to other bytes`, async (t) => {
      const honest = Buffer.alloc(declared, 0x62);
      const longer = Buffer.concat([honest, Buffer.from('more')]);
      await refused(
        t,
        makeZip([{ name: `${VAULT}/long`, data: longer, method: 8, uncompressedSize: declared, crc: crc32(honest) }]),
        'BUNDLE_CORRUPT',
        new RegExp(`holds more than the ${declared} bytes its header declares`),
      );
      const shorter = honest.subarray(0, declared - 1);
      await refused(
        t,
        makeZip([{ name: `${VAULT}/short`, data: shorter, method: 8, uncompressedSize: declared, crc: crc32(honest) }]),
        'BUNDLE_CORRUPT',
        new RegExp(`holds ${declared - 1} bytes, not the ${declared}`),
      );
      const other = Buffer.alloc(declared, 0x63);
      await refused(
        t,
        makeZip([{ name: `${VAULT}/other`, data: other, method: 8, uncompressedSize: declared, crc: crc32(honest) }]),
        'BUNDLE_CORRUPT',
        /does not match its checksum/,
      );
      await eachForm(t, makeZip([{ name: `${VAULT}/ok`, data: honest, method: 8 }]), async (t, zip, a) => {
        t.same(await unzipToStaging(zip, a.staging, VAULT), { files: ['ok'] });
        t.ok((await readFile(join(a.staging, 'ok'))).equals(honest), 'the bytes, whole');
      });
    });
  }

  await t.test('deflated entry declared larger than it inflates', async (t) => {
    const zip = makeZip([{ name: `${VAULT}/short`, data: Buffer.from('tiny'), method: 8, uncompressedSize: 1000 }]);
    await refused(t, zip, 'BUNDLE_CORRUPT', /holds 4 bytes, not the 1000/);
  });

  await t.test('stored entry: central says 10 bytes, local header says 1 MiB', async (t) => {
    // unzipper reads by the central size (10 bytes); the local header disagreeing is refused up front.
    const zip = makeZip([
      {
        name: `${VAULT}/lie`,
        data: mib,
        compressedSize: 10,
        uncompressedSize: 10,
        crc: crc32(mib.subarray(0, 10)),
        localCompressedSize: mib.length,
        localUncompressedSize: mib.length,
      },
    ]);
    await refused(t, zip, 'BUNDLE_CORRUPT', /disagree on its size or checksum/);
  });

  await t.test('stored entry: both headers say 10 bytes, 1 MiB follows', async (t) => {
    // What unzipper does with a consistent lie: it reads the 10 declared bytes and never looks further, so
    // the rest is dead space. With the checksum of those 10 bytes it is a valid (if odd) archive.
    const zip = makeZip([{ name: `${VAULT}/lie`, data: mib, compressedSize: 10, uncompressedSize: 10, crc: crc32(mib.subarray(0, 10)) }]);
    await eachForm(t, zip, async (t, zip, a) => {
      t.same(await unzipToStaging(zip, a.staging, VAULT), { files: ['lie'] });
      t.equal((await stat(join(a.staging, 'lie'))).size, 10, 'only the declared 10 bytes are written');
    });
  });

  await t.test('stored entry: both headers say 10 bytes, checksum of the whole MiB', async (t) => {
    const zip = makeZip([{ name: `${VAULT}/lie`, data: mib, compressedSize: 10, uncompressedSize: 10 }]);
    await refused(t, zip, 'BUNDLE_CORRUPT', /does not match its checksum/);
  });

  await t.test('central sizes 0, local header 1 MiB', async (t) => {
    // The one case where unzipper falls back to the local header's sizes: refused before it could.
    const zip = makeZip([
      {
        name: `${VAULT}/zero`,
        data: mib,
        compressedSize: 0,
        uncompressedSize: 0,
        crc: 0,
        localCompressedSize: mib.length,
        localUncompressedSize: mib.length,
      },
    ]);
    await refused(t, zip, 'BUNDLE_CORRUPT', /disagree on its size or checksum/);
  });

  await t.test('central sizes 0, local sizes 0 behind a data-descriptor flag, 1 MiB follows', async (t) => {
    // Asked to read this, unzipper would scan for a descriptor signature; we write an empty file instead.
    const zip = makeZip([{ name: `${VAULT}/zero`, data: mib, flags: 0x08, compressedSize: 0, uncompressedSize: 0, crc: 0 }]);
    await eachForm(t, zip, async (t, zip, a) => {
      t.same(await unzipToStaging(zip, a.staging, VAULT), { files: ['zero'] });
      t.equal((await stat(join(a.staging, 'zero'))).size, 0);
    });
  });

  await t.test('stored entry whose sizes differ', async (t) =>
    refused(t, makeZip([file(`${VAULT}/s`, 'abc', { uncompressedSize: 2 })]), 'BUNDLE_CORRUPT', /two sizes differ/),
  );

  await t.test('data declared with no bytes', async (t) =>
    refused(
      t,
      makeZip([{ name: `${VAULT}/d`, method: 8, body: Buffer.alloc(0), uncompressedSize: 5 }]),
      'BUNDLE_CORRUPT',
      /declares data but holds none/,
    ),
  );

  await t.test('wrong checksum', async (t) =>
    refused(t, makeZip([file(`${VAULT}/c`, 'abc', { crc: 12345 })]), 'BUNDLE_CORRUPT', /does not match its checksum/),
  );

  await t.test('empty entry with a non-zero checksum', async (t) =>
    refused(t, makeZip([file(`${VAULT}/c`, '', { crc: 1 })]), 'BUNDLE_CORRUPT', /does not match its checksum/),
  );

  await t.test('local header names another file', async (t) =>
    refused(t, makeZip([file(`${VAULT}/ok`, 'x', { localName: '../../evil' })]), 'BUNDLE_CORRUPT', /local header names a different file/),
  );

  await t.test('entries sharing bytes', async (t) => {
    // Entry b's local header and data sit inside entry a's data; both records are honest on their own.
    const inner = file(`${VAULT}/b`, 'inner');
    const innerBytes = Buffer.concat([localHeader(inner, crc32(inner.data!), 5, 5, 0), inner.data!]);
    const outerName = `${VAULT}/a`;
    const zip = makeZip([
      { name: outerName, data: innerBytes },
      { ...inner, noLocal: true, centralOffset: 30 + Buffer.byteLength(outerName) },
    ]);
    await refused(t, zip, 'BUNDLE_CORRUPT', /overlaps/);
  });

  await t.test('a local header offset past the central directory', async (t) =>
    refused(t, makeZip([{ ...file(`${VAULT}/a`), noLocal: true, centralOffset: 5000 }]), 'BUNDLE_CORRUPT', /outside the archive/),
  );
});

// ---- not a usable zip ----------------------------------------------------------------------------------

t.test('archives that are not a usable zip', async (t) => {
  const good = makeZip([file(`${VAULT}/a`), file(`${VAULT}/b`)]);
  const centralStart = good.readUInt32LE(good.length - 22 + 16);
  const moreRecords = Buffer.from(good);
  moreRecords.writeUInt16LE(5, good.length - 22 + 8);
  moreRecords.writeUInt16LE(5, good.length - 22 + 10);
  const cases: Array<[string, Buffer, RegExp]> = [
    ['garbage', Buffer.from('this is not a zip file, just some text. '.repeat(20)), /not a readable zip/],
    ['empty', Buffer.alloc(0), /not a readable zip/],
    ['truncated', good.subarray(0, good.length - 30), /not a readable zip/],
    ['truncated by one byte', good.subarray(0, good.length - 1), /not a readable zip/],
    ['truncated inside the central directory', good.subarray(0, centralStart + 10), /not a readable zip/],
    ['truncated inside the first entry', good.subarray(0, 40), /not a readable zip/],
    ['end record lists more entries than exist', moreRecords, /not a readable zip/],
    ['encrypted entry', makeZip([file(`${VAULT}/a`, 'x', { flags: 1 })]), /encrypted/],
    ['unknown compression method', makeZip([file(`${VAULT}/a`, 'x', { method: 12 })]), /compression method 12/],
    [
      'deflate data that does not inflate',
      makeZip([{ name: `${VAULT}/a`, method: 8, body: Buffer.from([0xff, 0xff, 0xff, 0xff]), uncompressedSize: 4 }]),
      /could not be decompressed/,
    ],
  ];
  for (const [label, zip, message] of cases) {
    await t.test(label, async (t) => refused(t, zip, 'BUNDLE_CORRUPT', message));
  }
});

// ---- the archive file ----------------------------------------------------------------------------------

t.test('an archive file missing, not a file, or cut short under us: INTERNAL, not a damaged bundle', async (t) => {
  // The agent wrote the file itself a moment before: its absence is no fault of the bundle.
  await t.test('missing', async (t) => {
    const a = await arena(t);
    await t.rejects(unzipToStaging({ path: join(archives, 'missing.zip') }, a.staging, VAULT), {
      code: 'INTERNAL',
      message: /missing\.zip cannot be opened \(ENOENT/,
    });
    await a.untouched(t);
  });
  await t.test('a folder', async (t) => {
    const a = await arena(t);
    await t.rejects(unzipToStaging({ path: archives }, a.staging, VAULT), { code: 'INTERNAL', message: /is not a regular file/ });
    await a.untouched(t);
    t.same(await descriptorsOn(archives), [], 'the folder was closed');
  });
  await t.test('cut short after it was opened', async (t) => {
    // Not a damaged bundle but a file changed under us: the size it had when opened is what is read.
    const zip = makeZip([file(`${VAULT}/a`)]);
    const { path } = await asFile(zip);
    const source = await openZipSource({ path });
    t.teardown(() => source.close());
    t.equal(source.size, zip.length, 'the size when opened');
    await truncate(path, 10);
    await t.rejects(readCentralDirectory(source, resolveBundleLimits()), { code: 'INTERNAL', message: /became shorter than its/ });
    t.same(await buffer(source.stream(0)), zip.subarray(0, 10), 'a stream ends where the file does, without an error event');
    t.match(source.failure, { code: 'INTERNAL', message: /became shorter than its/ }, 'and keeps why for the caller');
  });
});

// ---- the staging folder --------------------------------------------------------------------------------

t.test('the staging folder must be an existing empty folder, and is left alone otherwise', async (t) => {
  const zip = makeZip([file(`${VAULT}/a`)]);
  await t.test('not empty', async (t) => {
    const dir = t.testdir({ 'mine.txt': 'keep' });
    await t.rejects(unzipToStaging(zip, dir, VAULT), { code: 'INTERNAL', message: /not empty/ });
    t.same(await readdir(dir), ['mine.txt'], 'a folder that was not empty is not emptied');
  });
  await t.test('missing', async (t) => {
    await t.rejects(unzipToStaging(zip, join(t.testdir(), 'nope'), VAULT), { code: 'INTERNAL' });
  });
  await t.test('a symlink to a folder', async (t) => {
    const dir = t.testdir({ real: {} });
    await symlink(join(dir, 'real'), join(dir, 'link'));
    await t.rejects(unzipToStaging(zip, join(dir, 'link'), VAULT), { code: 'INTERNAL', message: /not a folder/ });
    t.same(await readdir(join(dir, 'real')), []);
  });
  await t.test('a bad vault folder', async (t) => {
    const a = await arena(t);
    for (const vault of ['', '.', '/abs', '../up', 'infra/../..']) {
      await t.rejects(unzipToStaging(zip, a.staging, vault), { code: 'BUNDLE_SOURCE_INVALID' }, JSON.stringify(vault));
    }
    await a.untouched(t);
  });
});

// ---- what is accepted ----------------------------------------------------------------------------------

t.test('accepted: folder entries, parents of the vault folder, archives from other tools', async (t) => {
  const zip = makeZip([
    { name: 'infra/', mode: 0o040755 },
    { name: 'infra/vault/', mode: 0o040755 },
    { name: `${VAULT}/`, mode: 0o040755 },
    { name: `${VAULT}/empty/`, mode: 0o040755 },
    { name: `${VAULT}/sub/`, mode: 0 }, // a DOS-made folder entry: no unix bits
    file(`${VAULT}/sub/.env.extra`, 'B=2\n', { mode: 0o100755 }),
    file(`${VAULT}/dos.txt`, 'dos\n', { mode: 0 }),
    file(`${VAULT}/deflated`, 'D=4\n'.repeat(100), { method: 8 }),
    file(`${VAULT}/empty.txt`, ''),
    file(`${VAULT}/implied/parent/file`, 'x'),
  ]);
  await eachForm(t, zip, async (t, zip, a) => {
    const { files } = await unzipToStaging(zip, a.staging, VAULT);
    t.same(files, ['deflated', 'dos.txt', 'empty.txt', 'implied/parent/file', 'sub/.env.extra']);
    t.equal(await readFile(join(a.staging, 'deflated'), 'utf8'), 'D=4\n'.repeat(100));
    t.equal(await readFile(join(a.staging, 'sub/.env.extra'), 'utf8'), 'B=2\n');
    t.equal(((await stat(join(a.staging, 'sub/.env.extra'))).mode & 0o777).toString(8), '600', 'mode 0600, not 0755');
    for (const folder of ['empty', 'sub', 'implied', 'implied/parent']) {
      t.equal(((await stat(join(a.staging, folder))).mode & 0o777).toString(8), '700', `${folder}/ is 0700`);
    }
    t.notOk(await stat(join(a.staging, 'infra')).catch(() => undefined), 'parent folder entries are not created');
  });
});

t.test('accepted: a deflated archive with data descriptors, as archiver writes by default', async (t) => {
  const archive = new ZipArchive({});
  const bytes = buffer(archive);
  archive.append(Buffer.from('A=1\n'.repeat(50)), { name: `${VAULT}/.env.dev` });
  archive.append(Buffer.alloc(0), { name: `${VAULT}/empty` });
  archive.append(Buffer.from('nested'), { name: `${VAULT}/n/e/s/t` });
  const [zip] = await Promise.all([bytes, archive.finalize()]);
  t.equal(zip.readUInt16LE(6) & 0x08, 0x08, 'the first entry uses a data descriptor');
  await eachForm(t, zip, async (t, zip, a) => {
    const { files } = await unzipToStaging(zip, a.staging, VAULT);
    t.same(files, ['.env.dev', 'empty', 'n/e/s/t']);
    t.equal(await readFile(join(a.staging, '.env.dev'), 'utf8'), 'A=1\n'.repeat(50));
    t.equal(await readFile(join(a.staging, 'empty'), 'utf8'), '');
  });
});

t.test('a vault folder given as ./infra/vault/dev/ reads the same entries', async (t) =>
  eachForm(t, makeZip([file(`${VAULT}/a`)]), async (t, zip, a) => {
    const { files } = await unzipToStaging(zip, a.staging, `./${VAULT}/`);
    t.same(files, ['a']);
  }),
);

t.test('accepted: a large archive, from a file read in pieces', async (t) => {
  // One stored 48 MiB entry, under raised caps: the file is never read whole, but in chunks unzipper passes
  // on one by one, and the guard counts and checksums each.
  const data = randomBytes(48 * 1024 * 1024);
  const zip = await asFile(makeZip([{ name: `${VAULT}/big.bin`, data }]));
  const a = await arena(t);
  t.same(await unzipToStaging(zip, a.staging, VAULT, { maxEntryBytes: data.length }), { files: ['big.bin'] });
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  t.equal(sha256(await readFile(join(a.staging, 'big.bin'))), sha256(data), 'the same bytes');
  await closed(t, zip);
});
