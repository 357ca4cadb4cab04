// Where the bundled CLI and its V8 code cache live, and how a cache names the build it was made for: read by
// the launcher (launcher.ts) and written by `npm run bundle` (scripts/bundle.mjs).

/** The bundled CLI, beside the launcher. */
export const BODY = 'vsync-main.cjs';
/** V8's code cache for it: the body's build line, then V8's bytes. */
export const CACHE = `${BODY}.v8cache`;

const PREFIX = '//# vsync-build=';
/** The body's last line and the cache's first bytes: the prefix and a SHA-256 of the rest of the body, in hex. */
export const BUILD_LINE_BYTES = PREFIX.length + 64;

export function buildLine(sha256Hex: string): string {
  return `${PREFIX}${sha256Hex}`;
}
