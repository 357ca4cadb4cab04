// The passphrase that protects a share file (docs/FORMAT.md §12): how vsync makes one, how any passphrase is
// normalised before use, and the AES key derived from it.
//
// A generated passphrase is 28 symbols of Crockford's base32 (140 random bits), shown as seven groups of four:
// `7K3Q-M9TX-4B2D-R8WZ-0CFH-J6NP-SV5E`. Base32 rather than words: 128 bits from a wordlist takes 10 words of a
// 7,776-word list (a list vsync would have to ship and keep), while 34 characters read out over a phone are
// unambiguous in this alphabet (no I, L, O or U), in either case, with or without the dashes. Normalisation
// makes every such way of typing it the same password; any other passphrase is used as typed (after NFC).
import { createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { VsyncError } from '../../shared/errors.js';
import { AES_KEY_BYTES, KDF_ITERATIONS } from './kdf.js';

export const PASSPHRASE_SALT_BYTES = 16;
export const PASSPHRASE_CHECK_BYTES = 16;
/** Shorter passphrases of the user's own are refused by export: a share file can be attacked offline. */
export const PASSPHRASE_MIN_CHARS = 16;
export const PASSPHRASE_MAX_CHARS = 1024;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SYMBOLS = 28;
const GROUP = 4;
// The letters people write for digits that Crockford's alphabet leaves out.
const ALIASES: Readonly<Record<string, string>> = { O: '0', I: '1', L: '1' };
const CHECK_LABEL = 'vsync share check v1';

const pbkdf2Async = promisify(pbkdf2);

/** 140 random bits as `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`. */
export function generatePassphrase(): string {
  // 256 is a multiple of 32, so `byte & 31` is uniform: no modulo bias.
  const symbols = [...randomBytes(SYMBOLS)].map((byte) => ALPHABET[byte & 31]!).join('');
  return grouped(symbols);
}

function grouped(symbols: string): string {
  return symbols.match(new RegExp(`.{${GROUP}}`, 'g'))!.join('-');
}

/**
 * The password the KDF sees: the passphrase in Unicode NFC; and when that, without spaces and dashes, is 28
 * base32 symbols in either ASCII case (O for 0, I or L for 1 allowed), their canonical grouped upper-case form.
 */
export function normalisePassphrase(passphrase: string): string {
  const text = passphrase.normalize('NFC');
  const compact = text
    .replace(/[ -]/g, '')
    // ASCII only: toUpperCase() alone would also turn "ı" into "I" and "ﬀ" into "FF".
    .replace(/[a-z]/g, (c) => c.toUpperCase())
    .replace(/[OIL]/g, (c) => ALIASES[c]!);
  if (compact.length === SYMBOLS && [...compact].every((c) => ALPHABET.includes(c))) return grouped(compact);
  return text;
}

/** Throws SHARE_PASSPHRASE_INVALID for an empty or oversized passphrase, or (`forExport`) a short one. */
export function assertPassphrase(passphrase: string, forExport: boolean): void {
  const length = [...normalisePassphrase(passphrase)].length;
  if (length === 0) throw new VsyncError('SHARE_PASSPHRASE_INVALID', 'it is empty');
  if (length > PASSPHRASE_MAX_CHARS)
    throw new VsyncError('SHARE_PASSPHRASE_INVALID', `${length} characters, at most ${PASSPHRASE_MAX_CHARS}`);
  if (forExport && length < PASSPHRASE_MIN_CHARS) {
    throw new VsyncError('SHARE_PASSPHRASE_INVALID', `${length} characters, at least ${PASSPHRASE_MIN_CHARS} needed`);
  }
}

/** PBKDF2-SHA256 over the normalised passphrase and the file's raw salt, with the vault KDF's iterations. */
export async function derivePassphraseKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  if (salt.length !== PASSPHRASE_SALT_BYTES) throw new RangeError(`salt must be ${PASSPHRASE_SALT_BYTES} bytes`);
  return pbkdf2Async(Buffer.from(normalisePassphrase(passphrase), 'utf8'), salt, KDF_ITERATIONS, AES_KEY_BYTES, 'sha256');
}

/**
 * A 16-byte fingerprint of the derived key, stored in the file's header so that a wrong passphrase is told
 * apart from an altered file (AES-GCM alone fails the same way for both). It gives an attacker no shortcut:
 * every guess still costs a full derivation, as it would against the ciphertext.
 */
export function passphraseCheck(aesKey: Buffer): Buffer {
  return createHmac('sha256', aesKey).update(CHECK_LABEL, 'utf8').digest().subarray(0, PASSPHRASE_CHECK_BYTES);
}

export function passphraseMatches(aesKey: Buffer, check: Buffer): boolean {
  const expected = passphraseCheck(aesKey);
  return check.length === expected.length && timingSafeEqual(check, expected);
}
