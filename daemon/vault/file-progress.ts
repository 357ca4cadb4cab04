// How far this process has written a file that is read while it is written (storage.ts GrowingFile): the
// writer reports each write, its end or its failure, and readers wait for bytes past where they are.
import type { GrowingFile } from '../storage/storage.js';

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class FileProgress implements GrowingFile {
  #written = 0;
  #done = false;
  #failure: { readonly error: unknown } | undefined;
  #waiters: Waiter[] = [];

  get done(): boolean {
    return this.#done;
  }

  beyond(bytes: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    if (this.#done || this.#written > bytes) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ bytes, resolve, reject }));
  }

  /** `bytes` more are in the file (written, not necessarily flushed: readers of this machine see them). */
  advance(bytes: number): void {
    this.#written += bytes;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (this.#written > waiter.bytes) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }

  /** The writer is done: every reader waiting goes on to the file's end. */
  finish(): void {
    this.#done = true;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  /** The writer failed: every reader, now and later, gets its error. */
  fail(error: unknown): void {
    this.#done = true;
    this.#failure = { error };
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
