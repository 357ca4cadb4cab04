// Unsealing as a stream (seal.ts): the header is taken off the front and the payload (the zip) passes on.
// For pulls too large to hold in memory.
//
// The header is judged only when the input ends, not when its 23 bytes arrive: this stream reads the output
// of DecryptingStream, whose bytes are unverified until its own end, where the GCM tag is checked. GCM is a
// counter mode, so someone who can write the bucket can flip known plaintext bytes without the key, and the
// header (`RQEM0001` and the version's own name) is known. Judged early, such a forgery would be reported as
// a seal from a newer vsync ("upgrade vsync") instead of DECRYPT_FAILED; judged at the end, the tag fails
// first, and only a header that really was sealed so is SEAL_INVALID.
import { Transform, type TransformCallback } from 'node:stream';
import { SEAL_HEADER_BYTES, unseal } from './seal.js';

/** The seal's header taken off the front of a plaintext that arrives in pieces, and judged only at its end. */
export class SealSplitter {
  #head: Buffer = Buffer.alloc(0);

  /** The part of `chunk` after the header: the payload (possibly empty). */
  take(chunk: Buffer): Buffer {
    if (this.#head.length >= SEAL_HEADER_BYTES) return chunk;
    const needed = SEAL_HEADER_BYTES - this.#head.length;
    this.#head = Buffer.concat([this.#head, chunk.subarray(0, needed)]);
    return chunk.subarray(needed);
  }

  /** The sealed timestamp, once everything was taken: SEAL_INVALID for a header too short or not a seal. */
  ts(): string {
    return unseal(this.#head).ts; // too short: SEAL_INVALID, worded as for a buffer
  }
}

export class UnsealingStream extends Transform {
  readonly #splitter = new SealSplitter();
  #sealed: string | undefined;

  /** The sealed timestamp, once the stream has ended and the header was found valid. */
  get ts(): string | undefined {
    return this.#sealed;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const payload = this.#splitter.take(chunk);
    callback(null, payload.length > 0 ? payload : undefined);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#sealed = this.#splitter.ts();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}
