// Zip a vault folder into the bundle a push encrypts (DESIGN.md, "zip": entries relative to the repo root,
// regular files only). The output is a pure function of the folder's names and contents, so the same secrets
// always give the same bytes: no timestamps, no owner, no permissions from the disk.

import { resolve } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { deflateRawSync } from 'node:zlib';
import { vaultFolderPrefix } from './entry-names.js';
import { readFolderSnapshot, type SnapshotHooks } from './folder-snapshot.js';
import { treeDigest } from './tree-digest.js';
import { resolveBundleLimits, type BundleLimits } from './limits.js';

// Every entry carries the DOS epoch rather than the file's mtime: touching a file without changing it must
// not change the bundle. archiver writes UTC fields unless told otherwise, so the time zone cannot leak in.
const ENTRY_DATE = new Date(Date.UTC(1980, 0, 1, 0, 0, 0));

// What a pull writes back; the disk's own mode bits are not carried (a secret file is never group-readable).
const ENTRY_MODE = 0o600;

/** The bundle caps, and for tests only, hooks into the read (folder-snapshot.ts). */
export type ZipOptions = Partial<BundleLimits> & SnapshotHooks;

/**
 * The vault folder `vaultFolder` (relative to `repoRoot`, like `infra/vault/dev`) as zip bytes.
 *
 * Entries are the folder's regular files, recursively, but for editors' scratch files (editor-files.ts),
 * named relative to the repo root with forward slashes, in byte order of their UTF-8 names, deflated where
 * that pays (deflatePays) and stored otherwise, dated 1980-01-01 and mode 0600. Empty folders are not
 * represented. The caps in `limits` (defaults in limits.ts) are those unzipToStaging applies.
 *
 * Throws BUNDLE_SOURCE_INVALID when the folder is missing, is not a folder, lies outside the repo (also
 * through a symlinked parent), or holds anything but regular files and folders (a symlink, fifo, socket or
 * device is refused by name, never skipped: dropping it would lose data, following it could leak a file
 * from elsewhere), a file with more than one hard link (its other name may be outside the folder), or a name
 * no pull would accept; BUNDLE_TOO_LARGE when it exceeds a cap. The files are read as one snapshot
 * (folder-snapshot.ts): a folder that changes during two reads in a row is VAULT_CHANGED_DURING_PUSH.
 */
export async function zipFolder(repoRoot: string, vaultFolder: string, options?: ZipOptions): Promise<Buffer> {
  return (await bundleFolder(repoRoot, vaultFolder, options)).zip;
}

export interface FolderBundle {
  readonly zip: Buffer;
  /** treeDigest of exactly the bytes zipped (tree-digest.ts). */
  readonly digest: string;
  readonly files: number;
}

/** zipFolder, with the digest of the same bytes and the number of files, from one read of the folder. */
export async function bundleFolder(repoRoot: string, vaultFolder: string, options: ZipOptions = {}): Promise<FolderBundle> {
  const read = await readFolder(repoRoot, vaultFolder, options);
  return { zip: await read.zip(), digest: read.digest, files: read.files };
}

/**
 * One read of a vault folder: its digest and file count, and the zip of exactly what was read, built only
 * when asked. A push on save reads the folder once to decide whether it changed and pushes that same read.
 */
export interface FolderRead extends Omit<FolderBundle, 'zip'> {
  zip(): Promise<Buffer>;
}

/** The folder read as one snapshot (the refusals of zipFolder), its zip left for later. */
export async function readFolder(repoRoot: string, vaultFolder: string, options: ZipOptions = {}): Promise<FolderRead> {
  const { files, prefix } = await snapshot(repoRoot, vaultFolder, options);
  return { digest: digestOf(files, prefix), files: files.length, zip: () => zipFiles(files) };
}

/**
 * bundleFolder's digest and file count without building the zip: for the questions that only compare a
 * folder with a digest (unpushed edits? changed since it was backed up?). Same read, same refusals.
 */
export async function folderDigest(
  repoRoot: string,
  vaultFolder: string,
  limits: Partial<BundleLimits> = {},
): Promise<Omit<FolderBundle, 'zip'>> {
  const { digest, files } = await readFolder(repoRoot, vaultFolder, limits);
  return { digest, files };
}

// Deflate where it pays: an entry is deflated when its first SAMPLE_BYTES deflate to at most PAYS of their size
// (env files, JSON, PEM text do; keys, certificates in DER, random bytes do not), and stored otherwise. Below
// MIN_DEFLATE_BYTES the headers of a deflate stream cost more than it could save.
const SAMPLE_BYTES = 64 * 1024;
const PAYS = 0.9;
const MIN_DEFLATE_BYTES = 128;
const DEFLATE_LEVEL = 6;

/** Whether deflating `data` is worth it, judged on a sample so that a large incompressible file costs little. */
export function deflatePays(data: Buffer): boolean {
  if (data.length < MIN_DEFLATE_BYTES) return false;
  const sample = data.subarray(0, SAMPLE_BYTES);
  return deflateRawSync(sample, { level: DEFLATE_LEVEL }).length <= sample.length * PAYS;
}

async function zipFiles(files: ReadonlyArray<{ readonly name: string; readonly data: Buffer }>): Promise<Buffer> {
  // Deterministic for one zlib build (Node's own): the same folder gives the same bundle on this machine,
  // which is what the skipped backup and the skipped swap compare. Another Node's zlib may deflate to other
  // bytes; that only costs a swap that writes the same files.
  // archiver is loaded on the first push, not at the agent's start: an idle agent is ~15 MiB lighter.
  const { ZipArchive } = await import('archiver');
  const archive = new ZipArchive({ zlib: { level: DEFLATE_LEVEL } });
  const bytes = buffer(archive);
  for (const file of files) {
    archive.append(file.data, { name: file.name, date: ENTRY_DATE, mode: ENTRY_MODE, store: !deflatePays(file.data) });
  }
  const [zip] = await Promise.all([bytes, archive.finalize()]);
  return zip;
}

/** The folder's files as one snapshot, in byte order of their UTF-8 names. */
async function snapshot(repoRoot: string, vaultFolder: string, options: ZipOptions) {
  const { onListed, onRead, ...limits } = options;
  const caps = resolveBundleLimits(limits);
  const prefix = vaultFolderPrefix(vaultFolder);
  const hooks: SnapshotHooks = { ...(onListed ? { onListed } : {}), ...(onRead ? { onRead } : {}) };
  const files = await readFolderSnapshot(resolve(repoRoot), prefix, caps, hooks);
  files.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
  return { files, prefix };
}

/** treeDigest of the files by their names inside the vault folder. */
function digestOf(files: ReadonlyArray<{ readonly name: string; readonly data: Buffer }>, prefix: string): string {
  return treeDigest(files.map((f) => ({ name: f.name.slice(prefix.length + 1), data: f.data })));
}
