// A diff in one line, for the messages that must say what differs without listing it all: a push or a
// watch meeting a remote that moved, a pull refusing to replace unpushed edits. Names only, never values.
import type { FileChange } from '../../../shared/api.js';

const FILES_SHOWN = 6;
const KEYS_SHOWN = 6;
const MARK = { added: '+', removed: '-', changed: '~' } as const;

/** `.env.dev (+NEW_KEY, ~DB_PASSWORD), certs/a.pem (added), 2 more files`; `no file differs` for none. */
export function summarise(changes: readonly FileChange[]): string {
  if (changes.length === 0) return 'no file differs';
  const shown = changes.slice(0, FILES_SHOWN).map((file) => {
    if (file.keys === undefined || file.change !== 'changed') return `${file.path} (${file.change})`;
    if (file.keys.length === 0) return `${file.path} (comments or layout only)`;
    const keys = file.keys.slice(0, KEYS_SHOWN).map((key) => `${MARK[key.change]}${key.name}`);
    if (file.keys.length > KEYS_SHOWN) keys.push(`${file.keys.length - KEYS_SHOWN} more`);
    return `${file.path} (${keys.join(', ')})`;
  });
  const more = changes.length - FILES_SHOWN;
  if (more > 0) shown.push(`${more} more file${more === 1 ? '' : 's'}`);
  return shown.join(', ');
}
