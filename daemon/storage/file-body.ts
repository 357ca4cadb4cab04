// A FileBody (storage.ts) read to be stored, the same way by every adapter: exactly `size` bytes or an error,
// each chunk shown to the body's inspector before it is handed on, and the last one handed on only once the
// inspector passed them all. So a push's check of its version sees the very bytes the store receives, while
// they are sent, and a version that fails it is never whole at the store: an S3 server never gets the length
// it was promised, and the directory store never links its temp file into place.
import { open, type FileHandle } from 'node:fs/promises';
import { VsyncError, isVsyncError } from '../../shared/errors.js';
import { errnoOf } from '../fs/errno.js';
import { cancelled, type FileBody } from './storage.js';

// Fresh buffers, since the S3 SDK may still hold one when the next is read; this size reuses the allocator's
// free chunks, where a larger one would be mapped (and faulted in) afresh each time.
const CHUNK_BYTES = 64 * 1024;

/**
 * The bytes of `body`'s file in order, in chunks of at most 64 KiB, one chunk behind the reads: a chunk is
 * handed on when the next read returned, the last once the file ended at exactly `size` bytes (a growing
 * file: once its writer finished) and the inspector's `end` returned. Reading stops one byte past the size.
 * `what` names the write for a cancelled `signal`. Throws STORAGE_PERMANENT for a file it cannot read or that is not `size` bytes (it changed), and
 * the inspector's own error as it is.
 */
export async function* fileBodyChunks(body: FileBody, what: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const inspector = body.inspect?.();
  let handle: FileHandle;
  try {
    handle = await open(body.path, 'r');
  } catch (err) {
    throw unreadable(body, err);
  }
  try {
    let held: Buffer | undefined;
    let unused: Buffer | undefined; // a buffer a read left empty, kept for the read after a wait
    let position = 0;
    for (;;) {
      if (signal?.aborted) throw cancelled(what, signal);
      const chunk = unused ?? Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, body.size + 1 - position)));
      unused = undefined;
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(chunk, 0, chunk.length, position));
      } catch (err) {
        throw unreadable(body, err);
      }
      if (bytesRead === 0) {
        // At the end of a file still being written: wait for its writer (its error is this write's), then read
        // on from here.
        if (body.growing !== undefined && position < body.size) {
          const writing = !body.growing.done;
          await body.growing.beyond(position);
          unused = chunk;
          if (writing) continue;
        }
        break;
      }
      position += bytesRead;
      if (position > body.size) throw fileChanged(body);
      const read = chunk.subarray(0, bytesRead);
      inspector?.update(read);
      if (held !== undefined) yield held;
      held = read;
    }
    if (position !== body.size) throw fileChanged(body);
    await inspector?.end();
    if (held !== undefined) yield held;
  } finally {
    await handle.close();
  }
}

/** The refusal of a FileBody whose file is not the size it was said to be: something changed it meanwhile. */
function fileChanged(file: FileBody): VsyncError {
  return new VsyncError('STORAGE_PERMANENT', `${file.path} is not the ${file.size} bytes it was: the file changed while it was uploaded`, {
    hint: 'something else wrote to the file vsync was uploading; try again',
  });
}

function unreadable(file: FileBody, err: unknown): VsyncError {
  if (isVsyncError(err)) return err;
  return new VsyncError('STORAGE_PERMANENT', `reading ${file.path}: ${errnoOf(err) ?? 'unknown'}`, {
    cause: err,
    hint: 'vsync could not read the file it was uploading; try again',
  });
}
