// The bytes of a bundle being pulled, in memory or in a file, behind one small interface, so the checks in
// central-directory.ts and the extraction are the same code whichever it is. A file is read through the one
// descriptor opened here until close: every check and every extracted byte come from the same file, even if
// its name is replaced meanwhile. Reads are bounded chunks, so memory does not grow with the archive.

import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { VsyncError } from '../../shared/errors.js';

/**
 * A zip: its bytes, or a file holding them. The file must be a regular file that nothing writes while it is
 * read (a pull keeps its decrypted, verified archive as a 0600 file in a 0700 folder only the agent writes).
 * Its size is taken once, when it is opened: a read that then finds it shorter fails with INTERNAL, rather
 * than passing for a damaged zip.
 */
export type ZipInput = Buffer | { readonly path: string };

export interface ZipSource {
  /** The archive's length in bytes: the buffer's, or the file's when it was opened. */
  readonly size: number;
  /** Exactly `length` bytes from `offset`; the range must lie inside the archive. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * `length` bytes from `offset` (to the end when `length` is absent or 0, as unzipper asks), clamped to the
   * archive, for unzipper's Open.custom. Never emits 'error': unzipper pipes these streams without listening
   * for one, so it would be uncaught. A failed read ends the stream early instead, which unzipper then reports
   * as a short archive, and is kept in `failure` so the caller can report the real cause.
   */
  stream(offset: number, length?: number): Readable;
  /** The first read error a stream met, if any: the cause to report over whatever unzipper made of it. */
  readonly failure: unknown;
  /** Releases the file. Streams still open end at their next read. Never rejects. */
  close(): Promise<void>;
}

// A stream's largest read; also what one stream may hold before unzipper takes it.
const CHUNK = 64 * 1024;

/** Up to `length` bytes at `position`; fewer only at the end of the bytes. */
type ReadAt = (position: number, length: number) => Promise<Buffer>;

/**
 * Opens `zip` for reading; the caller closes it once done with everything read from it (the entries'
 * streams included). A file that cannot be opened, or is not a regular file, is refused with INTERNAL: the
 * agent wrote it, so its absence is a bug, not a damaged bundle.
 */
export async function openZipSource(zip: ZipInput): Promise<ZipSource> {
  if (Buffer.isBuffer(zip)) {
    const readAt: ReadAt = async (position, length) => zip.subarray(position, position + length);
    return sourceOver(zip.length, readAt, async () => {});
  }
  let handle: FileHandle;
  try {
    handle = await open(zip.path, 'r');
  } catch (err) {
    throw new VsyncError('INTERNAL', `the archive ${zip.path} cannot be opened (${errorText(err)})`, { cause: err });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new VsyncError('INTERNAL', `the archive ${zip.path} is not a regular file`);
    const readAt: ReadAt = async (position, length) => {
      const { bytesRead, buffer } = await handle.read(Buffer.alloc(length), 0, length, position);
      return buffer.subarray(0, bytesRead);
    };
    return sourceOver(stats.size, readAt, () => handle.close());
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

function sourceOver(size: number, readAt: ReadAt, release: () => Promise<void>): ZipSource {
  let closed = false;
  let failure: unknown;
  return {
    size,
    get failure() {
      return failure;
    },

    async read(offset, length) {
      const inside = Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size;
      if (closed || !inside) throw new VsyncError('INTERNAL', `read of ${length} bytes at ${offset} from a ${size}-byte archive`);
      const parts: Buffer[] = [];
      for (let done = 0; done < length; ) {
        const part = await readAt(offset + done, length - done);
        if (part.length === 0) throw shrank(size);
        parts.push(part);
        done += part.length;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
    },

    stream(offset, length) {
      const start = Number.isSafeInteger(offset) && offset >= 0 ? Math.min(offset, size) : size;
      const end = length ? Math.min(start + length, size) : size;
      let position = start;
      return new Readable({
        highWaterMark: CHUNK,
        read() {
          if (closed || !(position < end)) {
            this.push(null);
            return;
          }
          readAt(position, Math.min(CHUNK, end - position)).then(
            (chunk) => {
              if (chunk.length === 0) {
                if (!closed) failure ??= shrank(size);
                this.push(null);
                return;
              }
              position += chunk.length;
              this.push(chunk);
            },
            (err) => {
              if (!closed) failure ??= err;
              this.push(null);
            },
          );
        },
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      // Opened read-only: a failed close loses nothing, and must not replace the outcome being returned.
      await release().catch(() => {});
    },
  };
}

function shrank(size: number): VsyncError {
  return new VsyncError('INTERNAL', `the archive became shorter than its ${size} bytes while being read`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
