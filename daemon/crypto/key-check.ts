// A fingerprint of the derived key, kept in the config (encryption.keyCheck), so that "wrong key" can be told
// apart from "altered data": AES-GCM alone fails the same way for both. It is an HMAC under the derived key,
// so it reveals nothing about the key and cannot be forged without it.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { VsyncError } from '../../shared/errors.js';

const LABEL = 'vsync key check v1';

export function keyCheck(aesKey: Buffer): string {
  return createHmac('sha256', aesKey).update(LABEL, 'utf8').digest().subarray(0, 16).toString('base64');
}

function keyMatchesCheck(aesKey: Buffer, check: string): boolean {
  const expected = Buffer.from(keyCheck(aesKey), 'utf8');
  const given = Buffer.from(check, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Throws KEY_MISMATCH when a config's keyCheck says this derived key is not the vault's key. */
export function assertKeyMatchesCheck(aesKey: Buffer, check: string | undefined): void {
  if (check !== undefined && !keyMatchesCheck(aesKey, check)) {
    throw new VsyncError('KEY_MISMATCH', 'the derived key does not match encryption.keyCheck in the config');
  }
}
