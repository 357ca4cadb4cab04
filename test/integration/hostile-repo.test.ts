// A hostile commit puts a symlink on the way to the vault folder: the real agent and the real CLI refuse to
// pull through it (no decrypted secret written elsewhere), to push through it (no file read from elsewhere),
// and to watch, use or init through it, each with VAULT_PATH_UNSAFE and nothing changed anywhere. A repo
// that merely sits under a symlinked folder of the user's own is fine.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirStorage } from '../../daemon/storage/dir-storage.js';
import { exitCodes } from '../../shared/errors.js';
import type { TestContext } from '../helpers/tap-types.js';
import { shareConfig, user, type User } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { vsync } from '../helpers/cli.js';
import { filesUnder } from '../helpers/files-under.js';

interface Rig {
  readonly base: string;
  readonly a: User;
  readonly b: User;
  /** Everything in the store, name → bytes, to show that nothing changed. */
  store(): Record<string, string>;
}

async function rig(t: TestContext): Promise<Rig> {
  const { base, cleanup } = tempBase('vsync-hostile-repo-');
  const repoName = `hr_${randomBytes(4).toString('hex')}`;
  const agentEnv = { VSYNC_KEY: randomBytes(32).toString('base64') };
  const a = await user(base, 'alice', repoName, agentEnv);
  const b = await user(base, 'bob', repoName, agentEnv);
  t.teardown(async () => {
    await a.agent.stop();
    await b.agent.stop();
    cleanup();
  });
  const root = join(base, 'store');
  t.equal((await a.cli(['init', 'dev', '--store', root])).code, 0);
  shareConfig(a, b, repoName);
  writeFileSync(a.envFile(), 'TOKEN=alice\n');
  t.equal((await a.cli(['push', 'dev'])).code, 0);
  const storage = new DirStorage(root);
  const store = (): Record<string, string> => filesUnder(storage.root);
  return { base, a, b, store };
}

/** A folder outside the repo, laid out like a vault, that a symlink in the repo points into. */
function elsewhere(base: string, content: string): string {
  const dir = join(base, `elsewhere-${randomBytes(3).toString('hex')}`);
  mkdirSync(join(dir, 'vault', 'dev'), { recursive: true });
  writeFileSync(join(dir, 'vault', 'dev', '.env.dev'), content);
  return dir;
}

const snapshot = (dir: string): Record<string, string> => filesUnder(dir, 'utf8');

function refused(t: TestContext, r: { code: number; stderr: string }, what: string): void {
  t.equal(r.code, exitCodes.config, `${what}: exit ${exitCodes.config}`);
  t.match(
    r.stderr,
    /^vsync: error: the path to the vault folder leaves the repo or goes through a symlink: /m,
    `${what}: VAULT_PATH_UNSAFE`,
  );
  t.match(r.stderr, /^vsync: hint: a vault folder and every folder above it/m, `${what}: the hint`);
}

t.test(
  'a committed symlink anywhere on the way to the vault folder: nothing pulled through it, pushed from it, watched or used',
  async (t) => {
    const r = await rig(t);
    const vaultParent = join(r.b.repo, 'infra', 'vault');
    // Each hostile layout, made in bob's checkout as a `git pull` of a hostile commit would leave it.
    const layouts: [string, () => string][] = [
      [
        'infra is a symlink out of the repo',
        () => {
          const target = elsewhere(r.base, 'STOLEN=from-elsewhere\n');
          symlinkSync(target, join(r.b.repo, 'infra'));
          return target;
        },
      ],
      [
        'infra/vault/dev is a symlink out of the repo',
        () => {
          const target = elsewhere(r.base, 'STOLEN=from-elsewhere\n');
          mkdirSync(vaultParent, { recursive: true });
          symlinkSync(join(target, 'vault', 'dev'), join(vaultParent, 'dev'));
          return target;
        },
      ],
      [
        'infra/vault is a symlink to another folder inside the repo',
        () => {
          const target = join(r.b.repo, 'decoy');
          mkdirSync(join(target, 'dev'), { recursive: true });
          writeFileSync(join(target, 'dev', '.env.dev'), 'DECOY=1\n');
          mkdirSync(join(r.b.repo, 'infra'), { recursive: true });
          symlinkSync('../decoy', vaultParent);
          return target;
        },
      ],
      [
        'infra is a file',
        () => {
          writeFileSync(join(r.b.repo, 'infra'), 'not a folder\n');
          return join(r.b.repo, 'infra');
        },
      ],
    ];
    for (const [what, lay] of layouts) {
      rmSync(join(r.b.repo, 'infra'), { recursive: true, force: true });
      const target = lay();
      const before = existsSync(target) && !target.endsWith('infra') ? snapshot(target) : undefined;
      const stored = r.store();
      for (const args of [
        ['pull', 'dev'],
        ['pull', 'dev', '--force'],
        ['push', 'dev'],
        ['push', 'dev', '--force'],
        ['watch', 'dev'],
        ['use', 'dev'],
        ['backups', 'restore', 'dev'],
      ]) {
        const res = await r.b.cli(args);
        if (args[0] === 'backups' && res.code !== exitCodes.config) {
          t.equal(res.code, exitCodes.config, `${what}: vsync ${args.join(' ')}: refused (${res.stderr.trim()})`);
          continue;
        }
        refused(t, res, `${what}: vsync ${args.join(' ')}`);
      }
      if (before) t.same(snapshot(target), before, `${what}: the folder it points to is untouched`);
      t.same(r.store(), stored, `${what}: the store is untouched`);
      t.notOk(existsSync(join(r.b.repo, '.env')), `${what}: no .env made`);
      t.match((await r.b.cli(['watch'])).stdout, /^not watching any vault/, `${what}: nothing watched`);
    }

    // The hostile layout gone, the same checkout pulls and pushes as ever.
    rmSync(join(r.b.repo, 'infra'), { recursive: true, force: true });
    rmSync(join(r.b.repo, 'decoy'), { recursive: true, force: true });
    const pulled = await r.b.cli(['pull', 'dev']);
    t.equal(pulled.code, 0, pulled.stderr);
    t.equal(readFileSync(r.b.envFile(), 'utf8'), 'TOKEN=alice\n');
  },
);

t.test('init refuses a symlinked path too, and writes no key and no config', async (t) => {
  const r = await rig(t);
  const target = elsewhere(r.base, 'X=1\n');
  symlinkSync(target, join(r.b.repo, 'infra'));
  const before = snapshot(target);
  const res = await r.b.cli(['init', 'staging', '--store', join(r.base, 'store')]);
  refused(t, res, 'init');
  t.same(snapshot(target), before, 'nothing made through the symlink');
  t.match((await r.b.cli(['versions', 'staging'])).stderr, /no config for this repo and env/, 'no config written');
});

t.test("a repo under a symlinked folder of the user's own is fine", async (t) => {
  const r = await rig(t);
  const projects = join(r.b.home, 'projects');
  const real = join(r.b.home, 'real-projects');
  renameSync(projects, real);
  symlinkSync(real, projects);
  const res = await vsync(['pull', 'dev'], { cwd: r.b.repo, env: r.b.env });
  t.equal(res.code, 0, res.stderr);
  t.equal(readFileSync(join(real, 'myrepo', 'infra', 'vault', 'dev', '.env.dev'), 'utf8'), 'TOKEN=alice\n');
  writeFileSync(r.b.envFile(), 'TOKEN=bob\n');
  const pushed = await r.b.cli(['push', 'dev']);
  t.equal(pushed.code, 0, pushed.stderr);
});
