// Watching one checkout's vault folder with chokidar (fs.watch underneath: inotify on Linux, FSEvents on
// macOS; never polling). It watches from the repo root down the vault folder's path, and nothing beside it:
// a pull swaps a new folder in by rename, and a user may delete the folder or a parent and put it back,
// so watching the folder itself would lose it. Editors' scratch files are not changes (editor-files.ts).
import { relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isEditorScratch } from '../bundle/editor-files.js';

export interface FolderWatcherOptions {
  /** The repo root (absolute). */
  readonly root: string;
  /** The vault folder relative to the root, `/`-separated (`infra/vault/dev`). */
  readonly vaultFolder: string;
  /** Something in the vault folder (or on the path to it) was added, changed or removed. */
  readonly onChange: () => void;
  readonly onError: (error: Error) => void;
}

export class FolderWatcher {
  private constructor(private readonly watcher: FSWatcher) {}

  /** Resolves once the watches are in place, so a change made after it is seen. */
  static async start(options: FolderWatcherOptions): Promise<FolderWatcher> {
    const { root, vaultFolder } = options;
    const ignored = (path: string): boolean => {
      const rel = relative(root, path).split(sep).join('/');
      if (rel === '' || vaultFolder.startsWith(`${rel}/`)) return false; // the root and the folders on the way
      if (rel !== vaultFolder && !rel.startsWith(`${vaultFolder}/`)) return true; // beside the path: not ours
      return isEditorScratch(rel.slice(rel.lastIndexOf('/') + 1));
    };
    const watcher = watch(root, { ignoreInitial: true, ignored, followSymlinks: false, usePolling: false, persistent: true });
    watcher.on('all', () => options.onChange());
    watcher.on('error', (error) => options.onError(error instanceof Error ? error : new Error(String(error))));
    await new Promise<void>((resolve) => watcher.once('ready', resolve));
    return new FolderWatcher(watcher);
  }

  close(): Promise<void> {
    return this.watcher.close();
  }
}
