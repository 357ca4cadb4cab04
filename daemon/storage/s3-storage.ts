// The S3 adapter, for AWS S3 and S3-compatible servers (Ceph RGW, MinIO, R2, Garage).
// Credentials come from the SDK's default chain (env, ~/.aws, SSO, instance roles): never from our config.
// The SDK's own retries are off (maxAttempts 1): retrying-storage.ts retries transient failures for every
// adapter alike, and knows how to make a retried conditional write idempotent.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { type S3Settings, s3Location } from './s3-settings.js';
import { classifyS3Error } from './s3-failures.js';
import { assertValidKey, assertValidPrefix, byKey, cancelled, isValidKey, tooLarge } from './storage.js';
import { fileBodyChunks } from './file-body.js';
import type {
  Body,
  CallOptions,
  Consumer,
  FileBody,
  ListedObject,
  ObjectHead,
  ReadOptions,
  Storage,
  StoredObject,
  WriteResult,
} from './storage.js';

const DEFAULT_REGION = 'us-east-1';
const SILENT = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

// ETags arrive quoted (`"abc"`); we keep them bare, and send them bare, because RGW compares If-Match
// against the bare value and AWS accepts both.
const bare = (etag: string | undefined): string => (etag ?? '').replace(/^W\//, '').replace(/^"(.*)"$/, '$1');

/** The SDK's per-request options: the caller's signal aborts the request, and a body being read with it. */
function abortable(options: CallOptions): { abortSignal?: AbortSignal } {
  return options.signal ? { abortSignal: options.signal } : {};
}

/**
 * The answer to a conditional GET whose If-None-Match held: the SDK has no type for it and throws a bare
 * S3ServiceException (name `Unknown`, message `UnknownError` in 3.1175; other versions name it `304` or
 * nothing), so the HTTP status is the one reliable sign. It is an answer, not an error: not classified.
 */
function isNotModified(err: unknown): boolean {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode === 304;
}

/** A GET's body as the SDK gives it in Node: the HTTP response, a Readable. */
type ResponseBody = AsyncIterable<Uint8Array> & { destroy?: () => void; transformToByteArray(): Promise<Uint8Array> };

export class S3Storage implements Storage {
  readonly settings: S3Settings;
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(settings: S3Settings, client?: S3Client) {
    if (!settings.bucket) throw new VsyncError('STORAGE_CONFIG_INVALID', 'an S3 store needs a bucket');
    this.settings = settings;
    this.prefix = settings.prefix ?? '';
    this.client =
      client ??
      new S3Client({
        region: settings.region || DEFAULT_REGION,
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
        forcePathStyle: settings.forcePathStyle ?? false,
        maxAttempts: 1,
        // Given none, the SDK writes a warning to the console for every failed request with a streamed body (a
        // file upload that lost its race, too); ours says nothing, as the SDK's default does for all else.
        logger: SILENT,
        // The SDK's default checksums (CRC32 trailers, aws-chunked bodies) break on many non-AWS servers.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        // A request with no response within requestTimeout, or a socket silent for socketTimeout (a body that
        // stopped halfway), is an error, not the SDK's default warning; RetryingStorage bounds the whole call.
        requestHandler: {
          requestTimeout: settings.requestTimeoutMs ?? 30_000,
          throwOnRequestTimeout: true,
          socketTimeout: settings.requestTimeoutMs ?? 30_000,
          connectionTimeout: 5_000,
        },
      });
  }

  describe(key: string): string {
    return s3Location(this.settings, key);
  }

  private fullKey(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  private async send<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isVsyncError(err)) throw err; // our own verdict (a capped read), not the SDK's
      throw classifyS3Error(err, what, this.settings);
    }
  }

  async get(key: string, options: ReadOptions = {}): Promise<StoredObject> {
    const Key = this.fullKey(key);
    return this.send(key, async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key }), abortable(options));
      return { body: await readBody(key, out, options), etag: bare(out.ETag) };
    });
  }

  async getIfChanged(key: string, etag: string, options: ReadOptions = {}): Promise<StoredObject | undefined> {
    const Key = this.fullKey(key);
    try {
      // RGW (16.2) unquotes If-None-Match on GET, so bare and quoted both give 304 (measured); we send bare, as for If-Match.
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key, IfNoneMatch: etag }),
        abortable(options),
      );
      return { body: await readBody(key, out, options), etag: bare(out.ETag) };
    } catch (err) {
      if (isNotModified(err)) return undefined;
      if (isVsyncError(err)) throw err;
      throw classifyS3Error(err, key, this.settings);
    }
  }

  async download<T>(key: string, consume: Consumer<T>, options: ReadOptions = {}): Promise<T> {
    const Key = this.fullKey(key);
    const out = await this.send(key, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key }), abortable(options)),
    );
    const body = out.Body as ResponseBody | undefined;
    const size = out.ContentLength;
    const max = options.maxBytes;
    if (size === undefined) {
      body?.destroy?.();
      // Without it a short body could not be told from a whole one.
      throw new VsyncError('STORAGE_PERMANENT', `${key}: the store sent the object without its size (no Content-Length)`);
    }
    if (max !== undefined && size > max) {
      body?.destroy?.();
      throw tooLarge(key, max, size);
    }
    // The SDK's abort ends the request; a body already being read is ended here, so a stalled read ends too.
    const stop = () => body?.destroy?.();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      // The consumer's own errors pass through untouched: only the body's are this store's to classify.
      return await consume(counted(key, body, size, options), { size, etag: bare(out.ETag) });
    } finally {
      options.signal?.removeEventListener('abort', stop);
      // A body the consumer did not read to its end (it threw, or stopped) still holds the connection. Ending a
      // body that was read whole leaves its connection to be reused.
      body?.destroy?.();
    }
  }

  async head(key: string, options: CallOptions = {}): Promise<ObjectHead> {
    const Key = this.fullKey(key);
    return this.send(key, async () => {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key }), abortable(options));
      return { size: out.ContentLength ?? 0, etag: bare(out.ETag), lastModified: out.LastModified ?? new Date(0) };
    });
  }

  private async write(
    key: string,
    body: Body,
    condition: { IfNoneMatch?: string; IfMatch?: string },
    options: CallOptions,
  ): Promise<WriteResult> {
    const Key = this.fullKey(key);
    if (!Buffer.isBuffer(body)) return this.writeFile(key, Key, body, condition, options);
    return this.send(key, async () => {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: this.settings.bucket, Key, Body: body, ContentLength: body.length, ...condition }),
        abortable(options),
      );
      return { etag: bare(out.ETag) };
    });
  }

  /**
   * One PUT whose body is streamed from the file. The SDK pipes a stream body into the request and leaves the
   * request waiting when the stream fails, so a file that turns out not to be `size` bytes aborts the request
   * itself: the server never gets all the bytes it was promised, and stores nothing.
   */
  private async writeFile(
    key: string,
    Key: string,
    file: FileBody,
    condition: { IfNoneMatch?: string; IfMatch?: string },
    options: CallOptions,
  ): Promise<WriteResult> {
    const refused = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, refused.signal]) : refused.signal;
    let failure: VsyncError | undefined;
    const stream = Readable.from(fileBodyChunks(file, `writing ${key}`));
    stream.once('error', (err) => {
      failure = isVsyncError(err) ? err : new VsyncError('STORAGE_PERMANENT', `reading ${file.path}`, { cause: err });
      refused.abort(failure);
    });
    try {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: this.settings.bucket, Key, Body: stream, ContentLength: file.size, ...condition }),
        // The request timeout runs until the answer, which for a large file comes only after the upload: a
        // socket silent for socketTimeout still ends it, and RetryingStorage bounds the transfer by its size.
        { abortSignal: signal, requestTimeout: 0 },
      );
      return { etag: bare(out.ETag) };
    } catch (err) {
      if (failure) throw failure;
      if (options.signal?.aborted) throw cancelled(`writing ${key}`, options.signal);
      if (isVsyncError(err)) throw err;
      throw classifyS3Error(err, key, this.settings);
    } finally {
      stream.destroy();
    }
  }

  put(key: string, body: Buffer, options: CallOptions = {}): Promise<WriteResult> {
    return this.write(key, body, {}, options);
  }

  putIfAbsent(key: string, body: Body, options: CallOptions = {}): Promise<WriteResult> {
    return this.write(key, body, { IfNoneMatch: '*' }, options);
  }

  async putIfMatch(key: string, body: Buffer, etag: string, options: CallOptions = {}): Promise<WriteResult> {
    try {
      return await this.write(key, body, { IfMatch: etag }, options);
    } catch (err) {
      // Servers answer If-Match on a missing object with 404; the contract calls that a failed precondition.
      if (isVsyncError(err, 'STORAGE_NOT_FOUND')) {
        throw new VsyncError('STORAGE_PRECONDITION_FAILED', `${key} does not exist`, { cause: err });
      }
      throw err;
    }
  }

  async list(prefix: string, options: CallOptions = {}): Promise<ListedObject[]> {
    assertValidPrefix(prefix);
    const found: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.send(`listing ${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
          abortable(options),
        ),
      );
      for (const item of page.Contents ?? []) {
        if (!item.Key?.startsWith(this.prefix)) continue;
        const key = item.Key.slice(this.prefix.length);
        // Objects someone else put under our prefix with keys we could never write are not ours to report.
        if (!isValidKey(key)) continue;
        found.push({ key, size: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0) });
      }
      if (page.IsTruncated && !page.NextContinuationToken) {
        // Stopping here would return a silently partial listing.
        throw new VsyncError('STORAGE_PERMANENT', `listing ${prefix}: the server said there is more but gave no continuation token`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort(byKey);
  }

  async delete(key: string, options: CallOptions = {}): Promise<void> {
    const Key = this.fullKey(key);
    await this.send(key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key }), abortable(options)));
  }

  /** Releases sockets so a short-lived process can exit. */
  destroy(): void {
    this.client.destroy();
  }
}

/**
 * A GET's body. With a cap, Content-Length is judged before any body is read, and the body is counted as it
 * arrives and the connection dropped at the first byte past the cap: a server that declares little and
 * sends more is cut off there.
 */
async function readBody(
  key: string,
  out: { Body?: unknown; ContentLength?: number | undefined },
  limit: ReadOptions | undefined,
): Promise<Buffer> {
  const body = out.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void; transformToByteArray(): Promise<Uint8Array> }) | undefined;
  if (!body) return Buffer.alloc(0);
  const max = limit?.maxBytes;
  if (max === undefined) {
    const bytes = await body.transformToByteArray();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  if (out.ContentLength !== undefined && out.ContentLength > max) {
    body.destroy?.();
    throw tooLarge(key, max, out.ContentLength);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    if (length > max) {
      body.destroy?.();
      throw tooLarge(key, max);
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, length);
}

/**
 * A download's body: the response's bytes as Buffers, counted. Past the cap the connection is dropped at the
 * first byte over; a response that ends, or breaks, short of the size it declared is a transfer that may be
 * tried again (STORAGE_TRANSIENT), whatever the socket called it.
 */
async function* counted(key: string, body: ResponseBody | undefined, size: number, options: ReadOptions): AsyncGenerator<Buffer> {
  const max = options.maxBytes;
  let length = 0;
  try {
    for await (const chunk of body ?? []) {
      length += chunk.length;
      if (max !== undefined && length > max) throw tooLarge(key, max);
      yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  } catch (err) {
    body?.destroy?.();
    if (isVsyncError(err)) throw err;
    if (options.signal?.aborted) throw cancelled(`reading ${key}`, options.signal);
    throw new VsyncError('STORAGE_TRANSIENT', `${key}: the transfer broke after ${length} of ${size} bytes`, { cause: err });
  }
  if (length < size) {
    throw new VsyncError('STORAGE_TRANSIENT', `${key}: the store ended the body after ${length} of its ${size} bytes (truncated)`);
  }
}
