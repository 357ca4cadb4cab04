// A version on its way to or from the store, as a file in a work folder (work-folder.ts), so that memory
// stays bounded whatever the vault's size: push seals and encrypts the zip stream into a file, reads it back
// to check it, and uploads the file; pull decrypts the download into a zip file and extracts from it only
// once the GCM tag and the seal verified.
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VsyncError } from '../../shared/errors.js';
import { DigestTap } from '../crypto/digest-tap.js';
import { DecryptingStream, encryptingStream } from '../crypto/envelope-stream.js';
import { sealHeader } from '../crypto/seal.js';
import { UnsealingStream } from '../crypto/seal-stream.js';

/** A zip that went through a stream: its SHA-256 (hex) and length. Bundles are deterministic: equal hashes, equal folders. */
export interface ZipDigest {
  readonly sha256: string;
  readonly bytes: number;
}

/** Whether two streamed zips are the same bytes. */
export function sameZip(a: ZipDigest, b: ZipDigest): boolean {
  return a.sha256 === b.sha256 && a.bytes === b.bytes;
}

/**
 * Writes `zip` encrypted into an RQE1 envelope at the new file `path` (0600, flushed to disk), sealed as
 * `ts` first when given (a version; a backup is not sealed). Returns the envelope's size and the zip's digest.
 */
export async function encryptToFile(aesKey: Buffer, zip: Readable, path: string, ts?: string): Promise<{ size: number; zip: ZipDigest }> {
  const header = ts === undefined ? undefined : sealHeader(ts);
  const tap = new DigestTap();
  const out = new DigestTap();
  await removeOnFailure(path, () =>
    pipeline(
      zip,
      tap,
      async function* (payload: AsyncIterable<Buffer>) {
        if (header) yield header;
        yield* payload;
      },
      encryptingStream(aesKey),
      out,
      createWriteStream(path, { flags: 'wx', mode: 0o600, flush: true }),
    ),
  );
  return { size: out.bytes, zip: { sha256: tap.sha256, bytes: tap.bytes } };
}

/**
 * Reads a sealed file back through decryption before it leaves the machine: it must unseal to `ts` and to
 * exactly the zip that was written (`zip`), or nothing is uploaded (INTERNAL: a fault here is ours).
 */
export async function checkSealedFile(aesKey: Buffer, path: string, ts: string, zip: ZipDigest): Promise<void> {
  const opened = await openEnvelope(aesKey, createReadStream(path), discard, true);
  if (opened.ts !== ts || !sameZip(opened.zip, zip)) {
    throw new VsyncError('INTERNAL', 'the sealed bundle did not decrypt to what was sealed');
  }
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
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600, flush: true });
  return removeOnFailure(path, () => openEnvelope(aesKey, envelope, file, sealed));
}

/** The digest of the zip inside the envelope file at `path`, decrypted but written nowhere; throws as decryptToFile. */
export async function envelopeDigest(aesKey: Buffer, path: string, sealed: boolean): Promise<ZipDigest> {
  return (await openEnvelope(aesKey, createReadStream(path), discard, sealed)).zip;
}

async function discard(source: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of source); // only the digest is wanted
}

async function openEnvelope(
  aesKey: Buffer,
  envelope: AsyncIterable<Buffer> | Readable,
  sink: NodeJS.WritableStream | ((source: AsyncIterable<Buffer>) => Promise<void>),
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
