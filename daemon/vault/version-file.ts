// A version on its way to or from the store. A small one (at most IN_MEMORY_BYTES) is sealed, encrypted,
// checked and opened in memory: no work file, no descriptor, no fsync for a vault of a few KB. A larger one
// goes through a file in a work folder (work-folder.ts), so that memory stays bounded whatever the vault's
// size: push seals and encrypts the zip stream into a file and uploads it (while it is written, when the
// zip's length is known ahead), checked as the store reads it (sealedCheck); pull decrypts the download into
// a zip file and extracts from it only once the GCM tag and the seal verified. Either way the bytes are the
// same and nothing is used before the tag verified.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { DigestTap } from '../crypto/digest-tap.js';
import { ENVELOPE_OVERHEAD } from '../crypto/envelope.js';
import { DecryptingStream, encryptingStream } from '../crypto/envelope-stream.js';
import { EnvelopeOpener } from '../crypto/envelope-opener.js';
import { SealSplitter, UnsealingStream } from '../crypto/seal-stream.js';
import type { Body, BodyInspector, GrowingFile } from '../storage/storage.js';
import type { FolderRead } from '../bundle/zip-folder.js';
import { SEAL_HEADER_BYTES, sealHeader } from '../crypto/seal.js';
import { span } from '../trace/span.js';
import { FileProgress } from './file-progress.js';
import { settleLater } from './settle-later.js';

/**
 * The largest version (a push: the vault's file bytes; a pull: the object's declared size) handled in
 * memory. The same bound as the bytes a folder read keeps (folder-snapshot.ts KEPT_BYTES): such a vault's
 * files are in memory already.
 */
export const IN_MEMORY_BYTES = 8 * 1024 * 1024;

/** How much of a version being written for an upload is gathered before one write (encryptToGrowingFile). */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** A zip that went through a stream: its SHA-256 (hex) and length. Bundles are deterministic: equal hashes, equal folders. */
export interface ZipDigest {
  readonly sha256: string;
  readonly bytes: number;
}

/** Whether two streamed zips are the same bytes. */
export function sameZip(a: ZipDigest, b: ZipDigest): boolean {
  return a.sha256 === b.sha256 && a.bytes === b.bytes;
}

type Sink = NodeJS.WritableStream | ((source: AsyncIterable<Buffer>) => Promise<void>);

/** A version sealed for its upload (sealVersion). */
export interface SealedVersion {
  readonly body: Body;
  /** The envelope's length: the bytes the upload declares. */
  readonly size: number;
  /** Resolves once the body is whole (at once, but for a file still being written); rejects with its writer's error. */
  readonly written: Promise<void>;
  /** Stops a writer still at work (the upload failed). */
  stop(): void;
}

/**
 * `folder`'s zip sealed as `ts` and encrypted, checked before the store may hold it (sealedCheck), and
 * ready to upload: in memory for a vault of at most IN_MEMORY_BYTES; else in the work file `workFile()`
 * names. That file is uploaded while it is written when the zip's length is known ahead (FolderRead.zipBytes:
 * the upload declares its length before the first byte), else once it is whole.
 */
export async function sealVersion(aesKey: Buffer, folder: FolderRead, ts: string, workFile: () => Promise<string>): Promise<SealedVersion> {
  const whole = { written: Promise.resolve(), stop: () => undefined };
  if (folder.bytes <= IN_MEMORY_BYTES) {
    const { body, zip } = await span('version.write', () => encryptToMemory(aesKey, folder.zip(), ts));
    await span('version.check', async () => checkSealed(aesKey, body, ts, zip));
    return { body, size: body.length, ...whole };
  }
  const path = await workFile();
  const zipBytes = folder.zipBytes();
  if (zipBytes === undefined) {
    const { size, zip } = await span('version.write', () => encryptToFile(aesKey, folder.zip(), path, { ts }));
    return { body: { path, size, inspect: () => sealedCheck(aesKey, ts, zip) }, size, ...whole };
  }
  const size = ENVELOPE_OVERHEAD + SEAL_HEADER_BYTES + zipBytes;
  const stop = new AbortController();
  const { progress, written } = await encryptToGrowingFile(aesKey, folder.zip(), path, ts, stop.signal);
  // Awaited by the upload's check, and by the push through `written`.
  const zip = settleLater(
    span('version.write', () => written).then((out) => {
      if (out.size !== size)
        throw new VsyncError('INTERNAL', `the sealed version is ${out.size} bytes, not the ${size} its zip was reckoned at`);
      return out.zip;
    }),
  );
  return {
    body: { path, size, growing: progress, inspect: () => sealedCheck(aesKey, ts, zip) },
    size,
    written: settleLater(zip.then(() => undefined)),
    stop: () => stop.abort(),
  };
}

/**
 * A zip already made (a version being re-encrypted by `key rotate`) sealed as `ts` and encrypted, checked as
 * sealVersion checks a push's: in memory when small, else in the work file `workFile()` names.
 */
export async function sealZip(
  aesKey: Buffer,
  zip: Buffer | { readonly path: string },
  ts: string,
  workFile: () => Promise<string>,
): Promise<Body> {
  if (Buffer.isBuffer(zip)) {
    const { body, zip: digest } = await encryptToMemory(aesKey, Readable.from([zip]), ts);
    checkSealed(aesKey, body, ts, digest);
    return body;
  }
  const path = await workFile();
  const { size, zip: digest } = await encryptToFile(aesKey, createReadStream(zip.path), path, { ts });
  return { path, size, inspect: () => sealedCheck(aesKey, ts, digest) };
}

/**
 * Writes `zip` encrypted into an RQE1 envelope at the new file `path` (0600), sealed as `ts` first when
 * given (a version; a backup is not sealed). Returns the envelope's size and the zip's digest. `durable`
 * (a backup, which is kept) flushes it to disk; a work file is gone after the operation either way.
 */
export async function encryptToFile(
  aesKey: Buffer,
  zip: Readable,
  path: string,
  options: { readonly ts?: string; readonly durable?: boolean } = {},
): Promise<{ size: number; zip: ZipDigest }> {
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600, flush: options.durable === true });
  return removeOnFailure(path, () => encryptInto(aesKey, zip, file, options.ts));
}

/**
 * A version sealed as `ts` and encrypted into the new file `path` (0600) while the store reads it: resolves as
 * soon as the file exists, to its progress (FileBody.growing) and `written`, the promise of what encryptToFile
 * returns. Aborting `signal` stops the writer. A writer that fails removes the file, and its readers get
 * its error.
 */
export async function encryptToGrowingFile(
  aesKey: Buffer,
  zip: Readable,
  path: string,
  ts: string,
  signal: AbortSignal,
): Promise<{ progress: GrowingFile; written: Promise<{ size: number; zip: ZipDigest }> }> {
  const handle = await open(path, 'wx', 0o600);
  const progress = new FileProgress();
  // The envelope's chunks (~64 KiB each) are written a batch at a time: one writev, and one wake-up of the
  // reader, per WRITE_BATCH_BYTES rather than per chunk.
  const sink = async (source: AsyncIterable<Buffer>) => {
    let batch: Buffer[] = [];
    let bytes = 0;
    const flush = async () => {
      const { bytesWritten } = await handle.writev(batch);
      // A regular file takes a whole writev but for a full disk or a signal; the rest then goes in order.
      const rest = bytesWritten < bytes ? Buffer.concat(batch).subarray(bytesWritten) : Buffer.alloc(0);
      for (let at = 0; at < rest.length; ) at += (await handle.write(rest, at)).bytesWritten;
      progress.advance(bytes);
      batch = [];
      bytes = 0;
    };
    for await (const chunk of source) {
      batch.push(chunk);
      bytes += chunk.length;
      if (bytes >= WRITE_BATCH_BYTES) await flush();
    }
    if (bytes > 0) await flush();
  };
  // Awaited by the push once its upload ends; until then a failure must not count as unhandled.
  const written = settleLater(
    (async () => {
      try {
        const out = await encryptInto(aesKey, zip, sink, ts, signal);
        await handle.close();
        progress.finish();
        return out;
      } catch (err) {
        await handle.close().catch(() => undefined);
        await rm(path, { force: true }).catch(() => undefined);
        progress.fail(err);
        throw err;
      }
    })(),
  );
  return { progress, written };
}

/** encryptToFile into memory, for a version of at most IN_MEMORY_BYTES: the envelope itself. */
export async function encryptToMemory(aesKey: Buffer, zip: Readable, ts: string): Promise<{ body: Buffer; zip: ZipDigest }> {
  const chunks: Buffer[] = [];
  const written = await encryptInto(aesKey, zip, collect(chunks), ts);
  return { body: Buffer.concat(chunks, written.size), zip: written.zip };
}

async function encryptInto(
  aesKey: Buffer,
  zip: Readable,
  sink: Sink,
  ts: string | undefined,
  signal?: AbortSignal,
): Promise<{ size: number; zip: ZipDigest }> {
  const header = ts === undefined ? undefined : sealHeader(ts);
  const tap = new DigestTap();
  await pipeline(
    zip,
    tap,
    async function* (payload: AsyncIterable<Buffer>) {
      if (header) yield header;
      yield* payload;
    },
    encryptingStream(aesKey),
    sink,
    ...(signal ? [{ signal }] : []),
  );
  // GCM's ciphertext is as long as its plaintext: the envelope's size is known without counting it.
  return { size: ENVELOPE_OVERHEAD + (header?.length ?? 0) + tap.bytes, zip: { sha256: tap.sha256, bytes: tap.bytes } };
}

/**
 * The check of a sealed version before it may be stored: it must decrypt, and unseal to `ts` and to exactly
 * the zip that was written (`zip`), or the inspector throws INTERNAL (a fault here is ours), or the
 * envelope's own error. A version in a file is checked by the store as it reads it to send
 * (FileBody.inspect: the last chunk waits for the verdict); one in memory by checkSealed.
 */
export function sealedCheck(aesKey: Buffer, ts: string, zip: ZipDigest | Promise<ZipDigest>): BodyInspector {
  const opener = new EnvelopeOpener(aesKey);
  const splitter = new SealSplitter();
  const hash = createHash('sha256');
  let bytes = 0;
  const take = (plain: Buffer) => {
    const payload = splitter.take(plain);
    hash.update(payload);
    bytes += payload.length;
  };
  // The envelope's own refusals (DECRYPT_FAILED, ...) would blame the store or the key; here the bytes are
  // this machine's, just written, so any of them is a fault of ours.
  const ours = (run: () => void) => {
    try {
      run();
    } catch (cause) {
      if (isVsyncError(cause, 'INTERNAL')) throw cause;
      const code = isVsyncError(cause) ? cause.code : String(cause);
      throw new VsyncError('INTERNAL', `the sealed version did not decrypt to what was sealed (${code})`, { cause });
    }
  };
  const judge = (written: ZipDigest) =>
    ours(() => {
      take(opener.final());
      if (splitter.ts() !== ts || !sameZip({ sha256: hash.digest('hex'), bytes }, written)) {
        throw new VsyncError('INTERNAL', 'the sealed version did not decrypt to what was sealed');
      }
    });
  return {
    update: (chunk) =>
      ours(() => {
        for (const plain of opener.update(chunk)) take(plain);
      }),
    // The zip's digest of a version still being written is known once its writer is done.
    end: () => (zip instanceof Promise ? zip.then(judge) : judge(zip)),
  };
}

/** sealedCheck of a version held in memory, before it leaves the machine. */
export function checkSealed(aesKey: Buffer, body: Buffer, ts: string, zip: ZipDigest): void {
  const check = sealedCheck(aesKey, ts, zip);
  check.update(body);
  check.end();
}

/**
 * Decrypts an envelope (a download, a backup file) into the new file `path` (0600), taking the seal off
 * when `sealed`: `path` then holds the zip. Resolves only once the GCM tag verified; on any failure `path`
 * is removed and the error thrown (DECRYPT_FAILED, ENVELOPE_*, SEAL_INVALID, or the source's own).
 * `ts` is the sealed timestamp (undefined when not sealed).
 */
export async function decryptToFile(
  aesKey: Buffer,
  envelope: AsyncIterable<Buffer> | Readable,
  path: string,
  sealed: boolean,
): Promise<{ ts: string | undefined; zip: ZipDigest }> {
  // Not flushed: the file is a step on the way (extracted, or copied into place, then removed).
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  return removeOnFailure(path, () => openEnvelope(aesKey, envelope, file, sealed));
}

/** decryptToFile into memory, for a version of at most IN_MEMORY_BYTES: the zip, once the tag verified. */
export async function decryptToMemory(
  aesKey: Buffer,
  envelope: AsyncIterable<Buffer> | Readable,
  sealed: boolean,
): Promise<{ ts: string | undefined; zip: ZipDigest; bytes: Buffer }> {
  const chunks: Buffer[] = [];
  const opened = await openEnvelope(aesKey, envelope, collect(chunks), sealed);
  return { ...opened, bytes: Buffer.concat(chunks, opened.zip.bytes) };
}

/** The digest of the zip inside the envelope file at `path`, decrypted but written nowhere; throws as decryptToFile. */
export async function envelopeDigest(aesKey: Buffer, path: string, sealed: boolean): Promise<ZipDigest> {
  return (await openEnvelope(aesKey, createReadStream(path), discard, sealed)).zip;
}

async function discard(source: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of source); // only the digest is wanted
}

function collect(chunks: Buffer[]): (source: AsyncIterable<Buffer>) => Promise<void> {
  return async (source) => {
    for await (const chunk of source) chunks.push(chunk);
  };
}

async function openEnvelope(
  aesKey: Buffer,
  envelope: AsyncIterable<Buffer> | Readable,
  sink: Sink,
  sealed: boolean,
): Promise<{ ts: string | undefined; zip: ZipDigest }> {
  const unsealing = sealed ? new UnsealingStream() : undefined;
  const tap = new DigestTap();
  const decrypting = new DecryptingStream(aesKey);
  await (unsealing ? pipeline(envelope, decrypting, unsealing, tap, sink) : pipeline(envelope, decrypting, tap, sink));
  // A stream that ended cleanly has seen the whole header (UnsealingStream refuses a shorter one).
  return { ts: unsealing?.ts, zip: { sha256: tap.sha256, bytes: tap.bytes } };
}

async function removeOnFailure<T>(path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    await rm(path, { force: true }).catch(() => undefined);
    throw err;
  }
}
