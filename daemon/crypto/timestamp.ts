// Version names: `YYYYMMDD-HHmmss` in UTC (docs/FORMAT.md §Timestamps). Their text order is their time
// order, which is what makes "newest" a string comparison in listings.
import { VsyncError } from '../../shared/errors.js';

export const TIMESTAMP_LENGTH = 15;
const PATTERN = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** The timestamp of `date`, truncated to the second. */
export function formatTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) throw new RangeError('year out of range for a timestamp');
  return (
    `${pad(year, 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  );
}

/** The instant a timestamp names. Throws TIMESTAMP_INVALID for anything but a real UTC calendar second. */
export function parseTimestamp(text: string): Date {
  const m = PATTERN.exec(text);
  if (!m) throw new VsyncError('TIMESTAMP_INVALID', JSON.stringify(text.slice(0, 40)));
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year); // Date.UTC maps years 0..99 to 1900..1999
  // A round trip rejects 20260231 or 25:00:00, which Date would silently roll over.
  if (year < 1 || formatTimestamp(date) !== text) {
    throw new VsyncError('TIMESTAMP_INVALID', `${JSON.stringify(text)} is not a real date and time`);
  }
  return date;
}

/**
 * How far ahead of this machine's clock a version's timestamp may be and still be taken as a teammate's
 * push. A day covers any clock set in the wrong time zone; a version further ahead was named by a broken
 * clock or by someone with write access to the store, and is refused rather than built on: pushes would
 * otherwise step a second past it forever, and at 99991231-235959 there is no second left to step to.
 */
export const FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;

/** Whether `ts` (a valid timestamp) lies more than FUTURE_SKEW_MS after `now`. */
export function isFromFuture(ts: string, now: Date): boolean {
  return parseTimestamp(ts).getTime() - now.getTime() > FUTURE_SKEW_MS;
}

/** `ts`, or undefined when it is missing or from the future (isFromFuture): a floor that may be stepped past. */
export function plausibleFloor(ts: string | undefined, now: Date): string | undefined {
  return ts === undefined || isFromFuture(ts, now) ? undefined : ts;
}

/**
 * The timestamp for a new version: now, or one second after `after` when the clock is behind it
 * (a teammate's clock runs ahead, or two pushes land in one second). Always strictly greater than `after`.
 * There is none after 99991231-235959: TIMESTAMP_INVALID, never a RangeError (callers pass a plausible
 * floor, plausibleFloor, so only a clock in the year 9999 meets this).
 */
export function nextTimestamp(after: string | undefined, now: Date = new Date()): string {
  const candidate = formatTimestamp(now);
  if (after === undefined) return candidate;
  const floor = parseTimestamp(after);
  if (candidate > after) return candidate;
  const next = new Date(floor.getTime() + 1000);
  if (next.getUTCFullYear() > 9999) throw new VsyncError('TIMESTAMP_INVALID', `there is no timestamp after ${after}`);
  return formatTimestamp(next);
}
