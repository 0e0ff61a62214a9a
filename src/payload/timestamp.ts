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
  const plain = plainTimestamp(text);
  if (plain !== NOT_PLAIN) return plain;
  const match = TIMESTAMP.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zulu, sign, offsetHours, offsetMinutes] = match;
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  let epoch = epochOf(Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second), millis);
  if (epoch === undefined) return undefined;
  if (zulu === undefined && sign !== undefined) {
    const oh = Number(offsetHours),
      om = Number(offsetMinutes);
    if (oh > 23 || om > 59) return undefined;
    epoch -= (sign === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return epoch;
}

/** {@link plainTimestamp}'s answer for text of another shape, which the RegExp reads. */
const NOT_PLAIN = -0.5;

/**
 * The shape every publisher of ours and the original Python one send,
 * `YYYY-MM-DD HH:MM:SS` (or `T`) with an optional fraction and no zone, read without the
 * RegExp: the aggregator reads one a message, and the RegExp's match array took about
 * 400 ns of it. Returns {@link NOT_PLAIN} for any other text, to be read as before.
 */
function plainTimestamp(text: string): number | undefined {
  const length = text.length;
  if (length !== 19 && (length < 21 || length > 29)) return NOT_PLAIN;
  const separator = text.charCodeAt(10);
  if (
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    (separator !== SPACE && separator !== LETTER_T) ||
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  )
    return NOT_PLAIN;
  const year = digits(text, 0, 4),
    month = digits(text, 5, 2),
    day = digits(text, 8, 2),
    hour = digits(text, 11, 2),
    minute = digits(text, 14, 2),
    second = digits(text, 17, 2);
  if ((year | month | day | hour | minute | second) < 0) return NOT_PLAIN;
  let millis = 0;
  if (length > 19) {
    const point = text.charCodeAt(19);
    const fraction = digits(text, 20, length - 20);
    if ((point !== DOT && point !== COMMA) || fraction < 0) return NOT_PLAIN;
    // Milliseconds: the first three digits, as many as there are. Scaled without `**`,
    // which V8 ran as a call: half of this function's 220 ns (issue 24).
    const shown = Math.min(3, length - 20);
    millis = digits(text, 20, shown) * (shown === 3 ? 1 : shown === 2 ? 10 : 100);
  }
  return epochOf(year, month, day, hour, minute, second, millis);
}

// Character codes, declared here as the log scanners declare theirs: V8 reads an
// imported constant from its module cell at every use.
const DASH = 0x2d,
  COLON = 0x3a,
  SPACE = 0x20,
  LETTER_T = 0x54,
  DOT = 0x2e,
  COMMA = 0x2c,
  ZERO = 0x30;

/** The decimal number of `count` ASCII digits at `from`, or -1 if one is not a digit. */
function digits(text: string, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const digit = text.charCodeAt(i) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Epoch milliseconds of a UTC calendar time, or `undefined` for an impossible one (30 February, hour 24). */
function epochOf(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
    return undefined;
  return daysFromCivil(year, month, day) * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
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
