/**
 * The options of {@link windowedCount} and {@link WindowedCountState}, and their checks.
 * @module
 */
import type { SchedulerLike } from 'rxjs';
import type { RejectOptions } from '../reject.js';
import { durationMillis, type Duration } from '../duration.js';
import { optionChecks, type OptionChecks } from '../internal/options.js';
import type { SourceLiveness } from './idleAdvance.js';
import type { WindowRow } from './windowRow.js';

/**
 * When rows are emitted, as in Spark's `outputMode`:
 * - `'append'`: each (window, key) row once, final, as soon as the watermark passes
 *   the window's end (and, by default, the open ones when the source completes);
 * - `'update'`: after each event, the rows whose count it changed;
 * - `'complete'`: after each event, every row of every window seen so far. As in
 *   Spark, the watermark drops nothing and closes nothing in this mode: no event is
 *   late, every window is kept and updated for ever. Memory and the rows emitted per
 *   event therefore grow with the number of windows; bound them with
 *   {@link WindowedCountOptions.maxWindows}, or use `'update'`, which keeps only the
 *   windows the watermark has not closed.
 */
export type OutputMode = 'append' | 'update' | 'complete';

/**
 * Which watermark an event is judged late against, named after the Spark versions
 * that follow it (in `append` and `update` mode; `complete` mode has no late events).
 *
 * - `'spark-2.4'` (default): late for a window whose end ≤ the watermark as it stood
 *   when the event arrived; a window closes as soon as the watermark passes its end.
 *   Spark 2.4 to 3.3 do this, and any Spark with
 *   `spark.sql.streaming.statefulOperator.allowMultiple=false`.
 * - `'spark-3.4'`: Spark 3.4 and later by default (`allowMultiple=true`). Late rows are
 *   judged by the previous micro-batch's watermark while windows close on the current
 *   one. With one event per micro-batch: an event is late for a window whose end ≤ the
 *   watermark as it stood when the *previous* event arrived, and a window closes once
 *   the next event has been counted (or {@link WindowedCountState.advanceWatermark} moves
 *   the watermark, as a no-data batch would). So an event just behind a watermark
 *   jump still counts, and append rows come out one event later.
 *
 * Events (1-minute windows, 2-minute watermark, status 200) at 10:05:30, 10:08:30,
 * 10:05:50: `'spark-2.4'` reports the third late (10:06 ≤ watermark 10:06:30) and
 * `[10:05, 10:06)` ends with count 1; `'spark-3.4'` counts it (10:06 > 10:03:30, the
 * watermark before 10:08:30 arrived) and `[10:05, 10:06)` ends with count 2, as
 * Spark 3.5 does.
 */
export type LateRule = 'spark-2.4' | 'spark-3.4';

/**
 * Opt-in idle advance: lets the watermark move with the wall clock while no event
 * arrives, so a sparse source (a push button) still gets its windows closed.
 * Spark has no such thing; Flink's closest relative is source idleness.
 *
 * After `after` without an event, the operator assumes event time keeps passing at
 * the speed of the wall clock since the last event arrived:
 * `watermark = max(watermark, maxEventTime + (now − lastArrival) − watermarkDelay)`.
 * Only elapsed wall time is used, never the wall clock's absolute value, so the
 * sender's and receiver's clocks need not agree. The trade-off: an event that
 * arrives after such an advance may find its window already final (it is then
 * reported late, as always).
 *
 * Silence is not always idleness: while the broker is unreachable, stalled or has
 * just reconnected, events go on being stamped and arrive later, all at once. Give
 * `liveness` (a {@link BrokerLiveness} also given to {@link fromMqtt}) and only the
 * silence the source *proved* counts: `now` above becomes the last moment the
 * broker proved it had nothing more for us, and the silence counts from the later
 * of the last arrival and the start of the broker's current unbroken run of prompt
 * answers. A stall, a reconnection or a backlog on its way then moves nothing;
 * `after` counts again once the broker answers. See docs/durability.md.
 */
export interface IdleAdvanceOptions {
  /** How long without an event before the wall clock starts to count (> 0): ms, or text like `'5 s'`. */
  after: Duration;
  /**
   * Count only the silence the source proves quiet, never the wall clock itself:
   * a {@link BrokerLiveness} given to the same pipeline's {@link fromMqtt}, or any
   * {@link SourceLiveness}. Its times must be on `scheduler`'s clock. Default: none,
   * the wall clock counts.
   */
  liveness?: SourceLiveness;
  /**
   * Where time and timers come from. Default: RxJS's `asyncScheduler`
   * (`Date.now()` and `setTimeout`); pass a `TestScheduler` in marble tests.
   */
  scheduler?: SchedulerLike;
}

/**
 * Options of {@link windowedCount} (and of the {@link WindowedCountState} behind it).
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type; keys are compared as `Map` keys are (so use
 *   primitives such as a status number or a string, not fresh objects).
 */
export interface WindowedCountOptions<E, K> extends RejectOptions<E> {
  /**
   * The event time of an event, as epoch milliseconds or a `Date`. A result that is
   * not a valid time (NaN, an invalid `Date`, beyond the `Date` range) rejects the
   * event with kind `'timestamp'`; it is not counted and does not move the watermark.
   */
  eventTime: (event: E) => number | Date;
  /** The group to count the event in, e.g. `(record) => record.status`. */
  key: (event: E) => K;
  /** Window length (> 0), e.g. `'1 minute'` or `60_000`. */
  windowDuration: Duration;
  /**
   * How far apart window starts are (> 0, ≤ `windowDuration`). Default: the window
   * duration (tumbling windows). Shorter gives sliding windows: each event then falls
   * in about `windowDuration / slideDuration` windows.
   */
  slideDuration?: Duration;
  /**
   * Shifts the window grid from the epoch, as Spark's `startTime` argument of
   * `window()` does: windows start at `offset + n × slideDuration`. Default 0; taken
   * modulo the slide, may be negative.
   */
  offset?: Duration;
  /**
   * How far the watermark trails the largest event time seen (≥ 0), as in Spark's
   * `withWatermark(column, delay)`: the disorder the stream may have before events
   * count as late.
   */
  watermarkDelay: Duration;
  /** When rows are emitted: `'append'` (default), `'update'` or `'complete'`. */
  outputMode?: OutputMode;
  /**
   * Which Spark version's late rule to follow: `'spark-2.4'` (default; also Spark 3.3,
   * and later ones with `allowMultiple=false`) or `'spark-3.4'` (the default of Spark
   * 3.4 and later). No effect in `complete` mode, which has no late events.
   */
  lateRule?: LateRule;
  /**
   * The most windows held at once (an integer ≥ 1). Counting an event that would
   * open one more throws a `RangeError` naming this option (the operator errors the
   * stream); the event is not counted. Default: no bound.
   *
   * Meant for `complete` mode, which keeps every window it sees: with 1-minute windows
   * a day is 1,440 of them, all emitted again after each event. An error rather than
   * dropping the oldest window, so that `complete` output is always Spark's complete
   * table: a dropped window would come back with a count from zero if one more event
   * fell in it. In `append` and `update` mode the watermark already bounds the windows
   * to about `(watermarkDelay + windowDuration) / slideDuration`.
   */
  maxWindows?: number;
  /**
   * Guard against event times from the far future (≥ 0, e.g. `'1 hour'`): an event
   * whose time is more than this after {@link WindowedCountOptions.now | now()} is
   * rejected with kind `'future'`. It is not counted and does not move the watermark;
   * without the guard, one event stamped year 9999 would move the watermark there and
   * every later event would be late. Allow for the senders' clock error and any
   * event time zone mistakes. Default: off, as in Spark.
   */
  maxEventTimeAhead?: Duration;
  /**
   * The clock `maxEventTimeAhead` is measured from, in epoch milliseconds; read once
   * per event while the guard is on. Default `Date.now`.
   */
  now?: () => number;
  /**
   * When the source completes, treat every open window as final: in `append` mode
   * their rows are emitted before completing (otherwise the last windows of a finite
   * source would never appear). In `update` and `complete` mode every count was
   * already emitted, so nothing is added. Default `true`. Spark does not do this; set
   * `false` to match it row for row.
   */
  flushOnComplete?: boolean;
  /**
   * Opt-in: advance the watermark with the wall clock while the source is idle. Not
   * with `complete` mode, where the watermark closes nothing.
   */
  idleAdvance?: IdleAdvanceOptions;
}

/**
 * The checked options every event-time state reads, fixed windows and sessions alike,
 * with durations in milliseconds.
 * @internal
 */
export interface EventTimeSettings<E, K> extends RejectOptions<E> {
  readonly eventTime: (event: E) => number | Date;
  readonly key: (event: E) => K;
  readonly watermarkDelay: number;
  readonly outputMode: OutputMode;
  readonly lateRule: LateRule;
  /** `Infinity` when unbounded. */
  readonly maxWindows: number;
  /** `Infinity` when the guard is off. */
  readonly maxEventTimeAhead: number;
  readonly now: () => number;
  readonly flushOnComplete: boolean;
  /** `after` in milliseconds. */
  readonly idleAdvance: (IdleAdvanceOptions & { readonly after: number }) | undefined;
}

/**
 * Options after checking, with durations in milliseconds: still valid options (so a
 * {@link WindowedCountState} accepts them), and recognised as checked by {@link windowSettingsOf}.
 * @internal
 */
export interface WindowSettings<E, K> extends EventTimeSettings<E, K> {
  readonly windowDuration: number;
  readonly slideDuration: number;
  /** Normalised into `[0, slideDuration)`. */
  readonly offset: number;
  /**
   * Told of each window the watermark closes, with its final rows (the durable operators'
   * closing rows in update mode); the rows are the state's own (aggregate rows for
   * `windowedAggregate`).
   */
  readonly onWindowClosed?: (rows: readonly WindowRow<K>[]) => void;
  /** Told of each (window, key) an event was late for and not counted in (durableWindowedCount's late counts). */
  readonly onLate?: (windowStart: number, key: K) => void;
}

/** The settings {@link resolveWindowSettings} made: checked once, never again. */
const checked = new WeakSet<object>();

/**
 * The defaults of {@link WindowedCountOptions}, which their TSDoc quotes (`slideDuration`
 * defaults to `windowDuration`, `now` to `Date.now`).
 */
const WINDOWED_COUNT_DEFAULTS = {
  offset: 0,
  outputMode: 'append',
  lateRule: 'spark-2.4',
  maxWindows: Infinity,
  maxEventTimeAhead: Infinity,
  flushOnComplete: true,
} as const;

const OUTPUT_MODES: readonly OutputMode[] = ['append', 'update', 'complete'];
const LATE_RULES: readonly LateRule[] = ['spark-2.4', 'spark-3.4'];

/**
 * Checks the options and converts durations, throwing a `TypeError`/`RangeError`
 * that names the option, so a bad option fails when the operator is created rather
 * than on the first event.
 * @internal
 */
export function resolveWindowSettings<E, K>(
  options: WindowedCountOptions<E, K>,
  operator = 'windowedCount',
): WindowSettings<E, K> {
  const check = optionChecks(operator);
  if (options === null || typeof options !== 'object') throw new TypeError(`${operator}: options are required`);
  if ((options as { sessionGap?: unknown }).sessionGap !== undefined) {
    throw new TypeError(
      options.windowDuration === undefined
        ? `${operator}: sessionGap asks for session windows, which these fixed windows are not: give windowDuration, or use the windowedCount or windowedAggregate operator (or SessionCountState, SessionAggregateState) for sessions`
        : `${operator}: give windowDuration (fixed windows) or sessionGap (session windows), not both`,
    );
  }
  const { eventTime, key, ...timing } = resolveEventTimeSettings(options, check, 'window');
  if (options.windowDuration === undefined)
    throw check.required('windowDuration', "e.g. '1 minute'; or sessionGap for session windows");
  const windowDuration = check.duration('windowDuration', options.windowDuration, { positive: true });
  const slideDuration =
    options.slideDuration === undefined
      ? windowDuration
      : durationMillis(options.slideDuration, check.operator, 'slideDuration');
  if (!(slideDuration > 0 && slideDuration <= windowDuration)) {
    const expected = `positive and at most windowDuration (${windowDuration} ms)`;
    throw check.error('range', 'slideDuration', expected, options.slideDuration);
  }
  const rawOffset = check.duration('offset', options.offset ?? WINDOWED_COUNT_DEFAULTS.offset);
  const settings: WindowSettings<E, K> = {
    eventTime,
    key,
    windowDuration,
    slideDuration,
    offset: ((rawOffset % slideDuration) + slideDuration) % slideDuration,
    ...timing,
  };
  checked.add(settings);
  return settings;
}

/**
 * Checks the options fixed windows and sessions share (all but the window's shape), with
 * the wording of {@link resolveWindowSettings}; `kind` names what the watermark closes.
 * @internal
 */
export function resolveEventTimeSettings<E, K>(
  options: Omit<WindowedCountOptions<E, K>, 'windowDuration' | 'slideDuration' | 'offset'>,
  check: OptionChecks,
  kind: 'window' | 'session',
): EventTimeSettings<E, K> {
  const eventTime = check.func<(event: E) => number | Date>('eventTime', options.eventTime, '(event) => number | Date');
  const key = check.func<(event: E) => K>('key', options.key, '(event) => key');
  if (options.watermarkDelay === undefined)
    throw check.required('watermarkDelay', `e.g. '2 minutes'; 0 closes a ${kind} as soon as a later event arrives`);
  const watermarkDelay = check.duration('watermarkDelay', options.watermarkDelay, { min: 0 });
  const outputMode = check.oneOf('outputMode', options.outputMode ?? WINDOWED_COUNT_DEFAULTS.outputMode, OUTPUT_MODES);
  const lateRule = check.oneOf('lateRule', options.lateRule ?? WINDOWED_COUNT_DEFAULTS.lateRule, LATE_RULES);
  const maxWindows = check.positiveInteger('maxWindows', options.maxWindows ?? WINDOWED_COUNT_DEFAULTS.maxWindows, {
    infinity: true,
  });
  const maxEventTimeAhead = check.duration(
    'maxEventTimeAhead',
    options.maxEventTimeAhead ?? WINDOWED_COUNT_DEFAULTS.maxEventTimeAhead,
    { min: 0, infinity: true },
  );
  const now = check.optionalFunc<() => number>('now', options.now, '() => epoch milliseconds') ?? Date.now;
  const flushOnComplete = check.boolean(
    'flushOnComplete',
    options.flushOnComplete ?? WINDOWED_COUNT_DEFAULTS.flushOnComplete,
  );
  const idleAdvance =
    options.idleAdvance === undefined
      ? undefined
      : {
          after: check.duration('idleAdvance.after', options.idleAdvance.after, { positive: true }),
          ...(options.idleAdvance.scheduler === undefined ? {} : { scheduler: options.idleAdvance.scheduler }),
          ...(options.idleAdvance.liveness === undefined
            ? {}
            : { liveness: checkLiveness(check, options.idleAdvance.liveness) }),
        };
  if (idleAdvance !== undefined && outputMode === 'complete') {
    throw new RangeError(
      `${check.operator}: idleAdvance has nothing to do in 'complete' mode, where the watermark closes no ${kind}; drop it or use '${kind === 'window' ? 'update' : 'append'}'`,
    );
  }
  return {
    eventTime,
    key,
    watermarkDelay,
    outputMode,
    lateRule,
    maxWindows,
    maxEventTimeAhead,
    now,
    flushOnComplete,
    idleAdvance,
    onReject: options.onReject,
    strict: options.strict,
  };
}

/** `idleAdvance.liveness`: something with the two methods of a {@link SourceLiveness}. */
function checkLiveness(check: OptionChecks, liveness: unknown): SourceLiveness {
  const candidate = liveness as Partial<SourceLiveness> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.provenQuiet !== 'function' ||
    typeof candidate.onProof !== 'function'
  )
    throw check.error('type', 'idleAdvance.liveness', 'a SourceLiveness such as a BrokerLiveness', liveness);
  return candidate as SourceLiveness;
}

/**
 * Checked settings (of fixed or session windows) for events of another shape: the same
 * windows, watermark and limits with other accessors, clock and rejection handling. The
 * result is recognised as checked, so the state built on it does not check the options
 * again.
 * @internal
 */
export function deriveWindowSettings<S extends EventTimeSettings<never, unknown>, F, K>(
  settings: S,
  changes: Pick<WindowSettings<F, K>, 'eventTime' | 'key' | 'now' | 'onWindowClosed' | 'onLate'> & RejectOptions<F>,
): Omit<S, keyof EventTimeSettings<never, unknown>> & EventTimeSettings<F, K> {
  return markChecked({ ...settings, ...changes } as unknown as Omit<S, keyof EventTimeSettings<never, unknown>> &
    EventTimeSettings<F, K>);
}

/**
 * The settings of `options`: the object itself when {@link resolveWindowSettings} made
 * it, otherwise checked and converted now. So `windowedCount`, which checks its options
 * when it is created, hands its settings to the `WindowedCountState` of each subscription
 * without their being checked again, while a user's `new WindowedCountState(options)` is
 * checked as before.
 * @internal
 */
export function windowSettingsOf<E, K>(options: WindowedCountOptions<E, K>): WindowSettings<E, K> {
  return checked.has(options) ? (options as WindowSettings<E, K>) : resolveWindowSettings(options);
}

/**
 * Marks `settings` as checked, for {@link isCheckedSettings}: made by a resolver that
 * checked every option.
 * @internal
 */
export function markChecked<S extends object>(settings: S): S {
  checked.add(settings);
  return settings;
}

/** Whether a resolver made `options` (so they need no checking again). @internal */
export function isCheckedSettings(options: object): boolean {
  return checked.has(options);
}
