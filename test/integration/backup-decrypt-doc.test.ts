// docs/BACKUPS.md's "decrypting one by hand" for Linux, run as written (the block between the
// backup-decrypt markers) against a backup the real agent wrote, its key in a real Secret Service: the
// agent runs without VSYNC_KEY, so `vsync init` puts the key in gnome-keyring (scripts/with-keyring.sh) and
// the documented `secret-tool lookup` must find it there. The zip the documented Python writes must unpack
// to exactly the folder that was backed up.
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BackupsResult } from '../../shared/api.js';
import { childEnv, projectRoot } from '../helpers/built.js';
import { realComponentAvailable, skipUnless } from '../helpers/real-component.js';
import { user } from '../helpers/teammates.js';
import { tempBase } from '../helpers/vault-fixture.js';
import { PATIENCE_MS } from '../helpers/patience.js';

const run = promisify(execFile);
const doc = readFileSync(join(projectRoot, 'docs', 'BACKUPS.md'), 'utf8');
const block = /<!-- backup-decrypt:begin -->\s*```sh\n([\s\S]*?)```\s*<!-- backup-decrypt:end -->/.exec(doc)?.[1];

function hasPythonCryptography(): boolean {
  try {
    execFileSync('python3', ['-c', 'import cryptography.hazmat.primitives.ciphers.aead'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function tree(folder: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(join(folder, rel), { withFileTypes: true })) {
    const name = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, tree(folder, name));
    else out[name] = readFileSync(join(folder, name), 'latin1');
  }
  return out;
}

if (realComponentAvailable(t, 'VSYNC_TEST_KEYRING', 'a Secret Service (gnome-keyring)')) {
  t.test(
    'the documented Linux commands decrypt a backup the agent wrote',
    { skip: skipUnless(hasPythonCryptography(), 'python3 with cryptography is not installed (apt-get install python3-cryptography)') },
    async (t) => {
      t.ok(block, 'docs/BACKUPS.md has the backup-decrypt block');
      t.notOk(
        Object.keys(process.env).some((k) => k.startsWith('VSYNC_KEY')),
        'no VSYNC_KEY: the agent must use the keychain',
      );
      const { base, cleanup } = tempBase('vsync-decrypt-doc-');
      const repoName = `dd_${randomBytes(4).toString('hex')}`;
      const u = await user(base, 'alice', repoName); // no agentEnv: the key goes to the Secret Service
      t.teardown(async () => {
        await u.agent.stop();
        await run('secret-tool', ['clear', 'service', 'tools.vsync', 'username', `${repoName}/dev`]).catch(() => undefined);
        cleanup();
      });

      for (const args of [
        ['init', 'dev'],
        ['push', 'dev'],
        ['pull', 'dev'],
      ]) {
        if (args[0] === 'push') {
          const folder = join(u.repo, 'infra', 'vault', 'dev');
          writeFileSync(join(folder, '.env.dev'), 'DATABASE_URL=postgres://dev\nAPI_KEY=abc123\n');
          mkdirSync(join(folder, 'certs'));
          writeFileSync(join(folder, 'certs', 'ca.pem'), Buffer.from([0, 1, 2, 255, 254, 10]));
        }
        const res = await u.cli(args);
        t.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
      }
      const { stdout: key } = await run('secret-tool', ['lookup', 'service', 'tools.vsync', 'username', `${repoName}/dev`]);
      t.match(key, /^[A-Za-z0-9+/]{43}=$/, 'the key is in the Secret Service, where the doc looks');

      const listed = JSON.parse((await u.cli(['backups', 'dev', '--json'])).stdout) as BackupsResult;
      t.equal(listed.backups.length, 1, 'the pull wrote one backup');
      const ts = listed.backups[0]!.ts;

      const scratch = join(base, 'scratch');
      mkdirSync(scratch);
      // The doc's own first line sets these; the test sets them to this vault and runs the block verbatim.
      const script = `repo=${repoName} env=dev ts=${ts}\n${block}`;
      const env = childEnv({ HOME: u.home });
      delete env.XDG_CONFIG_HOME;
      await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: scratch, env, timeout: PATIENCE_MS });

      const folder = join(u.repo, 'infra', 'vault', 'dev');
      t.same(tree(join(scratch, 'restored')), prefixed(tree(folder)), 'the zip unpacks to exactly the backed-up folder');
      t.equal(readdirSync(join(scratch, 'restored')).join(), 'infra', 'entries are relative to the repo root');

      // And a backup altered by one byte is refused by the same commands, with nothing decrypted.
      const altered = readFileSync(listed.backups[0]!.path);
      altered[30] = altered[30]! ^ 0x01;
      writeFileSync(listed.backups[0]!.path, altered);
      const again = join(base, 'again');
      mkdirSync(again);
      const failed = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: again, env, timeout: PATIENCE_MS }).then(
        () => undefined,
        (err: { stderr?: string; code?: number }) => err,
      );
      t.ok(failed, 'the altered backup fails');
      t.match(failed?.stderr, /decryption failed: the key is wrong or the file was altered/);
      t.notOk(existsSync(join(again, 'backup.zip')), 'no plaintext written');
    },
  );
}

function prefixed(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([name, data]) => [`infra/vault/dev/${name}`, data]));
}
