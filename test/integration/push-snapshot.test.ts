// Push reads the vault folder as one snapshot, with the real agent and the real CLI on a directory store: a
// hard-linked file (which may be a file from outside the folder) is refused by name and nothing is
// uploaded; and while another process keeps swapping the vault folder with another one, every push either
// uploads exactly one of the two folders (decrypted here and compared) or stops with
// VAULT_CHANGED_DURING_PUSH, uploading nothing. Never a mix.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import unzipper from 'unzipper';
import { deriveKey } from '../../daemon/crypto/kdf.js';
import { decryptEnvelope } from '../../daemon/crypto/envelope.js';
import { unseal } from '../../daemon/crypto/seal.js';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { readConfig } from '../../daemon/vault/config.js';
import { pointerKey, versionKey } from '../../daemon/vault/remote-layout.js';
import { exitCodes } from '../../shared/errors.js';
import { configFile } from '../../shared/paths.js';
import { within } from '../helpers/patience.js';
import type { TestContext } from '../helpers/tap-types.js';
import { user } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { filesUnder } from '../helpers/files-under.js';

const VAULT = join('infra', 'vault', 'dev');

/** The same files with the same contents. */
function same(x: Record<string, string>, y: Record<string, string>): boolean {
  const sorted = (o: Record<string, string>) => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return sorted(x) === sorted(y);
}

async function rig(t: TestContext) {
  const { base, cleanup } = tempBase('vsync-push-snapshot-');
  const repoName = `ps_${randomBytes(4).toString('hex')}`;
  const key = randomBytes(32).toString('base64');
  const a = await user(base, 'alice', repoName, { VSYNC_KEY: key });
  t.teardown(async () => {
    await a.agent.stop();
    cleanup();
  });
  const root = join(base, 'store');
  t.equal((await a.cli(['init', 'dev', '--store', root])).code, 0, 'init');
  writeFileSync(a.envFile(), 'TOKEN=initial\n');
  t.equal((await a.cli(['push', 'dev'])).code, 0, 'a first push');
  const storage = new DirStorage(root);
  const config = await readConfig(configFile(repoName, 'dev', { HOME: a.home }));
  const aesKey = await deriveKey(key, config.encryption.salt);

  /** Everything in the store, name → bytes. */
  const store = (): Record<string, string> => filesUnder(storage.root);

  /** The version `latest` names, decrypted: file name (relative to the vault folder) → content. */
  const latest = async (): Promise<{ ts: string; files: Record<string, string> }> => {
    const ts = (await storage.get(pointerKey(repoName, 'dev'))).body.toString('latin1');
    const sealed = unseal(decryptEnvelope(aesKey, (await storage.get(versionKey(repoName, 'dev', ts))).body));
    const files: Record<string, string> = {};
    for (const f of (await unzipper.Open.buffer(sealed.payload)).files) {
      files[f.path.slice('infra/vault/dev/'.length)] = (await f.buffer()).toString();
    }
    return { ts, files };
  };
  return { base, a, vault: join(a.repo, VAULT), store, latest };
}

t.test('a hard-linked file in the vault folder: refused by name with the hint, the store unchanged', async (t) => {
  const r = await rig(t);
  const outside = join(r.base, 'id_ed25519');
  writeFileSync(outside, 'PRIVATE KEY FROM OUTSIDE\n');
  linkSync(outside, join(r.vault, 'leak'));
  const before = r.store();

  const res = await r.a.cli(['push', 'dev']);
  t.equal(res.code, exitCodes.usage, `exit ${exitCodes.usage}`);
  t.match(
    res.stderr,
    /^vsync: error: the vault folder cannot be bundled: "infra\/vault\/dev\/leak" has 2 hard links$/m,
    'names the file and its links',
  );
  t.match(res.stderr, /^vsync: hint: .*replace it with a copy \(`cp f f\.tmp && mv f\.tmp f`\)$/m, 'the hint');
  t.same(r.store(), before, 'nothing uploaded, latest unmoved');
  t.equal(readFileSync(outside, 'utf8'), 'PRIVATE KEY FROM OUTSIDE\n', 'the file outside as it was');

  // Following the hint makes the file the folder's own, and the push goes through.
  const copy = join(r.vault, 'leak.tmp');
  writeFileSync(copy, readFileSync(join(r.vault, 'leak')));
  renameSync(copy, join(r.vault, 'leak'));
  t.equal((await r.a.cli(['push', 'dev'])).code, 0, 'pushed once the file is a copy');
  t.equal((await r.latest()).files.leak, 'PRIVATE KEY FROM OUTSIDE\n');
});

// Exchanges two folders atomically (renameat2 RENAME_EXCHANGE), again and again, so the vault folder path
// always names one whole folder or the other; says "swapping" after the first exchange. The loop is bounded
// so a forgotten child ends on its own; the test stops it by its pid when the pushes are done.
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, n = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        sys.stderr.write('renameat2: ' + os.strerror(ctypes.get_errno()) + '\\n')
        sys.exit(1)
    if i == 0:
        sys.stdout.write('swapping\\n')
        sys.stdout.flush()
`;

t.test('a push while another process keeps swapping the vault folder: one folder whole, or VAULT_CHANGED_DURING_PUSH', async (t) => {
  const r = await rig(t);
  const A = { '.env.dev': 'TOKEN=from-a\n', 'b.txt': 'b from a\n', 'certs/ca.pem': 'CA from a\n' };
  const B = { '.env.dev': 'TOKEN=from-b\n', 'b.txt': 'b from b\n', 'certs/ca.pem': 'CA from b\n', 'only-b.txt': 'b only\n' };
  const lay = (dir: string, files: Record<string, string>) => {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
  };
  lay(r.vault, A);
  const other = join(r.a.repo, 'infra', 'vault', 'dev-swap');
  lay(other, B);

  const swapper = spawn('python3', ['-c', SWAPPER, r.vault, other, '20000000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => swapper.once('exit', () => resolve()));
  t.teardown(async () => {
    swapper.kill();
    await exited;
  });
  const lines = createInterface({ input: swapper.stdout });
  await within(
    new Promise<void>((resolve, reject) => {
      lines.once('line', () => resolve());
      swapper.once('exit', (code) => reject(new Error(`the swapper exited (${code}) before it swapped`)));
    }),
    'the swapper starting',
  );

  const outcomes = { a: 0, b: 0, changed: 0 };
  const PUSHES = 6;
  for (let i = 1; i <= PUSHES; i++) {
    const before = r.store();
    const res = await r.a.cli(['push', 'dev']);
    if (res.code === 0) {
      const { files } = await r.latest();
      const which = same(files, A) ? 'a' : same(files, B) ? 'b' : undefined;
      t.ok(which, `push ${i}: the version is one folder whole`, { found: files });
      if (which) outcomes[which]++;
      const added = Object.keys(r.store()).filter((path) => !(path in before));
      t.same(
        added.map((path) => path.replace(/^.*\/(log|versions)\/\d{8}-\d{6}\.enc$/, '$1/TS.enc')).sort(),
        ['log/TS.enc', 'versions/TS.enc'],
        `push ${i}: one new version, and its log entry`,
      );
    } else {
      t.equal(res.code, exitCodes.conflict, `push ${i}: exit ${exitCodes.conflict}`, { stderr: res.stderr });
      t.match(
        res.stderr,
        /^vsync: error: the vault folder kept changing while it was read: infra\/vault\/dev\/, read twice: /m,
        `push ${i}: VAULT_CHANGED_DURING_PUSH`,
      );
      t.match(
        res.stderr,
        /^vsync: hint: something changed the folder while it was being read; try again once it is quiet$/m,
        `push ${i}: the hint`,
      );
      t.same(r.store(), before, `push ${i}: nothing uploaded, latest unmoved`);
      outcomes.changed++;
    }
  }
  t.comment(`outcomes: ${JSON.stringify(outcomes)}`);
  swapper.kill();
  await exited;

  // Once it is quiet, the push goes through with whichever folder the swapper left in place.
  t.equal((await r.a.cli(['push', 'dev'])).code, 0, 'a push once the folder is quiet');
  const { files } = await r.latest();
  t.ok(same(files, A) || same(files, B), 'one folder whole');
});
