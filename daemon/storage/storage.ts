// The Storage interface: a flat namespace of immutable-ish objects with conditional writes, as S3 has it.
// Adapters: s3-storage.ts (any S3-compatible server) and dir-storage.ts (the embedded default). Retrying
// lives in retrying-storage.ts, around any adapter, not inside one. test/contract/storage-contract.ts holds
// every adapter to the contract written here.
//
// Keys are `/`-separated, each segment starting with [A-Za-z0-9_] and holding only [A-Za-z0-9._-]
// (e.g. `acme_web/dev/versions/20260516-113304.enc`); an adapter refuses any other key with
// STORAGE_PERMANENT before touching the store. ETags are opaque strings without surrounding quotes; two
// reads of an unchanged object give the same ETag, and any successful write changes it unless the bytes
// are identical.
//
// Errors (VsyncError codes):
//   STORAGE_NOT_FOUND            the object does not exist (only where a method says so)
//   STORAGE_PRECONDITION_FAILED  a conditional write's condition did not hold; nothing was written
//   STORAGE_TRANSIENT            timeout, connection failure, throttling, 5xx: the call may be retried
//   STORAGE_PERMANENT            refused (no bucket, access denied, bad key, bad request): retrying won't help
//   STORAGE_OBJECT_TOO_LARGE     a capped read (`maxBytes`) met a larger object: by its declared size before
//                                any body was read, or by counting a body longer than declared; never more
//                                than maxBytes + one chunk is held
//
// Every call ends: RetryingStorage gives each one a deadline (retries included) and reports STORAGE_TRANSIENT
// when it passes, whether or not the adapter could cancel its request.
//
// Some servers answer the losers of a conditional-write race with a 5xx instead of 412 (Ceph RGW: HTTP 500
// for most of them), which an adapter can only report as STORAGE_TRANSIENT. RetryingStorage resolves that
// into the outcome the contract states, so the domain always holds a RetryingStorage, never a bare adapter.

import { createHash } from 'node:crypto';
import { VsyncError } from '../../shared/errors.js';

export interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
}

export interface ObjectHead {
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
}

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/** A read's options: a call's, and how big the object may be. */
export interface ReadOptions extends CallOptions {
  /** Most bytes the object may hold; a larger one is STORAGE_OBJECT_TOO_LARGE. */
  readonly maxBytes?: number;
  /**
   * download only: told the object's size as soon as the store declares it, before any long work (the
   * directory store hashes the whole file for its ETag before the consumer is called). RetryingStorage
   * starts a transfer's time allowance from it.
   */
  readonly onSize?: (size: number) => void;
}

export interface WriteResult {
  readonly etag: string;
}

/**
 * A body that lives in a file (a version being pushed): streamed from disk, never held in memory. `size` is
 * the file's length, taken by the caller when it finished writing it; the file must not change until the
 * write returns.
 */
export interface FileBody {
  readonly path: string;
  readonly size: number;
  /**
   * A check of the very bytes the store takes (file-body.ts): a fresh inspector for each attempt, shown every
   * chunk as it is read to be sent. The last chunk is held back until `end` returned, so a throw from the
   * inspector fails the write with that error and the store never holds the object.
   */
  readonly inspect?: () => BodyInspector;
  /**
   * Set when the write starts before the file's writer (in this process) is done, `size` being known ahead
   * (a push streams its version as it is sealed): a read that reaches the file's current end waits here for
   * more, and a write ends with the writer's error if the writer fails.
   */
  readonly growing?: GrowingFile;
}

/** What FileBody.inspect makes: `update` sees the body's bytes in order, `end` judges them all (throws, or rejects, to refuse). */
export interface BodyInspector {
  update(chunk: Buffer): void;
  end(): void | Promise<void>;
}

/** A file still being written (FileBody.growing). */
export interface GrowingFile {
  /** Whether its writer has finished: what the file holds now is all it will hold. */
  readonly done: boolean;
  /** Resolves once the file holds more than `bytes` bytes, or its writer has finished; rejects with the writer's error. */
  beyond(bytes: number): Promise<void>;
}

/** What a version write takes: bytes in memory, or a file. */
export type Body = Buffer | FileBody;

/** What a download's consumer learns before the first byte: the size the store declares, and the ETag. */
export interface DownloadInfo {
  readonly size: number;
  readonly etag: string;
}

/**
 * Takes an object's bytes as they arrive (download). `body` yields the object's bytes in order, at most
 * ReadOptions.maxBytes of them; it throws STORAGE_OBJECT_TOO_LARGE past the cap and STORAGE_TRANSIENT when
 * the store ends the body before the size it declared (a truncated transfer). A consumer may be called more
 * than once for one download (RetryingStorage retries a transfer that failed transiently), each time from
 * the first byte, so it must start afresh each time and leave nothing behind when it fails.
 */
export type Consumer<T> = (body: AsyncIterable<Buffer>, info: DownloadInfo) => Promise<T>;

/**
 * What a caller may add to any call. `signal`: abort the call (a deadline passed, the caller went away); an
 * adapter that can cancel its request passes it on, and one that cannot may ignore it, because
 * RetryingStorage stops waiting for it either way.
 */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface Storage {
  /** What to show a person for this key: `s3://bucket/prefix/key` or `file:///root/key`. */
  describe(key: string): string;

  /** The object's bytes and ETag, read as one consistent snapshot. STORAGE_NOT_FOUND if absent. */
  get(key: string, options?: ReadOptions): Promise<StoredObject>;

  /**
   * The object's bytes and ETag if its current ETag is not `etag`; undefined if it still is
   * (`If-None-Match`: an unchanged object costs one small request and no body). For polling a pointer
   * object. An `etag` the object never had counts as changed. STORAGE_NOT_FOUND if absent.
   */
  getIfChanged(key: string, etag: string, options?: ReadOptions): Promise<StoredObject | undefined>;

  /**
   * The object's bytes, streamed into `consume` (Consumer): for objects too large to hold in memory (a
   * version). Returns what `consume` returns. STORAGE_NOT_FOUND if absent and STORAGE_OBJECT_TOO_LARGE for a
   * declared size over ReadOptions.maxBytes, both before `consume` is called; an error `consume` throws passes
   * through as it is, and the transfer stops. The bytes are one consistent snapshot of the object.
   */
  download<T>(key: string, consume: Consumer<T>, options?: ReadOptions): Promise<T>;

  /** Size, ETag and modification time without the body. STORAGE_NOT_FOUND if absent. */
  head(key: string, options?: CallOptions): Promise<ObjectHead>;

  /** Creates or replaces the object unconditionally. Readers see the old bytes or the new, never a mix. */
  put(key: string, body: Buffer, options?: CallOptions): Promise<WriteResult>;

  /**
   * Creates the object only if no object has that key (`If-None-Match: *`). Of any number of concurrent
   * callers, across processes and machines, exactly one succeeds; the others get
   * STORAGE_PRECONDITION_FAILED and the winner's bytes stay. A FileBody is streamed from its file in one
   * request (S3 allows 5 GiB in one PUT; a version is capped at 4 GiB, version-cap.ts), so the condition is
   * the same single conditional PUT as for bytes in memory.
   */
  putIfAbsent(key: string, body: Body, options?: CallOptions): Promise<WriteResult>;

  /**
   * Replaces the object only if its current ETag is `etag` (`If-Match`). Of concurrent callers holding the
   * same ETag exactly one succeeds; the others get STORAGE_PRECONDITION_FAILED. An absent object also
   * gives STORAGE_PRECONDITION_FAILED: it is not at the ETag the caller holds.
   */
  putIfMatch(key: string, body: Buffer, etag: string, options?: CallOptions): Promise<WriteResult>;

  /**
   * Every object whose key starts with `prefix` (a string prefix, not a folder), sorted by key, however
   * many there are: adapters page through the server's listing (S3 returns at most 1,000 per page).
   */
  list(prefix: string, options?: CallOptions): Promise<ListedObject[]>;

  /** Removes the object. Removing an absent object succeeds (as in S3), so a retry is harmless. */
  delete(key: string, options?: CallOptions): Promise<void>;
}

const KEY_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export function isValidKey(key: string): boolean {
  return key.length > 0 && key.length <= 900 && key.split('/').every((segment) => KEY_SEGMENT.test(segment));
}

/** A list prefix: any leading part of a valid key (may end in `/` or mid-segment, may be empty). */
export function isValidPrefix(prefix: string): boolean {
  if (prefix === '') return true;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return isValidKey(trimmed);
}

/** Adapters call these before touching the store: a bad key never reaches a path or a request. */
export function assertValidKey(key: string): void {
  if (!isValidKey(key)) throw new VsyncError('STORAGE_PERMANENT', `invalid key ${JSON.stringify(key)}`);
}

export function assertValidPrefix(prefix: string): void {
  if (!isValidPrefix(prefix)) throw new VsyncError('STORAGE_PERMANENT', `invalid prefix ${JSON.stringify(prefix)}`);
}

/** Listing order: by key, byte-wise (keys are ASCII), as S3 lists. */
export function byKey(a: ListedObject, b: ListedObject): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** The ETag of a stored body where the store does not supply one: MD5 hex, as S3 gives for single-part uploads. */
export function md5Etag(body: Buffer): string {
  return createHash('md5').update(body).digest('hex');
}

/** The refusal of a capped read (ReadOptions). `size` is the declared size when known, else undefined (counted). */
export function tooLarge(key: string, maxBytes: number, size?: number): VsyncError {
  const what = size === undefined ? `sent more than the cap of ${maxBytes} bytes` : `holds ${size} bytes, over the cap of ${maxBytes}`;
  return new VsyncError('STORAGE_OBJECT_TOO_LARGE', `${key} ${what}`);
}

/** Whether the object exists (a HEAD; STORAGE_NOT_FOUND is the answer no). */
export async function objectExists(storage: Pick<Storage, 'head'>, key: string): Promise<boolean> {
  try {
    await storage.head(key);
    return true;
  } catch (err) {
    if (err instanceof VsyncError && err.code === 'STORAGE_NOT_FOUND') return false;
    throw err;
  }
}

/** A call's signal, once aborted, as the error the call ends with: its reason when that is ours. */
export function cancelled(what: string, signal: AbortSignal): VsyncError {
  return signal.reason instanceof VsyncError
    ? signal.reason
    : new VsyncError('STORAGE_TRANSIENT', `${what}: cancelled`, { cause: signal.reason });
}
