// A digest of a vault folder's contents — its files' names (relative to the vault folder) and bytes —
// that does not depend on how a zip encoded them. A machine compares the folder's digest now with the one
// it recorded at its last push or pull to tell unpushed edits from none, so its value for a given folder
// must never change: sha256 over, per file in byte order of its UTF-8 name, `name \0 sha256(bytes) \n`.
import { createHash } from 'node:crypto';
import { VsyncError } from '../../shared/errors.js';

/** A file by its bytes. */
export interface TreeFile {
  /** Relative to the vault folder, `/`-separated. */
  readonly name: string;
  readonly data: Buffer;
}

/** A file by the SHA-256 of its bytes (fileSha256), taken while it was read: its bytes need not be held. */
export interface HashedTreeFile {
  /** Relative to the vault folder, `/`-separated. */
  readonly name: string;
  readonly sha256: Buffer;
}

/** The per-file hash treeDigest takes: SHA-256 of the file's bytes (32 bytes). */
export function fileSha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export function treeDigest(files: Iterable<TreeFile | HashedTreeFile>): string {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
  const outer = createHash('sha256');
  for (const file of sorted) {
    const sha256 = 'sha256' in file ? file.sha256 : fileSha256(file.data);
    if (sha256.length !== 32) throw new VsyncError('INTERNAL', `treeDigest: ${file.name} has a ${sha256.length}-byte hash, not a SHA-256`);
    outer.update(file.name, 'utf8').update('\0').update(sha256).update('\n');
  }
  return outer.digest('hex');
}
