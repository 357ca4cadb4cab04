// What a vault holds, file by file, without writing a byte anywhere: each file's name (relative to the vault
// folder), size and SHA-256, and the bytes of the few files a caller keeps (the dotenv files a diff compares
// key by key, the one file `run --latest` passes on). Read from a bundle with the checks of an extraction
// (unzip-to-staging.ts: every entry judged on the central directory first, sizes counted, checksums checked),
// or from a vault folder with the snapshot a push takes (folder-snapshot.ts). Large files are hashed as they
// stream, so memory holds only what is kept.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { vaultFolderPrefix } from './entry-names.js';
import { readFolderSnapshot } from './folder-snapshot.js';
import { resolveBundleLimits, type BundleLimits } from './limits.js';
import { readCentralDirectory } from './central-directory.js';
import { fileSha256 } from './tree-digest.js';
import { EntryGuard, WHOLE_ENTRY_BYTES, planWrites, readWhole } from './unzip-to-staging.js';
import { openZipSource, type ZipInput } from './zip-source.js';

/** The largest file whose bytes are kept: a larger one is only hashed, whatever `keep` says. */
export const KEPT_FILE_BYTES = WHOLE_ENTRY_BYTES;

export interface ContentFile {
  /** Relative to the vault folder, `/`-separated. */
  readonly path: string;
  readonly size: number;
  readonly sha256: Buffer;
  /** The file's bytes, when `keep` asked for them and it holds at most KEPT_FILE_BYTES. */
  readonly data?: Buffer;
}

/** Which files to keep the bytes of, by their path in the vault folder. */
export type KeepFile = (path: string) => boolean;

/**
 * The files of a bundle, in byte order of their names. Refused as an extraction would refuse the bundle
 * (BUNDLE_CORRUPT, BUNDLE_TOO_LARGE, BUNDLE_UNSAFE_ENTRY, BUNDLE_NAME_TOO_LONG). `folder` is where the vault
 * folder would be, for the length of names.
 */
export async function bundleContents(
  zip: ZipInput,
  vaultFolder: string,
  folder: string,
  limits: Partial<BundleLimits>,
  keep: KeepFile,
): Promise<ContentFile[]> {
  const caps = resolveBundleLimits(limits);
  const source = await openZipSource(zip);
  try {
    const plan = planWrites(await readCentralDirectory(source, caps), vaultFolderPrefix(vaultFolder), caps, resolve(folder));
    const files: ContentFile[] = [];
    for (const { kind, path, entry } of plan) {
      if (kind !== 'file') continue;
      if (entry.uncompressedSize <= WHOLE_ENTRY_BYTES && entry.compressedSize <= WHOLE_ENTRY_BYTES) {
        const data = await readWhole(source, entry);
        files.push({ path, size: data.length, sha256: fileSha256(data), ...(keep(path) ? { data } : {}) });
        continue;
      }
      const stream = entry.open();
      stream.on('error', () => {}); // as in unzip-to-staging.ts writeEntry: a late error from unzipper's inner streams
      const guard = new EntryGuard(entry);
      await pipeline(stream, guard, discard());
      files.push({ path, size: entry.uncompressedSize, sha256: guard.sha256 });
    }
    return sortByPath(files);
  } catch (err) {
    throw source.failure ?? err;
  } finally {
    await source.close();
  }
}

/**
 * The files of the vault folder `vaultFolder` under `repoRoot` as one snapshot (the refusals of a push's read:
 * BUNDLE_SOURCE_INVALID, BUNDLE_TOO_LARGE, VAULT_CHANGED_DURING_PUSH). A file to keep that the snapshot
 * only hashed (its bytes past the snapshot's bound) is read again, and kept only if it still hashes the same.
 */
export async function folderContents(
  repoRoot: string,
  vaultFolder: string,
  limits: Partial<BundleLimits>,
  keep: KeepFile,
): Promise<ContentFile[]> {
  const prefix = vaultFolderPrefix(vaultFolder);
  const { files } = await readFolderSnapshot(resolve(repoRoot), prefix, resolveBundleLimits(limits));
  const contents = await Promise.all(
    files.map(async (file): Promise<ContentFile> => {
      const path = file.name.slice(prefix.length + 1);
      const described = { path, size: file.size, sha256: file.sha256 };
      if (!keep(path) || file.size > KEPT_FILE_BYTES) return described;
      const data = file.data ?? (await readFile(join(resolve(repoRoot), ...file.name.split('/'))).catch(() => undefined));
      return data !== undefined && fileSha256(data).equals(file.sha256) ? { ...described, data } : described;
    }),
  );
  return sortByPath(contents);
}

function sortByPath(files: ContentFile[]): ContentFile[] {
  return files.sort((a, b) => Buffer.compare(Buffer.from(a.path, 'utf8'), Buffer.from(b.path, 'utf8')));
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}
