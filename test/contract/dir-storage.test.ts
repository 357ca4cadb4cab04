import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import type { Consumer } from '../../daemon/storage/storage.js';
import { built, childEnv } from '../helpers/built.js';
import { runStorageContract } from './storage-contract.js';

const root = mkdtempSync(join(tmpdir(), 'vsync-dir-store-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const storage = new DirStorage(join(root, 'store'));

console.error(`# storage contract: directory store at ${storage.root}`);
t.test('contract: directory store', async (t) => {
  runStorageContract(t, storage, { describes: /^file:\/\/\// });
});

t.test('files on disk: the bucket layout, private modes, no temp files left', async (t) => {
  await storage.putIfAbsent('acme_web/dev/versions/20260516-113304.enc', Buffer.from('v'));
  await storage.put('acme_web/dev/latest', Buffer.from('20260516-113304'));
  const folder = join(storage.root, 'acme_web', 'dev');
  t.same(readdirSync(folder).sort(), ['latest', 'versions']);
  t.same(readdirSync(join(folder, 'versions')), ['20260516-113304.enc']);
  t.equal(statSync(join(folder, 'latest')).mode & 0o777, 0o600);
  t.equal(statSync(join(folder, 'versions')).mode & 0o777, 0o700);
  t.equal(storage.describe('acme_web/dev/latest'), `file://${storage.root}/acme_web/dev/latest`);
});

/** A consumer that, once it has the first chunk, does `meddle` to the object's file and then reads on. */
function meddling(meddle: () => unknown): Consumer<Buffer> {
  return async (body) => {
    const chunks: Buffer[] = [];
    for await (const chunk of body) {
      if (chunks.length === 0) await meddle();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  };
}

// In place is how vsync never changes an object (it renames a new file over it), but another program might.
t.test('download: a file changed in place while it is read is never passed off as the object', async (t) => {
  const MiB = 1024 * 1024;
  const key = 'meddled_ns/dev/versions/20260516-113304.enc';
  const path = join(storage.root, ...key.split('/'));
  const body = randomBytes(4 * MiB);
  const reset = () => writeFileSync(path, body);
  await storage.put(key, body);

  await t.rejects(
    storage.download(
      key,
      meddling(() => truncateSync(path, 2 * MiB)),
    ),
    { code: 'STORAGE_TRANSIENT', message: /ended after 2097152 of its 4194304 bytes/ },
    'truncated after the first chunk: transient (a retry reads it afresh)',
  );
  reset();
  await t.rejects(
    storage.download(
      key,
      meddling(() => appendFileSync(path, randomBytes(MiB))),
      { maxBytes: body.length },
    ),
    { code: 'STORAGE_OBJECT_TOO_LARGE', message: /sent more than the cap of 4194304 bytes/ },
    'grown past the cap while read: cut off at the cap',
  );
  reset();
  await t.rejects(
    storage.download(
      key,
      meddling(() => appendFileSync(path, 'x')),
    ),
    { code: 'STORAGE_TRANSIENT', message: /changed while it was read/ },
    'grown, no cap: not the size it declared',
  );
  reset();
  const overwrite = () => {
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('overwritten'), 0, 11, 3 * MiB);
    closeSync(fd);
  };
  await t.rejects(
    storage.download(key, meddling(overwrite)),
    { code: 'STORAGE_TRANSIENT', message: /changed while it was read/ },
    'overwritten in place: not the ETag it declared',
  );
  reset();
  t.ok(
    (
      await storage.download(
        key,
        meddling(() => undefined),
      )
    ).equals(body),
    'left alone: the whole object',
  );
  t.ok(
    (
      await storage.download(
        key,
        meddling(() => storage.put(key, Buffer.from('replaced'))),
      )
    ).equals(body),
    'replaced by a write meanwhile: the open file is the snapshot it began with',
  );
  t.equal((await storage.get(key)).body.toString(), 'replaced', 'and the write took');
});

t.test('putIfAbsent of a FileBody: no temp file is left, whether it is refused or not', async (t) => {
  const folder = join(root, 'sources');
  mkdirSync(folder, { recursive: true });
  const source = join(folder, 'version.enc');
  writeFileSync(source, randomBytes(3 * 1024 * 1024));
  const size = statSync(source).size;
  await storage.putIfAbsent('fileput_ns/dev/versions/1.enc', { path: source, size });
  await t.rejects(storage.putIfAbsent('fileput_ns/dev/versions/1.enc', { path: source, size }), { code: 'STORAGE_PRECONDITION_FAILED' });
  await t.rejects(storage.putIfAbsent('fileput_ns/dev/versions/2.enc', { path: source, size: size + 1 }), {
    code: 'STORAGE_PERMANENT',
    message: /the file changed while it was uploaded/,
  });
  t.same(readdirSync(join(storage.root, 'fileput_ns', 'dev', 'versions')), ['1.enc'], 'only the object');
  t.equal(statSync(join(storage.root, 'fileput_ns', 'dev', 'versions', '1.enc')).mode & 0o777, 0o600, 'private, as any object');
});

t.test('a relative root is refused', async (t) => {
  t.throws(() => new DirStorage('relative/store'), { code: 'STORAGE_CONFIG_INVALID' });
});

t.test('escaping keys write nothing outside the root', async (t) => {
  const before = readdirSync(root).sort();
  for (const key of ['../escape', 'a/../../escape', '/tmp/escape']) {
    await t.rejects(storage.put(key, Buffer.from('x')), { code: 'STORAGE_PERMANENT' });
  }
  t.same(readdirSync(root).sort(), before);
  t.notOk(existsSync(join(root, 'escape')));
});

t.test('temp and lock files are not listed as objects', async (t) => {
  const folder = join(storage.root, 'hidden_ns', 'dev');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, '.latest.tmp-1-abc'), 'partial');
  writeFileSync(join(folder, 'latest'), '20260516-113304');
  t.same(
    (await storage.list('hidden_ns/')).map((o) => o.key),
    ['hidden_ns/dev/latest'],
  );
});

/** The pid of a process that has exited, for a lock whose holder crashed. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

t.test('a lock whose holder died is broken', async (t) => {
  const key = 'locks_ns/dev/latest';
  const first = await storage.put(key, Buffer.from('20260516-113304'));
  const lock = join(storage.root, 'locks_ns', 'dev', '.latest.lock');
  writeFileSync(lock, `${hostname()} ${deadPid()} deadbeef`);
  await storage.putIfMatch(key, Buffer.from('20260516-113305'), first.etag);
  t.notOk(existsSync(lock), 'the stale lock is gone');
  t.notOk(existsSync(`${lock}.break`), "and so is the breaker's");
  t.equal((await storage.get(key)).body.toString(), '20260516-113305');
});

t.test('a live holder is waited for, however old its lock', async (t) => {
  const key = 'locks_ns/dev/latest';
  const lock = join(storage.root, 'locks_ns', 'dev', '.latest.lock');
  writeFileSync(lock, `${hostname()} ${process.pid} cafe`);
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(lock, old, old);
  // An order, not a duration: the write must end after the lock went, whenever the machine gets round to it.
  let released = false;
  setTimeout(() => {
    released = true;
    rmSync(lock);
  }, 300);
  await storage.put(key, Buffer.from('20260516-113306'));
  t.ok(released, 'the writer waited for the live lock');
  t.equal((await storage.get(key)).body.toString(), '20260516-113306');
});

t.test('a lock from another host is never broken: transient, with the path in the hint', async (t) => {
  const impatient = new DirStorage(storage.root, { waitMs: 300 });
  const key = 'locks_ns/dev/latest';
  const lock = join(storage.root, 'locks_ns', 'dev', '.latest.lock');
  writeFileSync(lock, `some-other-host ${deadPid()} f00d`);
  t.teardown(() => rmSync(lock, { force: true }));
  await t.rejects(impatient.put(key, Buffer.from('x')), {
    code: 'STORAGE_TRANSIENT',
    message: /held by process \d+ on some-other-host/,
    hint: /remove .*\.latest\.lock/,
  });
  t.equal((await storage.get(key)).body.toString(), '20260516-113306', 'nothing was written');
});

// The contract's races run inside one process; these run 16 separate processes against one folder.
async function race(mode: 'absent' | 'match', key: string, etag: string, staleLock?: string): Promise<string[]> {
  const go = join(root, `go-${mode}-${Date.now()}`);
  const script = join(import.meta.dirname, 'fixtures', 'dir-race-writer.mjs');
  const modulePath = built('daemon/storage/dir-storage');
  const children = Array.from({ length: 16 }, (_, i) => {
    const child = spawn(
      process.execPath,
      [script, modulePath, storage.root, mode, key, `20260516-1134${String(i).padStart(2, '0')}`, etag, go],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: childEnv(),
      },
    );
    let out = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      }),
    );
    const done = new Promise<string>((resolve) => child.on('close', () => resolve(out.replace('ready\n', '').trim())));
    return { ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  if (staleLock) writeFileSync(staleLock, `${hostname()} ${deadPid()} deadbeef`);
  writeFileSync(go, '');
  return Promise.all(children.map((c) => c.done));
}

t.test('16 processes putIfAbsent on one key: exactly one winner', async (t) => {
  const results = await race('absent', 'xproc/dev/versions/20260516-113304.enc', '-');
  t.equal(results.filter((r) => r === 'ok').length, 1, results.join(','));
  t.equal(results.filter((r) => r === 'STORAGE_PRECONDITION_FAILED').length, 15);
});

t.test('16 processes putIfMatch on one key: exactly one winner', async (t) => {
  const base = await storage.put('xproc/dev/latest', Buffer.from('20260516-113304'));
  const results = await race('match', 'xproc/dev/latest', base.etag);
  t.equal(results.filter((r) => r === 'ok').length, 1, results.join(','));
  t.equal(results.filter((r) => r === 'STORAGE_PRECONDITION_FAILED').length, 15);
  const winner = results.indexOf('ok');
  t.equal((await storage.get('xproc/dev/latest')).body.toString(), `20260516-1134${String(winner).padStart(2, '0')}`);
});

t.test('16 processes putIfMatch over a lock left by a crashed writer: still exactly one winner', async (t) => {
  for (let round = 0; round < 3; round++) {
    const key = `xproc_stale${round}/dev/latest`;
    const base = await storage.put(key, Buffer.from('20260516-113304'));
    const lock = join(storage.root, `xproc_stale${round}`, 'dev', '.latest.lock');
    const results = await race('match', key, base.etag, lock);
    t.equal(results.filter((r) => r === 'ok').length, 1, `round ${round}: ${results.join(',')}`);
    t.equal(results.filter((r) => r === 'STORAGE_PRECONDITION_FAILED').length, 15);
    t.notOk(existsSync(lock), 'no lock left behind');
  }
});
