// The per-(repo, env) key and the per-vault salt, as the texts vsync stores (docs/FORMAT.md §Keys).
// Both are kept as base64 *text*: the derivation uses the UTF-8 bytes of the texts, not the decoded bytes,
// for byte compatibility with the upstream tool.
import { randomBytes } from 'node:crypto';
import { VsyncError } from '../../shared/errors.js';

export const KEY_BYTES = 32;
export const SALT_BYTES = 16;
const SALT_MIN_BYTES = 16;
const SALT_MAX_BYTES = 18;

const STANDARD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A new key: 32 random bytes as standard base64 text (44 characters). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** A new salt: 16 random bytes as standard base64 text. */
export function generateSalt(): string {
  return randomBytes(SALT_BYTES).toString('base64');
}

/** Decodes strictly: Node's decoder skips junk characters, so re-encoding must give the text back. */
function decodedLength(text: string): number | undefined {
  if (text.length % 4 !== 0 || !STANDARD_BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes.length : undefined;
}

/** Whether `text` is a key as generateKey makes it (the schemas' refinement; assertKeyText says why not). */
export function isKeyText(text: string): boolean {
  return decodedLength(text) === KEY_BYTES;
}

/** Throws KEY_INVALID unless `text` is a key as generateKey makes it. Never echoes the text. */
export function assertKeyText(text: string): void {
  if (!isKeyText(text)) {
    throw new VsyncError('KEY_INVALID', `expected 44 base64 characters, got ${text.length} characters`);
  }
}

/** Whether `text` is 16 to 18 bytes as standard base64 text. */
export function isSaltText(text: string): boolean {
  const n = decodedLength(text);
  return n !== undefined && n >= SALT_MIN_BYTES && n <= SALT_MAX_BYTES;
}

/** Throws SALT_INVALID unless `text` is 16 to 18 bytes as standard base64 text. */
export function assertSaltText(text: string): void {
  if (!isSaltText(text)) {
    throw new VsyncError('SALT_INVALID', `got ${JSON.stringify(text.slice(0, 32))}`);
  }
}
