// Opening an RQE1 envelope a chunk at a time, synchronously: the core of DecryptingStream (envelope-stream.ts)
// and of the check a push runs over the bytes it uploads (version-file.ts sealedCheck), which must see each
// chunk the moment the store reads it, not when a stream gets round to it.
//
// What update returns is UNVERIFIED plaintext: GCM authenticates only at the end, in final.
import { createDecipheriv, type DecipherGCM } from 'node:crypto';
import { VsyncError } from '../../shared/errors.js';
import { ENVELOPE_MAGIC, ENVELOPE_OVERHEAD, IV_BYTES, TAG_BYTES, assertAesKey, assertEnvelopeMagic } from './envelope.js';

const HEAD_BYTES = ENVELOPE_MAGIC.length + IV_BYTES;

export class EnvelopeOpener {
  readonly #aesKey: Buffer;
  #head: Buffer = Buffer.alloc(0);
  #decipher: DecipherGCM | undefined;
  #tail: Buffer = Buffer.alloc(0);
  #total = 0;

  constructor(aesKey: Buffer) {
    assertAesKey(aesKey);
    this.#aesKey = aesKey;
  }

  /**
   * The plaintext `chunk` makes available, in pieces (possibly none): the last TAG_BYTES seen are held back,
   * since any chunk may be the last. Refuses a foreign or newer format as soon as the first four bytes are in.
   */
  update(chunk: Buffer): Buffer[] {
    this.#total += chunk.length;
    let data = chunk;
    if (!this.#decipher) {
      this.#head = Buffer.concat([this.#head, data]);
      if (this.#head.length >= ENVELOPE_MAGIC.length) assertEnvelopeMagic(this.#head.subarray(0, ENVELOPE_MAGIC.length));
      if (this.#head.length < HEAD_BYTES) return [];
      this.#decipher = createDecipheriv('aes-256-gcm', this.#aesKey, this.#head.subarray(ENVELOPE_MAGIC.length, HEAD_BYTES));
      data = this.#head.subarray(HEAD_BYTES);
      this.#head = Buffer.alloc(0);
    }
    // Everything but the last TAG_BYTES seen so far is ciphertext.
    if (data.length >= TAG_BYTES) {
      // Deciphered as they come, not concatenated: a copy of every chunk less.
      const held = this.#tail.length > 0 ? [this.#decipher.update(this.#tail)] : [];
      this.#tail = Buffer.from(data.subarray(data.length - TAG_BYTES));
      return [...held, this.#decipher.update(data.subarray(0, data.length - TAG_BYTES))];
    }
    const held = Buffer.concat([this.#tail, data]);
    const spill = held.length - TAG_BYTES;
    this.#tail = spill > 0 ? held.subarray(spill) : held;
    return spill > 0 ? [this.#decipher.update(held.subarray(0, spill))] : [];
  }

  /** The plaintext's last bytes, once the tag verified: else DECRYPT_FAILED, or ENVELOPE_TRUNCATED for too few bytes. */
  final(): Buffer {
    if (!this.#decipher || this.#tail.length < TAG_BYTES) {
      // As decryptEnvelope says it: the bound is named once the magic showed this is an envelope.
      const bound = this.#total >= ENVELOPE_MAGIC.length ? `, at least ${ENVELOPE_OVERHEAD} needed` : '';
      throw new VsyncError('ENVELOPE_TRUNCATED', `${this.#total} bytes${bound}`);
    }
    this.#decipher.setAuthTag(this.#tail);
    try {
      return this.#decipher.final();
    } catch (cause) {
      throw new VsyncError('DECRYPT_FAILED', undefined, { cause });
    }
  }
}
