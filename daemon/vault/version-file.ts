// A version on its way to or from the store. A small one (at most IN_MEMORY_BYTES) is sealed, encrypted,
// checked and opened in memory: no work file, no descriptor, no fsync for a vault of a few KB. A larger one
// goes through a file in a work folder (work-folder.ts), so that memory stays bounded whatever the vault's
// size: push seals and encrypts the zip stream into a file and uploads it, checked as the store reads it
// (sealedCheck); pull decrypts the download into a zip file and extracts from it only once the GCM tag and the seal
// verified. Either way the bytes are the same and nothing is used before the tag verified.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { DigestTap } from '../crypto/digest-tap.js';
import { ENVELOPE_OVERHEAD } from '../crypto/envelope.js';
import { DecryptingStream, encryptingStream } from '../crypto/envelope-stream.js';
import { EnvelopeOpener } from '../crypto/envelope-opener.js';
import { sealHeader } from '../crypto/seal.js';
import { SealSplitter, UnsealingStream } from '../crypto/seal-stream.js';
import type { BodyInspector } from '../storage/storage.js';

/**
 * The largest version (a push: the vault's file bytes; a pull: the object's declared size) handled in
 * memory. The same bound as the bytes a folder read keeps (folder-snapshot.ts KEPT_BYTES): such a vault's
 * files are in memory already.
 */
export const IN_MEMORY_BYTES = 8 * 1024 * 1024;

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

/** encryptToFile into memory, for a version of at most IN_MEMORY_BYTES: the envelope itself. */
export async function encryptToMemory(aesKey: Buffer, zip: Readable, ts: string): Promise<{ body: Buffer; zip: ZipDigest }> {
  const chunks: Buffer[] = [];
  const written = await encryptInto(aesKey, zip, collect(chunks), ts);
  return { body: Buffer.concat(chunks, written.size), zip: written.zip };
}

async function encryptInto(aesKey: Buffer, zip: Readable, sink: Sink, ts: string | undefined): Promise<{ size: number; zip: ZipDigest }> {
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
export function sealedCheck(aesKey: Buffer, ts: string, zip: ZipDigest): BodyInspector {
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
  return {
    update: (chunk) =>
      ours(() => {
        for (const plain of opener.update(chunk)) take(plain);
      }),
    end: () =>
      ours(() => {
        take(opener.final());
        if (splitter.ts() !== ts || !sameZip({ sha256: hash.digest('hex'), bytes }, zip)) {
          throw new VsyncError('INTERNAL', 'the sealed version did not decrypt to what was sealed');
        }
      }),
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
