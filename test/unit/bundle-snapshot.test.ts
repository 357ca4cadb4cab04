// zipFolder reads the vault folder as one snapshot: whatever another process swaps in while it reads (a
// symlink to a file outside, another file, a fifo, another folder), the bundle is one folder as it stood at
// one moment, read again once if need be, or VAULT_CHANGED_DURING_PUSH; never a mix, never a file from
// outside. The race windows are opened deterministically through the test-only hooks (folder-snapshot.ts):
// onListed runs after an attempt listed the folder, before it opens a file; onRead after it read them all.
import { execFileSync } from 'node:child_process';
import { link, mkdir, rename, rm, symlink, unlink, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import unzipper from 'unzipper';
import { zipFolder } from '../../daemon/bundle/zip-folder.js';
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
