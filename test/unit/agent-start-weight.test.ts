// What the agent loads when it starts, held by a test over the real import graph: the packages only some
// vaults or operations need (the S3 SDK, the zip writer and reader, the native keyring) are reached from
// daemon/main.ts through import() alone, so an idle agent, or one whose vaults are all on the directory
// store, never pays their memory (`npm run bench` prints the agent's idle resident memory).
import t from 'tap';
import { join } from 'node:path';
import { projectRoot } from '../helpers/built.js';
import { packageOf, walk } from '../helpers/import-graph.js';

const ON_DEMAND = ['@aws-sdk/client-s3', 'archiver', 'unzipper', '@napi-rs/keyring'];
const main = join(projectRoot, 'daemon', 'main.ts');

const packagesReached = (dynamic: boolean): Map<string, string> => {
  const { external } = walk([main], '.ts', projectRoot, { dynamic });
  return new Map([...external].map(([spec, file]) => [packageOf(spec), file]));
};

t.test('starting the agent loads none of the packages that only some work needs', async (t) => {
  const atStart = packagesReached(false);
  for (const name of ON_DEMAND)
    t.notOk(atStart.has(name), `${name} is not loaded at start${atStart.has(name) ? ` (named by ${atStart.get(name)})` : ''}`);
  t.ok(atStart.has('fastify') && atStart.has('zod'), 'the walk reaches what the agent does load at start (so a pass means something)');
});

t.test('each of them is still reached, through import()', async (t) => {
  const all = packagesReached(true);
  for (const name of ON_DEMAND) t.ok(all.has(name), `${name} is loaded when first needed (${all.get(name) ?? 'not reached at all'})`);
});
