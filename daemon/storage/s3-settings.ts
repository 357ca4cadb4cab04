// What names an S3 store, and the s3:// location it gives a key. Apart from s3-storage.ts because this much
// is needed before the SDK is (adapters.ts describes an S3 vault without loading it).

export interface S3Settings {
  readonly bucket: string;
  readonly region?: string | undefined;
  readonly endpoint?: string | undefined;
  /** Prepended to every key, e.g. `team-a/`. */
  readonly prefix?: string | undefined;
  /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted servers need. */
  readonly forcePathStyle?: boolean | undefined;
  /** Milliseconds before a request is abandoned as transient. */
  readonly requestTimeoutMs?: number | undefined;
}

/** `s3://bucket/prefix+key`, as push, pull and doctor name what they touch. */
export function s3Location(settings: S3Settings, key: string): string {
  return `s3://${settings.bucket}/${settings.prefix ?? ''}${key}`;
}
