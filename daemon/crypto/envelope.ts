// The RQE1 envelope: magic · 12-byte IV · AES-256-GCM ciphertext · 16-byte tag (docs/FORMAT.md §Envelope).
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { VsyncError } from '../../shared/errors.js';
import { AES_KEY_BYTES } from './kdf.js';

export const ENVELOPE_MAGIC = Buffer.from('RQE1', 'ascii');
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const ENVELOPE_OVERHEAD = ENVELOPE_MAGIC.length + IV_BYTES + TAG_BYTES;

// The first three magic bytes name the family; the fourth is the format version. Telling the two apart
// lets an old reader say "written by a newer vsync" instead of "not a vsync file".
const FAMILY = ENVELOPE_MAGIC.subarray(0, 3);

/** Refuses the first four bytes of something that is not an RQE1 envelope, naming a newer version as such. */
export function assertEnvelopeMagic(magic: Buffer): void {
  if (magic.equals(ENVELOPE_MAGIC)) return;
  const detail = magic.subarray(0, 3).equals(FAMILY)
    ? `envelope version ${JSON.stringify(magic.toString('latin1', 3, 4))} is not supported by this vsync`
    : `starts with 0x${magic.toString('hex')}`;
  throw new VsyncError('ENVELOPE_UNKNOWN_FORMAT', detail);
}

export function assertAesKey(aesKey: Buffer): void {
  if (aesKey.length !== AES_KEY_BYTES) throw new RangeError(`AES key must be ${AES_KEY_BYTES} bytes`);
}

/**
 * Encrypts `plaintext`. `iv` is for test vectors only: a fixed IV reused under one key breaks GCM, so
 * production callers leave it out and get 12 fresh random bytes.
 */
export function encryptEnvelope(aesKey: Buffer, plaintext: Buffer, iv: Buffer = randomBytes(IV_BYTES)): Buffer {
  assertAesKey(aesKey);
  if (iv.length !== IV_BYTES) throw new RangeError(`IV must be ${IV_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([ENVELOPE_MAGIC, iv, body, cipher.getAuthTag()]);
}

/**
 * Decrypts an envelope. Returns plaintext only after the GCM tag verified: on any failure the caller gets a
 * typed error and not one byte of plaintext.
 */
export function decryptEnvelope(aesKey: Buffer, envelope: Buffer): Buffer {
  assertAesKey(aesKey);
  if (envelope.length < ENVELOPE_MAGIC.length) {
    throw new VsyncError('ENVELOPE_TRUNCATED', `${envelope.length} bytes`);
  }
  assertEnvelopeMagic(envelope.subarray(0, ENVELOPE_MAGIC.length));
  if (envelope.length < ENVELOPE_OVERHEAD) {
    throw new VsyncError('ENVELOPE_TRUNCATED', `${envelope.length} bytes, at least ${ENVELOPE_OVERHEAD} needed`);
  }
  const iv = envelope.subarray(ENVELOPE_MAGIC.length, ENVELOPE_MAGIC.length + IV_BYTES);
  const tag = envelope.subarray(envelope.length - TAG_BYTES);
  const body = envelope.subarray(ENVELOPE_MAGIC.length + IV_BYTES, envelope.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', aesKey, iv);
  decipher.setAuthTag(tag);
  const head = decipher.update(body);
  try {
    return Buffer.concat([head, decipher.final()]);
  } catch (cause) {
    head.fill(0);
    throw new VsyncError('DECRYPT_FAILED', undefined, { cause });
  }
}
