// A digest of a vault folder's contents — its files' names (relative to the vault folder) and bytes —
// that does not depend on how a zip encoded them. A machine compares the folder's digest now with the one
// it recorded at its last push or pull to tell unpushed edits from none.
import { createHash } from 'node:crypto';

export interface TreeFile {
  /** Relative to the vault folder, `/`-separated. */
  readonly name: string;
  readonly data: Buffer;
}

export function treeDigest(files: Iterable<TreeFile>): string {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
  const outer = createHash('sha256');
  for (const file of sorted) {
    outer.update(file.name, 'utf8').update('\0').update(createHash('sha256').update(file.data).digest()).update('\n');
  }
  return outer.digest('hex');
}
