/**
 * Durations as the window options take them: milliseconds, or Spark-like text.
 * @module
 */

/**
 * A length of time: a number of milliseconds, or text such as `'10 minutes'`,
 * `'5 s'`, `'1 hour'`, `'250ms'` (one number and one unit: ms, s, m/min, h, d, with
 * the usual long forms and plurals), as Spark's `window()` and `withWatermark()`
 * take them.
 */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1, millisecond: 1, milliseconds: 1,
  s: 1_000, sec: 1_000, secs: 1_000, second: 1_000, seconds: 1_000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
};

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i;

/**
 * Reads a {@link Duration} as milliseconds; throws an error naming `option` when
 * the text is not a duration. Numbers are returned as they are (range checks are
 * the caller's, who knows what the option allows).
 * @internal
 */
export function durationMillis(value: Duration, option: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const match = DURATION.exec(value);
    const unit = match?.[2] === undefined ? undefined : UNIT_MS[match[2].toLowerCase()];
    if (match !== null && unit !== undefined) return Number(match[1]) * unit;
  }
  throw new TypeError(`windowedCount: ${option} must be milliseconds or text like '10 minutes', got ${JSON.stringify(value)}`);
}
