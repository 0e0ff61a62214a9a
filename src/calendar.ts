/**
 * The proleptic Gregorian calendar as plain arithmetic, shared by the two readers of
 * calendar dates: the access-log time (`10/Oct/2000:13:55:36 -0700`) and the payload's
 * `iottimestamp` (`2020-07-01 12:34:56.789012`). No `Date` is made: the log scanner
 * calls these for every line whose hour it has not seen, and the `daysInMonth` that
 * made a `Date` took about 200 ns a call where the arithmetic takes about 11.
 * @module
 */

/** Milliseconds in a day: days since the epoch times this is the instant at 00:00 UTC. */
export const MS_PER_DAY = 86_400_000;

/** Whether `year` has a 29 February: every fourth year, but not centuries, except every fourth century. */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days in `month` (1–12) of `year`: 28–31. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Days from 1970-01-01 to `year-month-day` (negative before it), the day checked by the
 * caller. H. Hinnant's `days_from_civil`: exact for any year, including 0–99, which
 * `Date.UTC` maps to 1900–1999.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  // Counted from 1 March, so that the leap day is the last of its year.
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
