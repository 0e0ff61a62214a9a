/**
 * The event-time window state machine behind {@link windowedCount}: plain,
 * synchronous, no RxJS.
 * @module
 */
import { EventTimeWindows, eventTimeMillis } from './EventTimeWindows.js';
import { windowSettingsOf, type WindowedCountOptions } from './options.js';
import { checkSnapshot, type WindowedCountSnapshot } from './snapshot.js';
import type { WindowRow } from './windowRow.js';

export type { WindowedCountSnapshot } from './snapshot.js';

/** Live, read-only counters of a {@link WindowedCountState} (and of a {@link windowedCount} subscription). */
export interface WindowStats {
  /** Every event pushed, including rejected ones. */
  readonly eventsSeen: number;
  /** Events counted in at least one window. */
  readonly eventsCounted: number;
  /** Events whose event time was not a valid time (rejected with kind `'timestamp'`). */
  readonly timestampRejects: number;
  /** Events whose time was too far ahead of the clock (rejected with kind `'future'`; see `maxEventTimeAhead`). */
  readonly futureRejects: number;
  /** Events late for at least one of their windows (each reported once, kind `'late'`). */
  readonly lateEvents: number;
  /** (event, window) pairs not counted because the window was already final. */
  readonly latePairs: number;
  /** Rows handed to the output so far. */
  readonly rowsEmitted: number;
  /** Windows holding state now: the ones not final yet (every window seen, in `complete` mode). */
  readonly openWindows: number;
  /** (window, key) counts held now; at most `openWindows` × the number of keys. */
  readonly stateSize: number;
  /** The watermark in epoch milliseconds; `undefined` before the first valid event. */
  readonly watermark: number | undefined;
  /** The largest event time seen; `undefined` before the first valid event. */
  readonly maxEventTime: number | undefined;
  /**
   * The open windows' counts so far, as rows (oldest window first, keys in the order
   * they first appeared): what a flush would emit now, for a live view. A copy.
   */
  openRows(): WindowRow<unknown>[];
}

/**
 * Counts events per key in event-time windows with a watermark, one event at a time,
 * following Spark Structured Streaming's rules (as Spark would with one event per
 * micro-batch).
 *
 * - Windows are `[start, start + windowDuration)` with `start = offset + n × slideDuration`
 *   (epoch-aligned); an event at `t` belongs to every window with `start ≤ t < end`.
 * - The watermark is `max event time − watermarkDelay`, updated after each event and
 *   never moving back; there is none before the first event.
 * - With the default `lateRule: 'spark-2.4'` (Spark 2.4 to 3.3, and later Sparks with
 *   `spark.sql.streaming.statefulOperator.allowMultiple=false`), an event is late for
 *   a window whose end ≤ the watermark as it stood when the event arrived; with
 *   `'spark-3.4'` (the default of Spark 3.4 and later), ≤ the watermark as it stood
 *   when the previous event arrived. It is not counted there and is reported once
 *   (kind `'late'`) through `onReject`, or thrown as a `RejectionError` when `strict`.
 *   It still counts in its other windows, even when its time is below the watermark.
 * - In `append` and `update` mode a window is final once no later event can count in
 *   it (end ≤ the watermark; under `'spark-3.4'`, once the next event is counted): its
 *   state is dropped, so memory holds the open windows only. In `complete` mode, as in
 *   Spark, nothing is late and nothing is dropped: every window is kept (up to
 *   `maxWindows`).
 * - With `maxEventTimeAhead`, an event stamped too far after `now()` is rejected (kind
 *   `'future'`) before it can move the watermark.
 * - {@link WindowedCountState.snapshot} and {@link WindowedCountState.restore} save and resume
 *   the state, e.g. across a restart.
 *
 * Rows go to the `emit` callback, synchronously, in window-start order and, within a
 * window, in the order keys first appeared. State changes are made before rows are
 * emitted, so `emit` may safely read the counters.
 *
 * @example
 * ```ts
 * import { WindowedCountState, type WindowRow } from 'mqtt-iot-stream';
 *
 * const rows: WindowRow<number>[] = [];
 * const counter = new WindowedCountState<{ at: number; status: number }, number>(
 *   { eventTime: (e) => e.at, key: (e) => e.status, windowDuration: '1 minute', watermarkDelay: '2 minutes' },
 *   (row) => rows.push(row),
 * );
 * counter.push({ at: 5_000, status: 200 });
 * counter.push({ at: 200_000, status: 404 }); // watermark 80 000: window [0, 60 000) is final
 * rows; // [{ windowStart: 1970-01-01T00:00:00Z, windowEnd: …T00:01:00Z, key: 200, count: 1 }]
 * counter.flush(); // the source ended: emits [180 000, 240 000) 404 × 1
 * ```
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type (compared as `Map` keys).
 * @see {@link windowedCount} for the RxJS operator around it.
 */
export class WindowedCountState<E, K> extends EventTimeWindows<E, K, number, WindowRow<K>> implements WindowStats {
  /**
   * @param options - the window options (checked here; a bad one throws).
   * @param emit - receives every output row, synchronously.
   */
  constructor(options: WindowedCountOptions<E, K>, emit: (row: WindowRow<K>) => void) {
    const settings = windowSettingsOf(options);
    super(settings, 'windowedCount', emit);
  }

  /**
   * An event time as epoch milliseconds: a number as it is, a `Date` as its time,
   * anything else `NaN` (which the counter rejects as an unreadable time).
   */
  static eventTimeMillis(raw: unknown): number {
    return eventTimeMillis(raw);
  }

  /** @internal */
  protected override addTo(counts: Map<K, number>, key: K): number {
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    if (count === 1) this.stateSize++;
    return count;
  }

  /** @internal */
  protected override rowOf(start: number, key: K, count: number, final: boolean): WindowRow<K> {
    return { windowStart: new Date(start), windowEnd: new Date(start + this.length), key, count, final };
  }

  /**
   * A plain, JSON-serialisable (when `K` is) copy of everything the counter's future
   * output depends on: watermark, largest event time, the windows held with their
   * (key, count) pairs in the order keys first appeared, and the stats counters. Later
   * pushes do not change it. Costs one pass over the state (windows held × keys).
   *
   * @example Save after each event, resume after a restart
   * ```ts
   * import { WindowedCountState, type WindowedCountSnapshot, type WindowedCountOptions } from 'mqtt-iot-stream';
   *
   * interface Hit { at: number; status: number }
   * const options: WindowedCountOptions<Hit, number> = {
   *   eventTime: (hit) => hit.at, key: (hit) => hit.status, windowDuration: '1 minute', watermarkDelay: '2 minutes',
   * };
   * const first = new WindowedCountState(options, (row) => console.log(row));
   * first.push({ at: Date.UTC(2020, 6, 1, 12, 0, 5), status: 200 });
   * const saved = JSON.stringify(first.snapshot());
   *
   * const second = new WindowedCountState(options, (row) => console.log(row));
   * second.restore(JSON.parse(saved) as WindowedCountSnapshot<number>);
   * second.push({ at: Date.UTC(2020, 6, 1, 12, 3, 0), status: 404 }); // [12:00, 12:01) 200 × 1 is final
   * ```
   */
  snapshot(): WindowedCountSnapshot<K> {
    const { windowDuration, slideDuration, offset, watermarkDelay, outputMode, lateRule } = this.settings;
    const { windows, ...state } = this.saveState((count) => count);
    return {
      format: 1,
      settings: { windowDuration, slideDuration, offset, watermarkDelay, outputMode, lateRule },
      ...state,
      windows: windows.map(({ windowStart, cells }) => ({ windowStart, counts: cells })),
    };
  }

  /**
   * Replaces the state of a counter that has seen no event yet with a snapshot taken
   * from a counter with the same options; the counter then goes on exactly as the
   * one the snapshot was taken from would have (same rows, late reports and stats).
   * The snapshot is copied, not kept.
   *
   * @param snapshot - from {@link WindowedCountState.snapshot}, possibly through JSON.
   * @throws Error when events were already pushed (or the watermark advanced), or the
   *   snapshot is malformed or was taken under other window options; the counter is
   *   then unchanged.
   */
  restore(snapshot: WindowedCountSnapshot<K>): void {
    const context = 'WindowedCountState.restore';
    this.assertFresh(context);
    checkSnapshot(snapshot, this.settings, context);
    this.restoreState({
      ...snapshot,
      windows: snapshot.windows.map(({ windowStart, counts }) => ({ windowStart, cells: counts })),
    });
  }
}
