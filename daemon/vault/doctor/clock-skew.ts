// How far this machine's clock is from the store's, and whether that matters. The store's clock is read from
// the Last-Modified time it gives the doctor's scratch object: every store stamps a write with its own clock,
// so this works through the Storage interface alike for S3 (any server) and the directory store (the file's
// mtime: the same machine, or the file server's clock on a network share).
//
// Why these bounds: version names are this machine's UTC time (`max(now, remote latest + 1 s)`), so a clock
// minutes off names versions minutes off; and S3 refuses requests signed more than 15 minutes off
// (RequestTimeTooSkewed). Last-Modified has whole seconds, so a second either way is no skew.
import type { DoctorCheck } from '../../../shared/api.js';
import { VsyncError } from '../../../shared/errors.js';

export const WARN_SKEW_MS = 2 * 60_000;
export const FAIL_SKEW_MS = 15 * 60_000;

/**
 * The store's clock minus ours, in ms: 0 when the store's stamp falls within the time the write took by our
 * clock (widened by the second Last-Modified drops).
 */
export function skewMs(store: Date, before: Date, after: Date): number {
  const s = store.getTime();
  if (s < before.getTime() - 1000) return s - (before.getTime() - 1000);
  if (s > after.getTime()) return s - after.getTime();
  return 0;
}

/** `42 s`, `3 min 20 s`, `2 h 5 min`. */
export function formatSkew(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 120) return s % 60 === 0 ? `${min} min` : `${min} min ${s % 60} s`;
  const h = Math.floor(min / 60);
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
}

export function clockCheck(skew: number): DoctorCheck {
  if (Math.abs(skew) < 1000) return { name: 'clock', status: 'ok', detail: "within a second of the store's" };
  const detail = `the store's clock is ${formatSkew(skew)} ${skew > 0 ? 'ahead of' : 'behind'} this machine's`;
  if (Math.abs(skew) <= WARN_SKEW_MS) return { name: 'clock', status: 'ok', detail };
  const err = new VsyncError('STORAGE_CLOCK_SKEWED', detail);
  return { name: 'clock', status: Math.abs(skew) > FAIL_SKEW_MS ? 'fail' : 'warn', code: err.code, detail: err.message, hint: err.hint };
}
