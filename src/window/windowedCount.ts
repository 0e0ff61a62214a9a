/**
 * The `windowedCount` operator: Spark-style event-time window counts for RxJS.
 * @module
 */
import type { OperatorFunction } from 'rxjs';
import { resolveWindowSettings, type WindowedCountOptions } from './options.js';
import { checkSnapshot } from './snapshot.js';
import { WindowedCountState, type WindowedCountSnapshot, type WindowStats } from './WindowedCountState.js';
import type { WindowRow } from './windowRow.js';
import { windowStatistics } from './windowStatistics.js';
import { windowsOperator } from './windowsOperator.js';
import type { LiveStatistics } from '../observe/LiveStatistics.js';

/** Options of {@link windowedCount}: the window options plus a hook to read live counters and a state to start from. */
export interface WindowedCountOperatorOptions<E, K> extends WindowedCountOptions<E, K> {
  /**
   * Called once per subscription, before the first event, with that subscription's
   * live counters (events seen, late events, watermark, open windows, state size…).
   * Keep the object to read them at any time.
   */
  onSubscribe?: (stats: WindowStats) => void;
  /**
   * Start from this state instead of from nothing: a {@link WindowedCountState.snapshot}
   * taken under the same window options (e.g. saved before a restart). Restored on
   * each subscribe, so every subscription resumes from it; `onSubscribe`'s counters
   * include the snapshot's. Checked when `windowedCount(...)` is called. With
   * `idleAdvance`, the wall clock counts the silence from the subscription.
   */
  initialState?: WindowedCountSnapshot<K>;
  /**
   * Where this subscription's live statistics go (stage `window`: events seen and
   * counted, rejections by kind, late events, rows emitted, open windows, watermark and
   * its lag). See {@link LiveStatistics}.
   */
  statistics?: LiveStatistics;
}

/**
 * Counts events per key in event-time windows with a watermark, as Spark Structured
 * Streaming's `withWatermark(...).groupBy(window(...), key).count()` does.
 *
 * ```
 * windowDuration 10, watermarkDelay 5, append mode; a(3) = key a at event time 3
 *
 * source:    a(1)--b(4)--a(12)--a(3)--b(17)-----------a(2)------|
 * watermark:  -4    -1     7      7     12               12
 * output:    -------------------------[R1]---------------------[R2]|
 *
 * R1 = [0,10) a 2, b 1    final once the watermark reaches 10; a(3) counted: 3 < 7, but its window is open
 * a(2)                    late: [0,10) was final (10 ≤ 12), handed to onReject, not counted
 * R2 = [10,20) a 1, b 1   flushed when the source completes (flushOnComplete)
 * ```
 *
 * Windows are `[windowStart, windowEnd)`, aligned to the epoch (plus `offset`),
 * tumbling or sliding (`slideDuration` < `windowDuration`: an event counts in each of
 * its windows). After each event the watermark becomes `max event time −
 * watermarkDelay` (it never moves back; there is none before the first event).
 * An event is late for a window whose end ≤ the watermark as it stood when the event
 * arrived: it is not counted there and is reported once through `onReject` (kind
 * `'late'`; with `strict` it errors the stream with a `RejectionError`). An event
 * whose time cannot be read is reported with kind `'timestamp'`. This is Spark 2.4's
 * rule (also Spark 3.3, and later Sparks with
 * `spark.sql.streaming.statefulOperator.allowMultiple=false`), so an event older than
 * the watermark still counts in a window that is still open. Spark 3.4 and later judge
 * late events by the watermark one micro-batch older: `lateRule: 'spark-3.4'` (see
 * {@link LateRule} for an example where the two differ).
 *
 * Output modes: `'append'` emits each row once, final, when the watermark passes its
 * window's end; `'update'` emits after each event the rows it changed; in both, a
 * window's state is dropped once it is final, so memory is bounded by the open
 * windows × keys. `'complete'` is Spark's: the watermark drops and closes nothing,
 * and after each event every row of every window seen so far is emitted, so memory
 * and output grow with the number of windows (`maxWindows` bounds them with an
 * error). When the source completes, open windows are flushed (`flushOnComplete`,
 * default `true`; Spark does not do this). With `idleAdvance`, the watermark moves
 * with the wall clock while the source is silent, so a sparse source still sees its
 * windows close; its timer is cleared on complete, error and unsubscribe.
 * `maxEventTimeAhead` (off by default) rejects events stamped too far in the future
 * (kind `'future'`) before they can move the watermark. `initialState` resumes from a
 * {@link WindowedCountState.snapshot}.
 *
 * Options are checked when `windowedCount(...)` is called: a bad one throws there.
 *
 * @example Per-status counts in 1-minute windows with a 2-minute watermark (the reference scenario)
 * ```ts
 * import { from } from 'rxjs';
 * import { windowedCount } from 'mqtt-iot-stream';
 *
 * const requests = [
 *   { at: '2015-05-17T10:05:03Z', status: 200 },
 *   { at: '2015-05-17T10:05:41Z', status: 404 },
 *   { at: '2015-05-17T10:05:12Z', status: 200 },
 *   { at: '2015-05-17T10:08:30Z', status: 200 }, // watermark 10:06:30 closes [10:05, 10:06)
 * ];
 * from(requests)
 *   .pipe(windowedCount({
 *     eventTime: (r) => new Date(r.at),
 *     key: (r) => r.status,
 *     windowDuration: '1 minute',
 *     watermarkDelay: '2 minutes',
 *     onReject: (r) => console.warn(r.reason),
 *   }))
 *   .subscribe((row) => console.log(row.windowStart.toISOString(), row.key, row.count));
 * // 2015-05-17T10:05:00.000Z 200 2
 * // 2015-05-17T10:05:00.000Z 404 1
 * // 2015-05-17T10:08:00.000Z 200 1   (flushed when the source completes)
 * ```
 *
 * @example Sliding windows, running counts
 * ```ts
 * import { of } from 'rxjs';
 * import { windowedCount } from 'mqtt-iot-stream';
 *
 * of({ t: 7 * 60_000, word: 'dog' })
 *   .pipe(windowedCount({
 *     eventTime: (e) => e.t, key: (e) => e.word,
 *     windowDuration: '10 minutes', slideDuration: '5 minutes', watermarkDelay: '10 minutes',
 *     outputMode: 'update',
 *   }))
 *   .subscribe((row) => console.log(row.windowStart.toISOString(), row.key, row.count));
 * // 1970-01-01T00:00:00.000Z dog 1
 * // 1970-01-01T00:05:00.000Z dog 1
 * ```
 *
 * @see {@link WindowedCountState} for the state machine without RxJS.
 * @see {@link WindowRow} for the rows, which the Cassandra sink writes.
 * @param options - windows, watermark, output mode, accessors and reject handling.
 * @returns An operator from events to {@link WindowRow}s.
 * @throws TypeError or RangeError when an option is invalid (at creation).
 */
export function windowedCount<E, K>(options: WindowedCountOperatorOptions<E, K>): OperatorFunction<E, WindowRow<K>> {
  const settings = resolveWindowSettings(options);
  const initialState = options.initialState;
  if (initialState !== undefined) checkSnapshot(initialState, settings, 'windowedCount: initialState');
  return windowsOperator(
    settings,
    (emit: (row: WindowRow<K>) => void) => {
      // The settings checked above, passed on so they are not checked again per subscription.
      const counter = new WindowedCountState<E, K>(settings, emit);
      if (initialState !== undefined) counter.restore(initialState);
      options.onSubscribe?.(counter);
      options.statistics?.add(windowStatistics(counter));
      return counter;
    },
    initialState !== undefined,
  );
}
