// Starting remote work before local work that may fail first (a push reads the pointer while it zips the
// folder; a pull downloads while it backs up), without letting the remote failure go unhandled meanwhile.

/**
 * `promise`, to be awaited later: marked handled now, so that its failure cannot surface as an unhandled
 * rejection while the caller does other work (or throws before awaiting it). Awaiting it still throws.
 */
export function settleLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
