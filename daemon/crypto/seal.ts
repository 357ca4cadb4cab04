// The RQEM0001 seal: the version's own timestamp inside the encrypted plaintext, ahead of the zip bytes
// (docs/FORMAT.md §Seal). A reader compares it with the pointer, so someone who can write the bucket but
// lacks the key cannot serve an old version under a new name.
import { VsyncError } from '../../shared/errors.js';
import { TIMESTAMP_LENGTH, parseTimestamp } from './timestamp.js';

export const SEAL_MAGIC = Buffer.from('RQEM0001', 'ascii');
export const SEAL_HEADER_BYTES = SEAL_MAGIC.length + TIMESTAMP_LENGTH;
const FAMILY = SEAL_MAGIC.subarray(0, 4);

export interface Sealed {
  readonly ts: string;
  readonly payload: Buffer;
}

export function seal(ts: string, payload: Buffer): Buffer {
  return Buffer.concat([sealHeader(ts), payload]);
}

/** What goes before the payload: a streamed seal is this header, then the zip's bytes. */
export function sealHeader(ts: string): Buffer {
  parseTimestamp(ts);
  return Buffer.concat([SEAL_MAGIC, Buffer.from(ts, 'ascii')]);
}

/** Splits a sealed plaintext. `payload` is a view into `plaintext`, not a copy. */
export function unseal(plaintext: Buffer): Sealed {
  if (plaintext.length < SEAL_HEADER_BYTES) {
    throw new VsyncError('SEAL_INVALID', `${plaintext.length} bytes, at least ${SEAL_HEADER_BYTES} needed`);
  }
  const magic = plaintext.subarray(0, SEAL_MAGIC.length);
  if (!magic.equals(SEAL_MAGIC)) {
    if (magic.subarray(0, 4).equals(FAMILY)) {
      throw new VsyncError('SEAL_INVALID', `seal version ${JSON.stringify(magic.toString('latin1', 4))} is not supported by this vsync`, {
        hint: 'the version was pushed by a newer vsync; upgrade vsync to read it',
      });
    }
    throw new VsyncError('SEAL_INVALID', 'no RQEM magic');
  }
  const ts = plaintext.toString('latin1', SEAL_MAGIC.length, SEAL_HEADER_BYTES);
  try {
    parseTimestamp(ts);
  } catch (cause) {
    throw new VsyncError('SEAL_INVALID', 'the sealed timestamp is not YYYYMMDD-HHmmss', { cause });
  }
  return { ts, payload: plaintext.subarray(SEAL_HEADER_BYTES) };
}
