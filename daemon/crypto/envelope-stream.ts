// The RQE1 envelope as streams, for versions and backups too large to hold in memory: the same bytes as
// encryptEnvelope and decryptEnvelope (envelope.ts), a chunk at a time.
//
// GCM authenticates only at the end: until the decrypting stream has finished without an error, what it has
// passed on is UNVERIFIED plaintext. Its only consumer may be a private temp file (pull.ts, restore.ts) that
// nothing reads before the whole pipeline resolved; an error leaves that file to be deleted unread.
import { createCipheriv, createDecipheriv, randomBytes, type DecipherGCM } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { VsyncError } from '../../shared/errors.js';
import { ENVELOPE_MAGIC, ENVELOPE_OVERHEAD, IV_BYTES, TAG_BYTES, assertAesKey, assertEnvelopeMagic } from './envelope.js';

const HEAD_BYTES = ENVELOPE_MAGIC.length + IV_BYTES;

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
 * Decrypts one envelope written to it. Refuses a foreign or newer format as soon as its first four bytes
 * are in; holds the last TAG_BYTES back, since any chunk may be the last; verifies the tag when the input
 * ends, and fails with DECRYPT_FAILED (or ENVELOPE_TRUNCATED) instead of finishing when it does not hold.
 */
export class DecryptingStream extends Transform {
  private head: Buffer = Buffer.alloc(0);
  private decipher: DecipherGCM | undefined;
  private tail: Buffer = Buffer.alloc(0);
  private total = 0;

  constructor(private readonly aesKey: Buffer) {
    super();
    assertAesKey(aesKey);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.total += chunk.length;
      let data = chunk;
      if (!this.decipher) {
        this.head = Buffer.concat([this.head, data]);
        if (this.head.length >= ENVELOPE_MAGIC.length) assertEnvelopeMagic(this.head.subarray(0, ENVELOPE_MAGIC.length));
        if (this.head.length < HEAD_BYTES) {
          callback();
          return;
        }
        this.decipher = createDecipheriv('aes-256-gcm', this.aesKey, this.head.subarray(ENVELOPE_MAGIC.length, HEAD_BYTES));
        data = this.head.subarray(HEAD_BYTES);
        this.head = Buffer.alloc(0);
      }
      // Everything but the last TAG_BYTES seen so far is ciphertext.
      if (data.length >= TAG_BYTES) {
        // Pushed as they come, not concatenated: a copy of every chunk less (this runs once per 64 KiB).
        if (this.tail.length > 0) this.push(this.decipher.update(this.tail));
        this.tail = Buffer.from(data.subarray(data.length - TAG_BYTES));
        callback(null, this.decipher.update(data.subarray(0, data.length - TAG_BYTES)));
      } else {
        const held = Buffer.concat([this.tail, data]);
        const spill = held.length - TAG_BYTES;
        this.tail = spill > 0 ? held.subarray(spill) : held;
        callback(null, spill > 0 ? this.decipher.update(held.subarray(0, spill)) : undefined);
      }
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (!this.decipher || this.tail.length < TAG_BYTES) {
      // As decryptEnvelope says it: the bound is named once the magic showed this is an envelope.
      const bound = this.total >= ENVELOPE_MAGIC.length ? `, at least ${ENVELOPE_OVERHEAD} needed` : '';
      callback(new VsyncError('ENVELOPE_TRUNCATED', `${this.total} bytes${bound}`));
      return;
    }
    this.decipher.setAuthTag(this.tail);
    try {
      callback(null, this.decipher.final());
    } catch (cause) {
      callback(new VsyncError('DECRYPT_FAILED', undefined, { cause }));
    }
  }
}
