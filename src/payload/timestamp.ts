/**
 * Reading and writing `iottimestamp`, the event time of the reference payload.
 * @module
 */
import { daysFromCivil, daysInMonth, MS_PER_DAY } from '../calendar.js';

// Python's str(datetime.utcnow()): "2020-07-01 12:34:56.789012", fraction omitted at
// .000000; also ISO 8601 with "T" and an optional zone ("Z", "+02:00", "+0200").
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:(Z|z)|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * Parses an event timestamp to epoch milliseconds, or returns `undefined` when the
 * text is not one.
 *
 * Accepts what the original Python publisher writes (`str(datetime.utcnow())`, e.g.
 * `2020-07-01 12:34:56.789012`; no zone means UTC, as Spark reads it with a UTC
 * session time zone) and ISO 8601 with `T` or a space and an optional `Z` or
 * `±hh:mm` offset. Fractions beyond milliseconds are truncated (JavaScript dates
 * hold milliseconds). Impossible dates such as February 30 or hour 24 are refused.
 *
 * @example
 * ```ts
 * import { parseEventTime } from 'mqtt-iot-stream';
 * parseEventTime('2020-07-01 12:34:56.789012'); // 1593606896789
 * parseEventTime('2020-07-01T14:34:56+02:00');  // 1593606896000
 * parseEventTime('yesterday');                  // undefined
 * ```
 */
export function parseEventTime(text: string): number | undefined {
  const match = TIMESTAMP.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offsetHours, offsetMinutes] = match;
  const y = Number(year),
    mo = Number(month),
    d = Number(day);
  const h = Number(hour),
    mi = Number(minute),
    s = Number(second);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  let epoch = daysFromCivil(y, mo, d) * MS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1000 + millis;
  if (zulu === undefined && sign !== undefined) {
    const oh = Number(offsetHours),
      om = Number(offsetMinutes);
    if (oh > 23 || om > 59) return undefined;
    epoch -= (sign === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return epoch;
}

/**
 * Formats an instant exactly as the original publisher's `str(datetime.utcnow())`
 * does: `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, with the fraction left out when it is
 * zero. Spark casts this string to a timestamp, and {@link parseEventTime} reads it.
 *
 * @example
 * ```ts
 * import { formatEventTime } from 'mqtt-iot-stream';
 * formatEventTime(new Date(Date.UTC(2020, 6, 1, 12, 34, 56, 789))); // '2020-07-01 12:34:56.789000'
 * formatEventTime(new Date(Date.UTC(2020, 6, 1, 12, 34, 56)));      // '2020-07-01 12:34:56'
 * ```
 */
export function formatEventTime(instant: Date | number): string {
  const iso = new Date(instant).toISOString(); // 2020-07-01T12:34:56.789Z
  const millis = iso.slice(20, 23);
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return millis === '000' ? base : `${base}.${millis}000`;
}
