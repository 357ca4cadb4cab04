// The names already in a bundle, to refuse an entry that would land on top of another one. Checked on the
// whole list before anything is written, so a clash is a clean refusal rather than a half-written folder.

import { collisionKey, showName } from './entry-names.js';

export class EntrySet {
  // collision key → the name as first seen (for the message)
  private readonly files = new Map<string, string>();
  // folders listed in the archive or implied by a file's path
  private readonly folders = new Map<string, string>();
  // folders the archive lists explicitly, by exact name: a second listing is a duplicate entry
  private readonly listedFolders = new Set<string>();

  /** Adds a file (a checked relative path); returns why it cannot be added, if it cannot. */
  addFile(path: string): string | undefined {
    const key = collisionKey(path);
    const file = this.files.get(key);
    if (file !== undefined) return clash(path, file);
    const folder = this.folders.get(key);
    if (folder !== undefined) return `${showName(path)} is both a file and a folder`;
    const problem = this.addParents(path);
    if (problem !== undefined) return problem;
    this.files.set(key, path);
    return undefined;
  }

  /** Adds a folder (a checked relative path, no trailing slash); returns why it cannot be added, if it cannot. */
  addFolder(path: string): string | undefined {
    if (this.listedFolders.has(path)) return `${showName(path + '/')} appears twice`;
    const key = collisionKey(path);
    const file = this.files.get(key);
    if (file !== undefined) return `${showName(path)} is both a file and a folder`;
    const problem = this.addParents(path);
    if (problem !== undefined) return problem;
    this.listedFolders.add(path);
    // Folders differing only in case merge on a case-insensitive disk, which loses nothing (their files are
    // checked one by one), so they are not a clash.
    if (!this.folders.has(key)) this.folders.set(key, path);
    return undefined;
  }

  private addParents(path: string): string | undefined {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join('/');
      const key = collisionKey(parent);
      if (this.files.has(key)) return `${showName(parent)} is both a file and a folder`;
      if (!this.folders.has(key)) this.folders.set(key, parent);
    }
    return undefined;
  }
}

function clash(path: string, earlier: string): string {
  return path === earlier
    ? `${showName(path)} appears twice`
    : `${showName(path)} and ${showName(earlier)} would be the same file on a case-insensitive disk`;
}
