import t from 'tap';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeStaging, recoverSwap, swapIn } from '../../daemon/vault/vault-folder.js';
import { tempBase } from '../helpers/vault-fixture.js';

function vault(base: string, content: string): string {
  const target = join(base, 'infra', 'vault', 'dev');
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, '.env.dev'), content);
  return target;
}

t.test('swap replaces the folder and leaves nothing beside it', async (t) => {
  const { base, cleanup } = tempBase('vsync-swap-');
  t.teardown(cleanup);
  const target = vault(base, 'old');
  const staging = await makeStaging(target);
  writeFileSync(join(staging, '.env.dev'), 'new');
  await swapIn(target, staging);
  t.equal(readFileSync(join(target, '.env.dev'), 'utf8'), 'new');
  t.same(readdirSync(join(base, 'infra', 'vault')), ['dev']);
});

t.test('a crash between the two renames: recovery puts the old folder back', async (t) => {
  const { base, cleanup } = tempBase('vsync-swap-');
  t.teardown(cleanup);
  const target = vault(base, 'old');
  const staging = await makeStaging(target);
  writeFileSync(join(staging, '.env.dev'), 'half');
  renameSync(target, join(base, 'infra', 'vault', '.vsync-old-dev-abcd1234')); // the first rename, then the crash
  await recoverSwap(target);
  t.equal(readFileSync(join(target, '.env.dev'), 'utf8'), 'old');
  t.same(readdirSync(join(base, 'infra', 'vault')), ['dev'], 'the staging folder is cleared too');
});

t.test('a crash after the swap: recovery removes the old copy and keeps the new folder', async (t) => {
  const { base, cleanup } = tempBase('vsync-swap-');
  t.teardown(cleanup);
  const target = vault(base, 'new');
  mkdirSync(join(base, 'infra', 'vault', '.vsync-old-dev-abcd1234'));
  writeFileSync(join(base, 'infra', 'vault', '.vsync-old-dev-abcd1234', '.env.dev'), 'old');
  await recoverSwap(target);
  t.equal(readFileSync(join(target, '.env.dev'), 'utf8'), 'new');
  t.same(readdirSync(join(base, 'infra', 'vault')), ['dev']);
});

t.test('recovering one env never touches another env\'s leftovers (env names may hold "-")', async (t) => {
  const { base, cleanup } = tempBase('vsync-swap-');
  t.teardown(cleanup);
  mkdirSync(join(base, 'infra', 'vault', '.vsync-old-prod-eu-abcd1234'), { recursive: true });
  writeFileSync(join(base, 'infra', 'vault', '.vsync-old-prod-eu-abcd1234', '.env.prod-eu'), 'eu');
  mkdirSync(join(base, 'infra', 'vault', '.vsync-staging-prod-eu-Ab12Cd'));
  await recoverSwap(join(base, 'infra', 'vault', 'prod'));
  t.same(
    readdirSync(join(base, 'infra', 'vault')).sort(),
    ['.vsync-old-prod-eu-abcd1234', '.vsync-staging-prod-eu-Ab12Cd'],
    "prod-eu's folders are left alone",
  );
  await recoverSwap(join(base, 'infra', 'vault', 'prod-eu'));
  t.equal(readFileSync(join(base, 'infra', 'vault', 'prod-eu', '.env.prod-eu'), 'utf8'), 'eu', 'and its own recovery restores them');
});

t.test('a swap whose second rename fails puts the old folder back', async (t) => {
  const { base, cleanup } = tempBase('vsync-swap-');
  t.teardown(cleanup);
  const target = vault(base, 'old');
  await t.rejects(swapIn(target, join(base, 'no-such-staging')), { code: 'ENOENT' });
  t.equal(readFileSync(join(target, '.env.dev'), 'utf8'), 'old');
});
