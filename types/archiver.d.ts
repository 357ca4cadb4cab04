// archiver 8 ships no type declarations. This declares only what daemon/bundle uses; see
// node_modules/archiver/lib/core.js and lib/plugins/zip.js for the rest.

declare module 'archiver' {
  import type { Readable } from 'node:stream';

  export interface ZipOptions {
    /** Store every entry uncompressed (compression method 0). */
    store?: boolean;
    /** Archive comment. */
    comment?: string;
    /** Write DOS times in local time instead of UTC (default false). */
    forceLocalTime?: boolean;
    /** Options for the deflate of entries not stored (Node's zlib options, e.g. `level`). */
    zlib?: { level?: number };
  }

  export interface ZipEntryData {
    /** The entry's name inside the archive; archiver strips a leading `/`, `../` or drive letter. */
    name: string;
    /** The entry's modification time (default: now). */
    date?: Date;
    /** Permission bits (file type bits are added by archiver). */
    mode?: number;
    /** Store this entry uncompressed (method 0) instead of deflating it; default: the archive's `store`. */
    store?: boolean;
  }

  /**
   * A readable stream of zip bytes: append entries, then finalize. Entries are written one at a time, in the
   * order appended; the event `entry` (with the entry's data) follows each once it is written in full (a
   * stream source has ended), and `error` reports a failure.
   */
  export class ZipArchive extends Readable {
    constructor(options?: ZipOptions);
    /**
     * Queues an entry; errors are emitted on the stream. A stream source is piped into a buffer at once and
     * read when its turn comes; archiver does not watch its errors. A stored entry from a stream gets a data
     * descriptor (its sizes and CRC after its bytes), one from a Buffer has them in its local header.
     */
    append(source: Buffer | Readable | string, data: ZipEntryData): this;
    /** Queues a symlink entry (the tests build hostile archives with it). */
    symlink(filepath: string, target: string, mode?: number): this;
    /** Closes the entry list; resolves once the archive has been written, rejects on error. */
    finalize(): Promise<void>;
    /** Stops without finishing the archive. */
    abort(): this;
  }
}
