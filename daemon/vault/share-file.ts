// The share file (docs/FORMAT.md §12): what `vsync key export` writes for a teammate, a vault's key and
// config under a passphrase. Bytes in, bytes out; reading and writing files is key-share.ts's job.
//
//   RQES0001 · 16-byte salt · 16-byte passphrase check · u32 BE envelope length · RQE1 envelope (§3)
//
// The envelope is the one every vsync object uses, under PBKDF2(passphrase, salt); its plaintext is the JSON
// {repo, env, key, config}. The check and the length are there so that each way a file goes wrong gets its
// own error: a wrong passphrase, a file cut short, bytes altered.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { ENV_NAME, REPO_NAME } from '../../shared/names.js';
import { describeIssues } from '../../shared/validation.js';
import { ENVELOPE_OVERHEAD, decryptEnvelope, encryptEnvelope } from '../crypto/envelope.js';
import { isKeyText } from '../crypto/key.js';
import {
  PASSPHRASE_CHECK_BYTES,
  PASSPHRASE_SALT_BYTES,
  derivePassphraseKey,
  passphraseCheck,
  passphraseMatches,
} from '../crypto/passphrase.js';
import { ConfigSchema, type Config } from './config.js';

export const SHARE_MAGIC = Buffer.from('RQES0001', 'ascii');
const FAMILY = SHARE_MAGIC.subarray(0, 4);
const SALT_AT = SHARE_MAGIC.length;
const CHECK_AT = SALT_AT + PASSPHRASE_SALT_BYTES;
const LENGTH_AT = CHECK_AT + PASSPHRASE_CHECK_BYTES;
export const SHARE_HEADER_BYTES = LENGTH_AT + 4;
/** A share holds one key and one config: a few hundred bytes. Anything near this is not a share file. */
export const MAX_SHARE_FILE_BYTES = 64 * 1024;

const ShareSchema = z.looseObject({
  repo: z.string().regex(REPO_NAME, 'must be a repo name (a-z, 0-9, "." and "_")'),
  env: z.string().regex(ENV_NAME, 'must be an env name like dev'),
  key: z.string().refine(isKeyText, 'must be a key: 44 characters of standard base64'),
  config: ConfigSchema,
});

/** What a share file carries: one vault's names, its key text and its config. */
export interface Share {
  readonly repo: string;
  readonly env: string;
  readonly key: string;
  readonly config: Config;
}

/** The plaintext vsync writes: compact JSON, fields in this order. */
export function encodeShare(share: Share): Buffer {
  return Buffer.from(JSON.stringify({ repo: share.repo, env: share.env, key: share.key, config: share.config }), 'utf8');
}

export function decodeShare(plaintext: Buffer): Share {
  let json: unknown;
  try {
    json = JSON.parse(plaintext.toString('utf8'));
  } catch (cause) {
    throw new VsyncError('SHARE_FILE_INVALID', 'it decrypts, but not to JSON', { cause });
  }
  const parsed = ShareSchema.safeParse(json);
  if (!parsed.success) throw new VsyncError('SHARE_FILE_INVALID', `it decrypts, but ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export interface SealOptions {
  /** For test vectors only: production callers leave both out and get fresh random bytes. */
  readonly salt?: Buffer;
  readonly iv?: Buffer;
}

/** The share file's bytes for `plaintext` under `passphrase`. */
export async function sealShareFile(plaintext: Buffer, passphrase: string, options: SealOptions = {}): Promise<Buffer> {
  const salt = options.salt ?? randomBytes(PASSPHRASE_SALT_BYTES);
  const aesKey = await derivePassphraseKey(passphrase, salt);
  const envelope = options.iv ? encryptEnvelope(aesKey, plaintext, options.iv) : encryptEnvelope(aesKey, plaintext);
  // As a writer SHOULD (FORMAT.md §3): what goes to disk opens to what was meant.
  if (!decryptEnvelope(aesKey, envelope).equals(plaintext))
    throw new VsyncError('INTERNAL', 'a share file did not decrypt to what was encrypted');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(envelope.length);
  return Buffer.concat([SHARE_MAGIC, salt, passphraseCheck(aesKey), length, envelope]);
}

/**
 * The plaintext of a share file. Checks, in this order: the magic, the length, the passphrase, then the
 * GCM tag; no plaintext is returned before the tag verified.
 */
export async function openShareFile(file: Buffer, passphrase: string): Promise<Buffer> {
  const minimum = SHARE_HEADER_BYTES + ENVELOPE_OVERHEAD;
  if (file.length < SHARE_MAGIC.length) {
    throw new VsyncError('SHARE_FILE_INVALID', `${file.length} bytes is too short for a share file (${minimum} at least)`);
  }
  const magic = file.subarray(0, SHARE_MAGIC.length);
  if (!magic.equals(SHARE_MAGIC)) {
    if (magic.subarray(0, FAMILY.length).equals(FAMILY)) {
      throw new VsyncError(
        'SHARE_FILE_INVALID',
        `share file version ${JSON.stringify(magic.toString('latin1', FAMILY.length))} is not supported by this vsync`,
        {
          hint: 'the file was written by a newer vsync: upgrade vsync to import it',
        },
      );
    }
    throw new VsyncError('SHARE_FILE_INVALID', `it starts with 0x${magic.toString('hex')}, not RQES0001`);
  }
  if (file.length < minimum) throw new VsyncError('SHARE_FILE_INVALID', `cut short: ${file.length} bytes, ${minimum} at least`);
  const declared = file.readUInt32BE(LENGTH_AT);
  const envelope = file.subarray(SHARE_HEADER_BYTES);
  if (envelope.length < declared)
    throw new VsyncError('SHARE_FILE_INVALID', `cut short: ${file.length} bytes of ${SHARE_HEADER_BYTES + declared}`);
  if (envelope.length > declared)
    throw new VsyncError('SHARE_FILE_INVALID', `${envelope.length - declared} bytes too many after the end of the share`);

  const aesKey = await derivePassphraseKey(passphrase, file.subarray(SALT_AT, CHECK_AT));
  if (!passphraseMatches(aesKey, file.subarray(CHECK_AT, LENGTH_AT))) throw new VsyncError('SHARE_PASSPHRASE_WRONG');
  try {
    return decryptEnvelope(aesKey, envelope);
  } catch (err) {
    if (!isVsyncError(err)) throw err;
    const what = err.code === 'DECRYPT_FAILED' ? 'the passphrase is right, but the encrypted part was altered or damaged' : err.message;
    throw new VsyncError('SHARE_FILE_INVALID', what, { cause: err });
  }
}
