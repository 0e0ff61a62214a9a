/**
 * The options of session windows ({@link SessionCountState}, and {@link windowedCount} or
 * {@link windowedAggregate} given `sessionGap`), and their checks.
 * @module
 */
import type { Duration } from '../duration.js';
import { optionChecks } from '../internal/options.js';
import {
  isCheckedSettings,
  markChecked,
  resolveEventTimeSettings,
  type EventTimeSettings,
  type WindowedCountOptions,
} from './options.js';

/**
 * Options of session windows: {@link WindowedCountOptions} with `sessionGap` in place of
 * `windowDuration`, `slideDuration` and `offset`. Each key's events form sessions, as
 * Spark's `session_window(timeColumn, gapDuration)` does: an event at `t` opens
 * `[t, t + sessionGap)`, and sessions of one key that overlap or touch merge, so a row's
 * `windowStart` is its first event's time and `windowEnd` its last event's time plus the gap.
 *
 * What differs from fixed windows, as Spark 3.5 does it:
 * - `outputMode` is `'append'` (default) or `'complete'`; `'update'` is refused, as Spark
 *   refuses it for session windows.
 * - An event is late when its own session would end by the watermark
 *   (`t + sessionGap ≤ watermark`): it is reported (kind `'late'`) and counted nowhere,
 *   in every output mode, `'complete'` included.
 * - `maxWindows` bounds the sessions held (of all keys).
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type (compared as `Map` keys).
 */
export interface SessionWindowOptions<E, K> extends Omit<
  WindowedCountOptions<E, K>,
  'windowDuration' | 'slideDuration' | 'offset'
> {
  /**
   * How long a key may go without an event before its session ends (> 0), e.g. `'30 s'`:
   * each event extends its session to its own time plus the gap. Given instead of
   * `windowDuration`.
   */
  sessionGap: Duration;
}

/** {@link SessionWindowOptions} after checking, with durations in milliseconds. @internal */
export interface SessionSettings<E, K> extends EventTimeSettings<E, K> {
  readonly sessionGap: number;
}

/**
 * Whether `options` ask for session windows: `sessionGap` is given. An operator that takes
 * either kind of window dispatches on it.
 * @internal
 */
export function isSessionOptions<O extends object>(options: O): boolean {
  return (
    options !== null && typeof options === 'object' && (options as { sessionGap?: unknown }).sessionGap !== undefined
  );
}

/** The options of fixed windows, which session windows do not take. */
const FIXED_WINDOW_OPTIONS = ['windowDuration', 'slideDuration', 'offset'] as const;

/**
 * Checks session options and converts durations, throwing a `TypeError`/`RangeError`
 * that names the option (with {@link resolveWindowSettings}' wording for the options both
 * share); settings already checked are returned as they are.
 * @internal
 */
export function resolveSessionSettings<E, K>(
  options: SessionWindowOptions<E, K>,
  operator = 'windowedCount',
): SessionSettings<E, K> {
  if (isSessionOptions(options) && isCheckedSettings(options)) return options as SessionSettings<E, K>;
  const check = optionChecks(operator);
  if (options === null || typeof options !== 'object') throw new TypeError(`${operator}: options are required`);
  const given = options as Partial<Record<(typeof FIXED_WINDOW_OPTIONS)[number], unknown>>;
  if (given.windowDuration !== undefined)
    throw new TypeError(`${operator}: give windowDuration (fixed windows) or sessionGap (session windows), not both`);
  for (const name of FIXED_WINDOW_OPTIONS) {
    if (given[name] !== undefined)
      throw new TypeError(
        `${operator}: ${name} is an option of fixed windows (windowDuration), not of session windows (sessionGap); drop it`,
      );
  }
  const timing = resolveEventTimeSettings(options, check, 'session');
  if (options.sessionGap === undefined)
    throw check.required('sessionGap', "e.g. '30 s': a key's session ends after this long without an event");
  const sessionGap = check.duration('sessionGap', options.sessionGap, { positive: true });
  if (timing.outputMode === 'update') {
    throw new RangeError(
      `${operator}: outputMode 'update' is not supported with sessionGap: Spark refuses it for session windows ` +
        "(\"Update output mode not supported for session window\"), since an event can merge sessions whose rows went out; use outputMode 'append' (each session once, when the watermark closes it) or 'complete'",
    );
  }
  return markChecked({ ...timing, sessionGap });
}
