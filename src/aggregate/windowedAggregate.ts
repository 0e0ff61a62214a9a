/**
 * The `windowedAggregate` operator: Spark-style event-time window aggregates for RxJS.
 * @module
 */
import type { OperatorFunction } from 'rxjs';
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import { windowStatistics } from '../window/windowStatistics.js';
import { windowsOperator } from '../window/windowsOperator.js';
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
): OperatorFunction<E, AggregateRow<K>> {
  const { settings } = resolveWindowedAggregate(options);
  const initialState = options.initialState;
  // Restored once now, so that a bad snapshot throws here rather than on subscribe.
  if (initialState !== undefined) new WindowedAggregateState<E, K>(options, () => {}).restore(initialState);
  return windowsOperator(
    settings,
    (emit: (row: AggregateRow<K>) => void) => {
      const state = new WindowedAggregateState<E, K>(options, emit);
      if (initialState !== undefined) state.restore(initialState);
      options.onSubscribe?.(state);
      options.statistics?.add(windowStatistics(state));
      return state;
    },
    initialState !== undefined,
  );
}
