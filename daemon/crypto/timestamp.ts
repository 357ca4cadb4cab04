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
 * The timestamp for a new version: now, or one second after `after` when the clock is behind it
 * (a teammate's clock runs ahead, or two pushes land in one second). Always strictly greater than `after`.
 */
export function nextTimestamp(after: string | undefined, now: Date = new Date()): string {
  const candidate = formatTimestamp(now);
  if (after === undefined) return candidate;
  const floor = parseTimestamp(after);
  if (candidate > after) return candidate;
  return formatTimestamp(new Date(floor.getTime() + 1000));
}
