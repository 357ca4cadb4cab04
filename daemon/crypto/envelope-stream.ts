// The RQE1 envelope as streams, for versions and backups too large to hold in memory: the same bytes as
// encryptEnvelope and decryptEnvelope (envelope.ts), a chunk at a time.
//
// GCM authenticates only at the end: until the decrypting stream has finished without an error, what it has
// passed on is UNVERIFIED plaintext. Its only consumer may be a private temp file (pull.ts, restore.ts) that
// nothing reads before the whole pipeline resolved; an error leaves that file to be deleted unread.
import { createCipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ENVELOPE_MAGIC, IV_BYTES, assertAesKey } from './envelope.js';
import { EnvelopeOpener } from './envelope-opener.js';

/** Encrypts what is written to it into one envelope: magic and a fresh IV first, the tag at the end. */
export function encryptingStream(aesKey: Buffer): Transform {
  assertAesKey(aesKey);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
  let started = false;
  const start = (stream: Transform) => {
    if (!started) stream.push(Buffer.concat([ENVELOPE_MAGIC, iv]));
    started = true;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      start(this);
      callback(null, cipher.update(chunk));
    },
    flush(callback) {
      start(this); // an empty plaintext is still a whole envelope
      this.push(cipher.final());
      callback(null, cipher.getAuthTag());
    },
  });
}

/**
 * Decrypts one envelope written to it (EnvelopeOpener as a stream): refuses a foreign or newer format as
 * soon as its first four bytes are in, and fails with DECRYPT_FAILED (or ENVELOPE_TRUNCATED) instead of
 * finishing when the tag does not verify at the end.
 */
export class DecryptingStream extends Transform {
  readonly #opener: EnvelopeOpener;

  constructor(aesKey: Buffer) {
    super();
    this.#opener = new EnvelopeOpener(aesKey);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      for (const plain of this.#opener.update(chunk)) this.push(plain);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      callback(null, this.#opener.final());
    } catch (err) {
      callback(err as Error);
    }
  }
}
