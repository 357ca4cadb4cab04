// An S3 server that accepts conditional writes and ignores them: s3rver (a dev dependency, in-process, on a
// random port with a temp folder), for the tests that `vsync doctor` tells such a server apart from Ceph RGW
// and that `vsync push` warns on it. s3rver 3.7.1 answers PUT with If-None-Match: * or a stale If-Match
// with 200 and replaces the object; everything else vsync sends (path-style GET, HEAD, PUT, DELETE, list)
// it serves as S3 does. It knows one access key, S3RVER, and does not check V4 signatures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { removeOnExit } from './reaper.js';

export interface LooseS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Credentials for the agent's environment (s3rver's own default account). */
export const LOOSE_S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export async function startS3rver(options: { port?: number; bucket?: string } = {}): Promise<LooseS3> {
  const directory = removeOnExit(mkdtempSync(join(tmpdir(), 'vsync-s3rver-')));
  const bucket = options.bucket ?? 'loose';
  const server = new S3rver({
    port: options.port ?? 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    port,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
