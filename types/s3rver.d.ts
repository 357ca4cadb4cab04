// s3rver 3.7 (a dev dependency: the tests' S3 server that ignores conditional writes) ships no type
// declarations. This declares only what test/helpers/s3rver.ts uses; see node_modules/s3rver/lib/s3rver.js.

declare module 's3rver' {
  import type { AddressInfo } from 'node:net';

  export interface S3rverOptions {
    /** 0 picks a free port. */
    port?: number;
    address?: string;
    /** No request log on the console. */
    silent?: boolean;
    /** Where buckets and objects are kept, as files. */
    directory?: string;
    /** Buckets made before the server listens. */
    configureBuckets?: Array<{ name: string }>;
  }

  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** Makes the configured buckets, then listens. */
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
