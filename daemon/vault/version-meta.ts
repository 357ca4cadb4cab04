// A version's log entry (docs/FORMAT.md §14): who pushed it, from which machine, and what it holds, file by
// file with each dotenv value's length and fingerprint (never a value), so that `vsync log` can say what each
// version changed without downloading a single version. A sidecar object beside the versions, created only if
// absent, encrypted and sealed under the vault's key like a version: the version object's bytes are never
// touched, so the upstream tool and older vsyncs read the store as before, and a version pushed by them simply
// has no entry ("unknown").
import { z } from 'zod';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/validation.js';
import { decryptEnvelope, encryptEnvelope } from '../crypto/envelope.js';
import { seal, unseal } from '../crypto/seal.js';
import type { Storage } from '../storage/storage.js';
import type { Authorship } from './authorship.js';
import { byteOrder, type Contents } from './diff/compare.js';
import { logKey } from './remote-layout.js';

/** A log entry is a few KiB; this bounds what a hostile store can make the agent hold. */
export const MAX_META_BYTES = 1024 * 1024;

const Timestamp = z.string().regex(/^\d{8}-\d{6}$/);
// A key no dotenv file can have (util.parseEnv drops it), refused so that no parsed record gets a prototype.
const Name = z
  .string()
  .min(1)
  .max(4096)
  .refine((name) => name !== '__proto__', 'must not be __proto__');
const Masked = z.looseObject({ length: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{8}$/) });

export const VersionMetaSchema = z.looseObject({
  version: z.literal(1),
  ts: Timestamp,
  by: z.string().min(1).max(320),
  machine: z.looseObject({ id: z.string().regex(/^[0-9a-f]{16}$/), name: z.string().max(255).optional() }),
  files: z.record(
    Name,
    z.looseObject({
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      vars: z.record(Name, Masked).optional(),
    }),
  ),
  /** Set by `key rotate`: this version holds what version `reencrypted` held, under the new key. */
  reencrypted: Timestamp.optional(),
});
export type VersionMeta = z.infer<typeof VersionMetaSchema>;

/** The entry for version `ts`, pushed by `author`, holding `contents` (values already masked; none is kept). */
export function metaOf(ts: string, author: Authorship, contents: Contents, reencrypted?: string): VersionMeta {
  // Sorted by name (UTF-8 byte order), files and variables alike: one folder, one entry.
  const files: VersionMeta['files'] = {};
  for (const path of byteOrder([...contents.keys()])) {
    const file = contents.get(path)!;
    const vars =
      file.vars &&
      Object.fromEntries(
        byteOrder(Object.keys(file.vars)).map((name) => [name, { length: file.vars![name]!.length, hash: file.vars![name]!.hash }]),
      );
    files[path] = { size: file.size, sha256: file.sha256, ...(vars ? { vars } : {}) };
  }
  return { version: 1, ts, by: author.by, machine: { ...author.machine }, files, ...(reencrypted ? { reencrypted } : {}) };
}

/** What an entry says the version holds, as a diff compares it. */
export function metaContents(meta: VersionMeta): Contents {
  return new Map(Object.entries(meta.files));
}

/** The entry's object: the RQEM0001 seal (§5) of its JSON, in an RQE1 envelope (§3) under the vault's key. */
export function encodeMeta(aesKey: Buffer, meta: VersionMeta): Buffer {
  return encryptEnvelope(aesKey, seal(meta.ts, Buffer.from(JSON.stringify(VersionMetaSchema.parse(meta)), 'utf8')));
}

/** Writes the entry only if none is there (a version's entry is written once, by the push that won its name). */
export async function writeMeta(storage: Storage, repo: string, env: string, aesKey: Buffer, meta: VersionMeta): Promise<void> {
  await storage.putIfAbsent(logKey(repo, env, meta.ts), encodeMeta(aesKey, meta));
}

/**
 * The entry of version `ts`: undefined when there is none; 'invalid' when it is not one vsync wrote for that
 * version (junk, another version's entry under this name, an entry too large). DECRYPT_FAILED (another key)
 * and the store's errors are thrown.
 */
export async function readMeta(
  storage: Storage,
  repo: string,
  env: string,
  aesKey: Buffer,
  ts: string,
): Promise<VersionMeta | 'invalid' | undefined> {
  let body: Buffer;
  try {
    body = (await storage.get(logKey(repo, env, ts), { maxBytes: MAX_META_BYTES })).body;
  } catch (err) {
    if (isVsyncError(err, 'STORAGE_NOT_FOUND')) return undefined;
    if (isVsyncError(err, 'STORAGE_OBJECT_TOO_LARGE')) return 'invalid';
    throw err;
  }
  let plaintext: Buffer;
  try {
    plaintext = decryptEnvelope(aesKey, body);
  } catch (err) {
    if (isVsyncError(err, 'DECRYPT_FAILED')) throw err; // another key, or altered: the caller tells which
    return 'invalid';
  }
  try {
    const sealed = unseal(plaintext);
    const parsed = VersionMetaSchema.safeParse(JSON.parse(sealed.payload.toString('utf8')));
    if (!parsed.success) throw new VsyncError('SEAL_INVALID', describeIssues(parsed.error));
    if (sealed.ts !== ts || parsed.data.ts !== ts) return 'invalid';
    return parsed.data;
  } catch {
    return 'invalid';
  }
}
