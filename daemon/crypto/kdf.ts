// PBKDF2-SHA256 from the key text and the salt text to the AES-256 key (docs/FORMAT.md §Derivation).
// 600,000 iterations cost ~0.3 s of CPU, which is why the agent derives once per vault and keeps the result.
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { assertKeyText, assertSaltText } from './key.js';

export const KDF_ITERATIONS = 600_000;
export const AES_KEY_BYTES = 32;

const pbkdf2Async = promisify(pbkdf2);

/** Derives on libuv's thread pool so an agent serving other requests is not blocked. */
export async function deriveKey(keyText: string, saltText: string): Promise<Buffer> {
  assertKeyText(keyText);
  assertSaltText(saltText);
  return pbkdf2Async(Buffer.from(keyText, 'utf8'), Buffer.from(saltText, 'utf8'), KDF_ITERATIONS, AES_KEY_BYTES, 'sha256');
}
