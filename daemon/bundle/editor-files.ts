// Files an editor leaves beside the one being edited: vim's swap files and its write test, backup copies,
// emacs's lock and auto-save files. They are not secrets the team shares: a bundle leaves them out (emacs's
// lock is a dangling symlink, which would otherwise make every push refuse the folder), and a watched
// folder does not push when only they change. docs/FORMAT.md §6 lists them.

const SCRATCH = [
  /~$/, // backups: .env.dev~
  /\.sw[a-px]$/, // vim swap files: .env.dev.swp, .swo, … and .swx
  /^4913$/, // vim's probe that the folder is writable
  /^\.#/, // emacs lock: .#.env.dev
  /^#.*#$/, // emacs auto-save: #.env.dev#
];

/** Whether a file's base name is an editor's scratch file. */
export function isEditorScratch(baseName: string): boolean {
  return SCRATCH.some((pattern) => pattern.test(baseName));
}
