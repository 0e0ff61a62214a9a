/**
 * The time of an access-log line, `[dd/Mon/yyyy:HH:MM:SS ±hhmm]`, to epoch
 * milliseconds, and the one-entry memo of the last hour read that makes it cheap.
 * @module
 */
import { daysFromCivil, daysInMonth, MS_PER_DAY } from '../calendar.js';

// Character codes compared against. Declared here, not imported from one module: V8
// reads an imported constant from its module cell at every use, and the scanner
// measured about 5% slower that way.
const SPACE = 0x20,
  PLUS = 0x2b,
  MINUS = 0x2d,
  SLASH = 0x2f,
  DIGIT_0 = 0x30,
  COLON = 0x3a;

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;

/**
 * The last `dd/Mon/yyyy:HH` read and checked, and its local epoch milliseconds (the
 * logged zone not yet applied). Log lines come roughly in time order, so nearly every
 * line shares its hour with the one before: one `indexOf` comparing the 14 characters
 * at once replaces reading, checking and converting them, and the scanner's search for
 * `afterDashes` (the same after ` - - [`, a "-" ident and user) checks 20 at once.
 * Measured on the four real corpora, reading the status only: without it the scanner
 * ran at 0.76 of its speed with it (median of 30 paired rounds).
 *
 * This memo is the scanner's only state, and it is why the scanner takes it as an
 * argument rather than hiding it in the module: it changes what a line costs, never
 * what it gives. A line scans to the same record or reason whatever was scanned before,
 * because the memo starts as a valid hour and only ever holds hours that were checked.
 * Each {@link parseAccessLog} subscription has its own, so that interleaved logs do not
 * evict each other's hour; {@link parseAccessLogLine} shares one across its calls.
 * @internal
 */
export class LastHour {
  /** `dd/Mon/yyyy:HH`. */
  text = '01/Jan/1970:00';
  /** `" - - [" + text`. */
  afterDashes = ' - - [01/Jan/1970:00';
  /** Local epoch milliseconds of `text`. */
  millis = 0;

  /** Remembers the hour at `at` in `line`, checked by the caller, and its local milliseconds. */
  remember(line: string, at: number, millis: number): void {
    this.text = line.slice(at, at + 14);
    this.afterDashes = ` - - [${this.text}`;
    this.millis = millis;
  }
}

/**
 * Epoch milliseconds of `dd/Mon/yyyy:HH:MM:SS ±hhmm` at `at` (the caller checked that
 * 26 characters and the `]` are there), or NaN when any part is not valid: no 32nd day,
 * no 29 February outside leap years, no hour 24, no second 60 (servers log POSIX time,
 * which has no leap seconds), an offset of at most 23:59. With `sameHour`, the caller
 * found `lastHour.afterDashes` just before `at`.
 */
export function readLogTime(line: string, at: number, sameHour: boolean, lastHour: LastHour): number {
  let local = lastHour.millis;
  if (!sameHour && line.indexOf(lastHour.text, at) !== at) {
    if (line.charCodeAt(at + 2) !== SLASH || line.charCodeAt(at + 6) !== SLASH || line.charCodeAt(at + 11) !== COLON)
      return NaN;
    const day = twoDigits(line, at);
    const month = monthNumber(line.charCodeAt(at + 3), line.charCodeAt(at + 4), line.charCodeAt(at + 5));
    const year = twoDigits(line, at + 7) * 100 + twoDigits(line, at + 9);
    const hour = twoDigits(line, at + 12);
    if (!(day >= 1 && month >= 1 && day <= daysInMonth(year, month) && hour <= 23)) return NaN;
    local = daysFromCivil(year, month, day) * MS_PER_DAY + hour * MS_PER_HOUR;
    lastHour.remember(line, at, local);
  }
  // :MM:SS ±hhmm, read on every line. Each digit d is checked as d | (max - d) >= 0
  // (a non-digit or a digit above max makes one side negative), all in one test.
  const sign = line.charCodeAt(at + 21);
  if (
    line.charCodeAt(at + 14) !== COLON ||
    line.charCodeAt(at + 17) !== COLON ||
    line.charCodeAt(at + 20) !== SPACE ||
    (sign !== PLUS && sign !== MINUS)
  )
    return NaN;
  const minuteTens = line.charCodeAt(at + 15) - DIGIT_0,
    minuteUnits = line.charCodeAt(at + 16) - DIGIT_0;
  const secondTens = line.charCodeAt(at + 18) - DIGIT_0,
    secondUnits = line.charCodeAt(at + 19) - DIGIT_0;
  const offsetHourTens = line.charCodeAt(at + 22) - DIGIT_0,
    offsetHourUnits = line.charCodeAt(at + 23) - DIGIT_0;
  const offsetMinuteTens = line.charCodeAt(at + 24) - DIGIT_0,
    offsetMinuteUnits = line.charCodeAt(at + 25) - DIGIT_0;
  if (
    (minuteTens |
      (5 - minuteTens) |
      minuteUnits |
      (9 - minuteUnits) |
      secondTens |
      (5 - secondTens) |
      secondUnits |
      (9 - secondUnits) |
      offsetHourTens |
      (2 - offsetHourTens) |
      offsetHourUnits |
      (9 - offsetHourUnits) |
      offsetMinuteTens |
      (5 - offsetMinuteTens) |
      offsetMinuteUnits |
      (9 - offsetMinuteUnits)) <
    0
  )
    return NaN;
  const offsetHours = offsetHourTens * 10 + offsetHourUnits;
  if (offsetHours > 23) return NaN;
  const offset = (offsetHours * 60 + offsetMinuteTens * 10 + offsetMinuteUnits) * MS_PER_MINUTE;
  local += (minuteTens * 10 + minuteUnits) * MS_PER_MINUTE + (secondTens * 10 + secondUnits) * 1000;
  return sign === PLUS ? local - offset : local + offset;
}

/** Two digits at `at` as a number, or NaN. */
function twoDigits(line: string, at: number): number {
  const high = line.charCodeAt(at) - DIGIT_0,
    low = line.charCodeAt(at + 1) - DIGIT_0;
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : NaN;
}

/** 1–12 for `Jan`…`Dec` as Apache and nginx write them, 0 otherwise; no string is built. */
function monthNumber(first: number, second: number, third: number): number {
  switch ((first << 16) | (second << 8) | third) {
    case 0x4a616e:
      return 1; // Jan
    case 0x466562:
      return 2; // Feb
    case 0x4d6172:
      return 3; // Mar
    case 0x417072:
      return 4; // Apr
    case 0x4d6179:
      return 5; // May
    case 0x4a756e:
      return 6; // Jun
    case 0x4a756c:
      return 7; // Jul
    case 0x417567:
      return 8; // Aug
    case 0x536570:
      return 9; // Sep
    case 0x4f6374:
      return 10; // Oct
    case 0x4e6f76:
      return 11; // Nov
    case 0x446563:
      return 12; // Dec
    default:
      return 0;
  }
}
