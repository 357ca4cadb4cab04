// Unsealing as a stream (seal.ts): the header is taken off the front and judged as unseal judges it, and
// the payload (the zip) passes on. For pulls too large to hold in memory.
import { Transform, type TransformCallback } from 'node:stream';
import { SEAL_HEADER_BYTES, unseal } from './seal.js';

export class UnsealingStream extends Transform {
  private head: Buffer = Buffer.alloc(0);
  private sealed: string | undefined;

  /** The sealed timestamp, once the header has passed (and been found valid). */
  get ts(): string | undefined {
    return this.sealed;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.sealed !== undefined) {
      callback(null, chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < SEAL_HEADER_BYTES) {
      callback();
      return;
    }
    try {
      this.sealed = unseal(this.head.subarray(0, SEAL_HEADER_BYTES)).ts;
    } catch (err) {
      callback(err as Error);
      return;
    }
    const payload = this.head.subarray(SEAL_HEADER_BYTES);
    this.head = Buffer.alloc(0);
    callback(null, payload.length > 0 ? payload : undefined);
  }

  override _flush(callback: TransformCallback): void {
    if (this.sealed !== undefined) {
      callback();
      return;
    }
    try {
      unseal(this.head); // too short: SEAL_INVALID, worded as for a buffer
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}
