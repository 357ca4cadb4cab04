// `npm run bench -- --team`: what issue 12's commands cost, on a warm agent, on the directory store and RGW. A
// vault of three small files and 20 versions; `log` read from the log entries alone, then (the entries
// deleted, as a vault pushed by the upstream tool has none) from the versions themselves; `diff` of the
// folder against the version synced here and of two versions; the variables for `run`, from the folder and
// from latest; and `vsync run dev -- true` as a whole process beside `node -e 0` and `vsync status`.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageFactory } from '../daemon/adapters.js';
import { readConfig } from '../daemon/vault/config.js';
import { logPrefix } from '../daemon/vault/remote-layout.js';
import { configFile } from '../shared/paths.js';
import { spawnWall } from './agent.js';
import { benchStores, benchVault, call, dist, startBenchAgent } from './bench-agent.js';
import { ms, sample, table } from './measure.js';

const clientMain = join(dist, 'client', 'vsync.cjs');
const VERSIONS = 20;

export async function benchTeam(s3Endpoint: string | undefined, makeBucket: () => Promise<string>): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'vsync-bench-team-'));
  const home = join(base, 'home');
  const agent = await startBenchAgent(home);
  const { socket, env } = agent;
  try {
    const rows: string[][] = [];
    for (const [label, initOptions] of await benchStores(s3Endpoint, makeBucket)) {
      const { repoName, repo, folder } = await benchVault(base, socket, initOptions);
      writeFileSync(join(folder, 'tls.key'), randomBytes(900).toString('base64'));
      const versions: string[] = [];
      for (let i = 0; i < VERSIONS; i++) {
        const lines = Array.from({ length: 12 }, (_, k) => `KEY_${k}=${k === i % 12 ? randomBytes(16).toString('hex') : `value-${k}`}`);
        writeFileSync(join(folder, '.env.dev'), `${lines.join('\n')}\n`);
        versions.push(((await call(socket, 'POST', '/v1/push', { cwd: repo, env: 'dev' })) as { version: string }).version);
        await new Promise((resolve) => setTimeout(resolve, 1000)); // one version a second: their names are seconds
      }
      const q = new URLSearchParams({ cwd: repo, env: 'dev' });
      const fromEntries = await sample(20, () => call(socket, 'GET', `/v1/log?${q}`));
      const diffFolder = await sample(20, () => call(socket, 'POST', '/v1/diff', { cwd: repo, env: 'dev' }));
      const diffVersions = await sample(20, () =>
        call(socket, 'POST', '/v1/diff', { cwd: repo, env: 'dev', from: versions[0], to: versions.at(-1) }),
      );
      const envFolder = await sample(20, () => call(socket, 'POST', '/v1/env', { cwd: repo, env: 'dev' }));
      const envLatest = await sample(20, () => call(socket, 'POST', '/v1/env', { cwd: repo, env: 'dev', latest: true }));
      const versionsList = await sample(20, () => call(socket, 'GET', `/v1/versions?${q}`));
      // The entries gone, as for a vault pushed by the upstream tool: log reads every version instead.
      const storage = storageFactory()(await readConfig(configFile(repoName, 'dev', { HOME: home })));
      for (const entry of await storage.list(logPrefix(repoName, 'dev'))) await storage.delete(entry.key);
      const fromVersions = await sample(10, () => call(socket, 'GET', `/v1/log?${q}`));
      const [runTrue, nodeAlone, status] = [
        await sample(15, () => spawnWall([clientMain, 'run', 'dev', '--', 'true'], env, repo), 3),
        await sample(15, () => spawnWall(['-e', '0'], env, repo), 3),
        await sample(15, () => spawnWall([clientMain, 'status'], env, repo), 3),
      ];
      rows.push(
        [label, `log, ${VERSIONS} versions, from their entries`, ms(fromEntries.medianMs), ms(fromEntries.p95Ms)],
        [label, `log, ${VERSIONS} versions, no entries (each version read)`, ms(fromVersions.medianMs), ms(fromVersions.p95Ms)],
        [label, 'versions (listing, pointer, key history)', ms(versionsList.medianMs), ms(versionsList.p95Ms)],
        [label, 'diff: folder against the version synced here', ms(diffFolder.medianMs), ms(diffFolder.p95Ms)],
        [label, 'diff: version against version', ms(diffVersions.medianMs), ms(diffVersions.p95Ms)],
        [label, 'env for run: from the folder', ms(envFolder.medianMs), ms(envFolder.p95Ms)],
        [label, 'env for run: from latest (--latest)', ms(envLatest.medianMs), ms(envLatest.p95Ms)],
        [label, 'vsync run dev -- true (whole process)', ms(runTrue.medianMs), ms(runTrue.p95Ms)],
        [label, 'vsync status (whole process)', ms(status.medianMs), ms(status.p95Ms)],
        [label, 'node -e 0 (whole process)', ms(nodeAlone.medianMs), ms(nodeAlone.p95Ms)],
      );
    }
    table(
      'Issue 12 commands on a warm agent (a vault of 2 files, 12 variables; median of 10-20 runs)',
      ['store', 'what', 'median ms', 'p95 ms'],
      rows,
    );
  } finally {
    await agent.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
