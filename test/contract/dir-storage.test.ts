import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, statSync, existsSync, utimesSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
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
