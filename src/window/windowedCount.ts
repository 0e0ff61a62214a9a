/**
 * The `windowedCount` operator: Spark-style event-time window counts for RxJS.
 * @module
 */
import type { OperatorFunction } from 'rxjs';
import { resolveWindowSettings, type WindowedCountOptions } from './options.js';
import { SessionCountState } from './SessionCountState.js';
import { isSessionOptions, resolveSessionSettings, type SessionWindowOptions } from './sessionOptions.js';
import { checkSessionSnapshot, type SessionCountSnapshot } from './sessionSnapshot.js';
import { checkSnapshot, COUNT_CELLS } from './snapshot.js';
import { WindowedCountState, type WindowedCountSnapshot, type WindowStats } from './WindowedCountState.js';
import type { WindowRow } from './windowRow.js';
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
 * Options of {@link windowedCount} for session windows: the session options, and the live
 * counters, statistics and state to start from of {@link WindowedCountOperatorOptions}.
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type.
 */
export interface SessionCountOperatorOptions<E, K>
  extends SessionWindowOptions<E, K>, Pick<WindowedCountOperatorOptions<E, K>, 'onSubscribe' | 'statistics'> {
  /**
   * Start from this state instead of from nothing: a {@link SessionCountState.snapshot}
   * taken under the same options, restored on each subscribe. Checked when
   * `windowedCount(...)` is called.
   */
  initialState?: SessionCountSnapshot<K>;
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
export function windowedCount<E, K>(options: WindowedCountOperatorOptions<E, K>): OperatorFunction<E, WindowRow<K>>;
/**
 * Counts events per key in session windows with a watermark, as Spark Structured
 * Streaming's `withWatermark(...).groupBy(session_window(time, gap), key).count()` does:
 * each key's events form sessions that end after `sessionGap` without an event.
 *
 * ```
 * sessionGap 10, watermarkDelay 5, append mode; a(3) = key a at event time 3
 *
 * source:    a(1)--a(8)--b(9)--a(30)--a(17)--b(50)-----|
 * watermark:  -4     3     4     25     25     45
 * output:    --------------------------[R1]------------[R2, R3, R4]|
 *
 * R1 = b [9,19) 1     closed by the watermark a(17) arrived with (25)
 * a(17)               not late (17 + 10 > 25): extends a [1,18) to a [1,27); [1,18) had ended
 *                     by the watermark, but only the watermark an event arrives with closes
 * R2 = a [1,27) 3, R3 = a [30,40) 1, R4 = b [50,60) 1   flushed when the source completes
 * ```
 *
 * An event at `t` opens `[t, t + sessionGap)`; a key's sessions that overlap or touch
 * merge, so a row runs from its first event's time to its last event's time plus the gap,
 * and an event between two sessions joins them. An event is late when its own session
 * would end by the watermark (`t + sessionGap ≤ watermark`): counted nowhere, reported
 * through `onReject` (kind `'late'`). In `append` mode (default) a session's row comes out
 * once, final, when the watermark the next event arrives with has passed its end (as in
 * Spark, whose micro-batch merges its events before it closes sessions), or by idle
 * advance; its state is then dropped. `complete` mode emits every session after every
 * event and keeps them all (`maxWindows` bounds them); `update` mode is refused, as Spark
 * refuses it for session windows. `lateRule`, `maxEventTimeAhead`, `flushOnComplete`,
 * `idleAdvance` (the earliest open session's end) and `initialState` (a
 * {@link SessionCountState.snapshot}) work as for fixed windows. See
 * {@link SessionCountState} for the rules and how they were checked against Spark 3.5.
 *
 * @example Readings per sensor, in sessions that end after 30 s without one
 * ```ts
 * import { from } from 'rxjs';
 * import { windowedCount } from 'mqtt-iot-stream';
 *
 * from([
 *   { at: 0, sensor: 'a' },
 *   { at: 20_000, sensor: 'a' },
 *   { at: 90_000, sensor: 'a' }, // watermark 80 s
 *   { at: 95_000, sensor: 'a' }, // arrives with watermark 80 s: closes [0 s, 50 s)
 * ])
 *   .pipe(windowedCount({ eventTime: (r) => r.at, key: (r) => r.sensor, sessionGap: '30 s', watermarkDelay: '10 s' }))
 *   .subscribe((row) => console.log(row.windowStart.getTime(), row.windowEnd.getTime(), row.count, row.final));
 * // 0 50000 2 true
 * // 90000 125000 2 false   (flushed when the source completes)
 * ```
 *
 * @param options - the session gap, watermark, output mode, accessors and reject handling.
 * @returns An operator from events to {@link WindowRow}s, one a session.
 * @throws TypeError or RangeError when an option is invalid (at creation), e.g.
 *   `outputMode: 'update'` or `windowDuration` given beside `sessionGap`.
 */
export function windowedCount<E, K>(options: SessionCountOperatorOptions<E, K>): OperatorFunction<E, WindowRow<K>>;
export function windowedCount<E, K>(
  options: WindowedCountOperatorOptions<E, K> | SessionCountOperatorOptions<E, K>,
): OperatorFunction<E, WindowRow<K>> {
  if (isSessionOptions(options)) {
    const sessionOptions = options as SessionCountOperatorOptions<E, K>;
    const settings = resolveSessionSettings(sessionOptions);
    const initialState = sessionOptions.initialState;
    if (initialState !== undefined)
      checkSessionSnapshot(initialState, settings, 'windowedCount: initialState', COUNT_CELLS);
    // The settings checked here, passed on so they are not checked again per subscription.
    return windowsOperator(settings, (emit) => new SessionCountState<E, K>(settings, emit), sessionOptions);
  }
  const windowOptions = options as WindowedCountOperatorOptions<E, K>;
  const settings = resolveWindowSettings(windowOptions);
  if (windowOptions.initialState !== undefined)
    checkSnapshot(windowOptions.initialState, settings, 'windowedCount: initialState');
  return windowsOperator(settings, (emit) => new WindowedCountState<E, K>(settings, emit), windowOptions);
}
