/**
 * Durations as every option takes them: milliseconds, or Spark-like text.
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
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1_000,
  sec: 1_000,
  secs: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

const DURATION = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i;

/**
 * Reads a {@link Duration} as milliseconds; throws an error naming `operator` and
 * `option` when the text is not a duration. Numbers are returned as they are (range
 * checks are the caller's, who knows what the option allows).
 * @internal
 */
export function durationMillis(value: Duration, operator: string, option: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const match = DURATION.exec(value);
    const unit = match?.[2] === undefined ? undefined : UNIT_MS[match[2].toLowerCase()];
    if (match !== null && unit !== undefined) return Number(match[1]) * unit;
  }
  throw new TypeError(
    `${operator}: ${option} must be milliseconds or text like '10 minutes', got ${JSON.stringify(value)}`,
  );
}

const SPOKEN_UNITS: readonly (readonly [name: string, ms: number])[] = [
  ['year', 365.2425 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
];

/**
 * Milliseconds as a person says them, in the largest unit that fits: `'1 hour'`,
 * `'1.5 hours'`, `'7973 years'`, `'250 ms'` (one decimal below 100 of a unit, so
 * 90 minutes does not read as one hour).
 * @internal
 */
export function describeDuration(ms: number): string {
  for (const [name, unit] of SPOKEN_UNITS) {
    if (ms >= unit) {
      const amount = ms / unit >= 100 ? Math.floor(ms / unit) : Number((ms / unit).toFixed(1));
      return `${amount} ${name}${amount === 1 ? '' : 's'}`;
    }
  }
  return `${Number(ms.toFixed(3))} ms`;
}
