// `npm run bench`: every benchmark, printed as tables. bench/run.sh starts Ceph RGW when it can; without
// it (VSYNC_TEST_S3_ENDPOINT unset) the S3 rows are left out and the reason is printed.
// `npm run bench -- --peers`: only vsync beside restic and rclone (bench/peers.ts); `-- --growth`: only how
// push, pull and the agent's memory grow with the vault (bench/growth.ts); `-- --agent`: only the CLI and
// the warm agent beside the floor, with the agent-side breakdown (bench/agent.ts); `-- --team`: only what diff,
// log and run cost (bench/team.ts).
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirStorage } from '../daemon/storage/dir-storage.js';
import { S3Storage } from '../daemon/storage/s3-storage.js';
import { benchAgent } from './agent.js';
import { benchCrypto } from './crypto.js';
import { benchGrowth } from './growth.js';
import { benchPeers } from './peers.js';
import { benchStorage } from './storage.js';
import { benchTeam } from './team.js';
import { benchWatch } from './watch.js';

console.log(`vsync benchmarks: node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}`);
const endpoint = process.env.VSYNC_TEST_S3_ENDPOINT;
if (process.argv.includes('--peers') || process.argv.includes('--growth')) {
  if (process.argv.includes('--peers')) await benchPeers(endpoint, makeBucket);
  if (process.argv.includes('--growth')) await benchGrowth();
  process.exit(0);
}
if (process.argv.includes('--agent')) {
  await benchAgent(endpoint, makeBucket);
  process.exit(0);
}
if (process.argv.includes('--team')) {
  await benchTeam(endpoint, makeBucket);
  process.exit(0);
}
await benchCrypto();

const root = mkdtempSync(join(tmpdir(), 'vsync-bench-'));
try {
  await benchStorage(`directory store (${root})`, new DirStorage(root));
} finally {
  rmSync(root, { recursive: true, force: true });
}

async function makeBucket(): Promise<string> {
  const bucket = `vsync-bench-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const admin = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  admin.destroy();
  return bucket;
}
if (endpoint) {
  const bucket = await makeBucket();
  const settings = { bucket, endpoint, region: 'us-east-1', forcePathStyle: true };
  const s3 = new S3Storage(settings);
  try {
    await benchStorage(`S3 on Ceph RGW, loopback (${endpoint})`, s3);
  } finally {
    s3.destroy();
  }
} else {
  console.log('\nS3 rows skipped: no RGW (VSYNC_TEST_S3_ENDPOINT unset; bench/run.sh starts one as root)');
}

await benchAgent(endpoint, makeBucket);
await benchWatch(endpoint, makeBucket);
await benchTeam(endpoint, makeBucket);
