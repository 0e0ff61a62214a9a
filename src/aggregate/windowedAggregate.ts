/**
 * The `windowedAggregate` operator: Spark-style event-time window aggregates for RxJS.
 * @module
 */
import type { OperatorFunction } from 'rxjs';
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import { isSessionOptions } from '../window/sessionOptions.js';
import { windowsOperator } from '../window/windowsOperator.js';
import {
  resolveSessionAggregate,
  SessionAggregateState,
  type SessionAggregateOptions,
  type SessionAggregateSnapshot,
} from './SessionAggregateState.js';
import {
  resolveWindowedAggregate,
  WindowedAggregateState,
  type AggregateRow,
  type WindowedAggregateOptions,
  type WindowedAggregateSnapshot,
  type WindowedAggregateStats,
} from './WindowedAggregateState.js';

/** Options of {@link windowedAggregate}: the window and aggregate options, live counters and a state to start from. */
export interface WindowedAggregateOperatorOptions<E, K> extends WindowedAggregateOptions<E, K> {
  /** Called once per subscription, before the first event, with its live counters. */
  onSubscribe?: (stats: WindowedAggregateStats) => void;
  /**
   * Start from this state: a {@link WindowedAggregateState.snapshot} taken under the same
   * options, restored on each subscribe.
   */
  initialState?: WindowedAggregateSnapshot<K>;
  /** Where this subscription's live statistics go (stage `window`, as {@link windowedCount}'s). */
  statistics?: LiveStatistics;
}

/**
 * Options of {@link windowedAggregate} for session windows: the session and aggregate
 * options, and the live counters, statistics and state to start from of
 * {@link WindowedAggregateOperatorOptions}.
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type.
 */
export interface SessionAggregateOperatorOptions<E, K>
  extends SessionAggregateOptions<E, K>, Pick<WindowedAggregateOperatorOptions<E, K>, 'onSubscribe' | 'statistics'> {
  /**
   * Start from this state: a {@link SessionAggregateState.snapshot} taken under the same
   * options, restored on each subscribe.
   */
  initialState?: SessionAggregateSnapshot<K>;
}

/**
 * Aggregates a number per key in event-time windows with a watermark: count, sum, min,
 * max, mean, approximate quantiles (DDSketch) and an approximate distinct count
 * (HyperLogLog), as Spark Structured Streaming's
 * `withWatermark(...).groupBy(window(...), key).agg(...)` does.
 *
 * Windows, watermark, late rule, output modes, `flushOnComplete`, `idleAdvance`,
 * `maxWindows` and `maxEventTimeAhead` are {@link windowedCount}'s, rule for rule: the
 * same events are late, the same rows come out at the same moments, each with the
 * aggregates asked for beside its count. An event whose value cannot be read is reported
 * with kind `'value'` and not counted. With `partials: true`, each row also carries the
 * cell's mergeable state, so that the rows of several aggregators on a shared
 * subscription merge into exact totals (sketches within their stated error).
 *
 * ```
 * windowDuration 10, watermarkDelay 5, append mode, aggregates { value: bytes, sum, max }
 *
 * source:    a(1,5)--a(4,7)--a(12,1)--b(17,2)-----|
 * output:    -----------------[R1]----------------[R2, R3]|
 *
 * R1 = [0,10)  a count 2, sum 12, max 7   (final once the watermark reaches 10)
 * R2 = [10,20) a count 1, sum 1,  max 1   (flushed when the source completes)
 * R3 = [10,20) b count 1, sum 2,  max 2
 * ```
 *
 * Options are checked when `windowedAggregate(...)` is called: a bad one throws there.
 *
 * @example Bytes served per status, 1-minute windows, a 2-minute watermark
 * ```ts
 * import { from } from 'rxjs';
 * import { windowedAggregate } from 'mqtt-iot-stream';
 *
 * from([
 *   { at: Date.UTC(2015, 4, 17, 10, 5, 3), status: 200, bytes: 512, client: '10.0.0.1' },
 *   { at: Date.UTC(2015, 4, 17, 10, 5, 41), status: 200, bytes: 2048, client: '10.0.0.2' },
 * ])
 *   .pipe(windowedAggregate({
 *     eventTime: (hit) => hit.at,
 *     key: (hit) => hit.status,
 *     windowDuration: '1 minute',
 *     watermarkDelay: '2 minutes',
 *     aggregates: { value: (hit) => hit.bytes, sum: true, mean: true, quantiles: [0.5, 0.99], distinct: (hit) => hit.client },
 *   }))
 *   .subscribe((row) => console.log(row.windowStart.toISOString(), row.key, row.aggregates));
 * // 2015-05-17T10:05:00.000Z 200 { count: 2, sum: 2560, mean: 1280, distinct: 2, quantiles: { p50: ≈512, p99: ≈2048 } }
 * ```
 *
 * @see {@link WindowedAggregateState} for the state machine without RxJS.
 * @see {@link AggregateCell} to merge partials.
 * @param options - windows, watermark, output mode, accessors, aggregates and reject handling.
 * @returns An operator from events to {@link AggregateRow}s.
 * @throws TypeError or RangeError when an option is invalid (at creation).
 */
export function windowedAggregate<E, K>(
  options: WindowedAggregateOperatorOptions<E, K>,
): OperatorFunction<E, AggregateRow<K>>;
/**
 * Aggregates a number per key in session windows with a watermark (count, sum, min, max,
 * mean, approximate quantiles and distinct count), as Spark Structured Streaming's
 * `withWatermark(...).groupBy(session_window(time, gap), key).agg(...)` does.
 *
 * Sessions, watermark, late rule, output modes (`'append'` or `'complete'`; `'update'` is
 * refused, as Spark refuses it), `flushOnComplete`, `idleAdvance`, `maxWindows` and
 * `maxEventTimeAhead` are {@link windowedCount}'s given `sessionGap`, rule for rule; each
 * row carries the aggregates of its session, and when an event joins two sessions their
 * aggregates merge exactly ({@link AggregateCell.merge}).
 *
 * @example Bytes per status, in sessions that end after 30 s without a request
 * ```ts
 * import { from } from 'rxjs';
 * import { windowedAggregate } from 'mqtt-iot-stream';
 *
 * from([
 *   { at: 0, status: 200, bytes: 512 },
 *   { at: 60_000, status: 200, bytes: 100 },
 *   { at: 30_000, status: 200, bytes: 2048 }, // touches both sessions: they become one
 * ])
 *   .pipe(windowedAggregate({
 *     eventTime: (hit) => hit.at,
 *     key: (hit) => hit.status,
 *     sessionGap: '30 s',
 *     watermarkDelay: '1 minute',
 *     aggregates: { value: (hit) => hit.bytes, sum: true, max: true },
 *   }))
 *   .subscribe((row) => console.log(row.windowStart.getTime(), row.windowEnd.getTime(), row.aggregates));
 * // 0 90000 { count: 3, sum: 2660, max: 2048 }
 * ```
 *
 * @see {@link SessionAggregateState} for the state machine without RxJS.
 * @param options - the session gap, watermark, output mode, accessors, aggregates and reject handling.
 * @returns An operator from events to {@link AggregateRow}s, one a session.
 * @throws TypeError or RangeError when an option is invalid (at creation).
 */
export function windowedAggregate<E, K>(
  options: SessionAggregateOperatorOptions<E, K>,
): OperatorFunction<E, AggregateRow<K>>;
export function windowedAggregate<E, K>(
  options: WindowedAggregateOperatorOptions<E, K> | SessionAggregateOperatorOptions<E, K>,
): OperatorFunction<E, AggregateRow<K>> {
  if (isSessionOptions(options)) {
    const sessionOptions = options as SessionAggregateOperatorOptions<E, K>;
    return windowsOperator(
      resolveSessionAggregate(sessionOptions).settings,
      (emit: (row: AggregateRow<K>) => void) => new SessionAggregateState<E, K>(sessionOptions, emit),
      sessionOptions,
    );
  }
  const windowOptions = options as WindowedAggregateOperatorOptions<E, K>;
  return windowsOperator(
    resolveWindowedAggregate(windowOptions).settings,
    (emit: (row: AggregateRow<K>) => void) => new WindowedAggregateState<E, K>(windowOptions, emit),
    windowOptions,
  );
}
