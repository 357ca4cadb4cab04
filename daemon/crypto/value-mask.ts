// A short fingerprint of a secret value, for showing that two values are equal or differ without showing
// either (diff, log, conflict messages; docs/FORMAT.md §13). It is keyed: an HMAC under a key derived from
// the vault's AES key, so that whoever reads a fingerprint in a terminal, a CI log or a chat cannot test
// guesses of a value against it without the vault's key, as they could against a plain hash.
import { createHmac } from 'node:crypto';

const LABEL = 'vsync value mask v1';
/** Hex characters shown: 32 bits, enough to tell values apart at a glance, too few to name one. */
const SHOWN = 8;

/** The mask key of a vault: HMAC-SHA256(aes_key, "vsync value mask v1"). */
export function maskKey(aesKey: Buffer): Buffer {
  return createHmac('sha256', aesKey).update(LABEL, 'utf8').digest();
}

/** The first 8 hex characters of HMAC-SHA256(mask key, UTF-8 value). */
export function fingerprint(mask: Buffer, value: string): string {
  return createHmac('sha256', mask).update(value, 'utf8').digest('hex').slice(0, SHOWN);
}
