// A pass-through that takes the SHA-256 and the length of what flows through it: how a streamed zip is
// compared with another (the bytes themselves are never held), and checked against what was sealed.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class DigestTap extends Transform {
  private readonly hash = createHash('sha256');
  private count = 0;
  private hex: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.hex = this.hash.digest('hex');
    callback();
  }

  /** The SHA-256 (hex) of everything that passed; only once the stream has ended. */
  get sha256(): string {
    if (this.hex === undefined) throw new Error('DigestTap: read before the stream ended');
    return this.hex;
  }

  get bytes(): number {
    return this.count;
  }
}
