/**
 * The event-time window state machine behind {@link windowedCount}: plain,
 * synchronous, no RxJS.
 * @module
 */
import { reject } from '../reject.js';
import { describeDuration } from '../duration.js';
import { windowSettingsOf, type WindowedCountOptions, type WindowSettings } from './options.js';
import { checkSnapshot, STAT_NAMES, type WindowedCountSnapshot } from './snapshot.js';
import type { WindowRow } from './windowRow.js';

export type { WindowedCountSnapshot } from './snapshot.js';

/** The largest epoch millisecond a `Date` can hold (±100,000,000 days). */
const MAX_TIME = 8.64e15;

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
export class WindowedCountState<E, K> implements WindowStats {
  eventsSeen = 0;
  eventsCounted = 0;
  timestampRejects = 0;
  futureRejects = 0;
  lateEvents = 0;
  latePairs = 0;
  rowsEmitted = 0;
  stateSize = 0;

  private readonly settings: WindowSettings<E, K>;
  private readonly eventTimeOf: (event: E) => number | Date;
  private readonly keyOf: (event: E) => K;
  private readonly length: number;
  private readonly slide: number;
  private readonly offset: number;
  private readonly delay: number;
  private readonly emitsUpdates: boolean;
  private readonly emitsComplete: boolean;
  private readonly emitsFinal: boolean;
  /** `'spark-2.4'` rule: a window closes as soon as the watermark passes its end. */
  private readonly closesOnWatermark: boolean;
  /** `'spark-3.4'` rule: a window closes after the next event, on the watermark that event arrived with. */
  private readonly closesOnArrivalWatermark: boolean;
  private readonly maxWindows: number;
  /** Whether `maxEventTimeAhead` is set: the clock is then read for every event. */
  private readonly guardsFuture: boolean;
  private readonly maxEventTimeAhead: number;
  private readonly now: () => number;

  /** Window start → key → count. Numeric starts keep the map keys cheap. */
  private readonly windows = new Map<number, Map<K, number>>();
  /** Starts of the open windows, ascending: all windows have one length, so the final ones are always a prefix. */
  private readonly openStarts: number[] = [];
  /** The last window touched: consecutive events nearly always hit it, saving the outer lookup. */
  private cachedStart = Number.NaN;
  private cachedCounts: Map<K, number> = new Map();
  private currentWatermark = Number.NEGATIVE_INFINITY;
  /**
   * Windows ending at or before this are final: dropped, and late for any event. The
   * late rule decides how it follows the watermark; in complete mode it never moves.
   */
  private closedUpTo = Number.NEGATIVE_INFINITY;
  private largestEventTime = Number.NEGATIVE_INFINITY;

  /**
   * @param options - the window options (checked here; a bad one throws).
   * @param emit - receives every output row, synchronously.
   */
  constructor(
    options: WindowedCountOptions<E, K>,
    private readonly emit: (row: WindowRow<K>) => void,
  ) {
    this.settings = windowSettingsOf(options);
    this.eventTimeOf = this.settings.eventTime;
    this.keyOf = this.settings.key;
    this.length = this.settings.windowDuration;
    this.slide = this.settings.slideDuration;
    this.offset = this.settings.offset;
    this.delay = this.settings.watermarkDelay;
    this.emitsUpdates = this.settings.outputMode === 'update';
    this.emitsComplete = this.settings.outputMode === 'complete';
    this.emitsFinal = this.settings.outputMode === 'append';
    this.closesOnWatermark = !this.emitsComplete && this.settings.lateRule === 'spark-2.4';
    this.closesOnArrivalWatermark = !this.emitsComplete && this.settings.lateRule === 'spark-3.4';
    this.maxWindows = this.settings.maxWindows;
    this.maxEventTimeAhead = this.settings.maxEventTimeAhead;
    this.guardsFuture = this.maxEventTimeAhead !== Number.POSITIVE_INFINITY;
    this.now = this.settings.now;
  }

  /** {@inheritDoc WindowStats.watermark} */
  get watermark(): number | undefined {
    return this.currentWatermark === Number.NEGATIVE_INFINITY ? undefined : this.currentWatermark;
  }

  /** {@inheritDoc WindowStats.maxEventTime} */
  get maxEventTime(): number | undefined {
    return this.largestEventTime === Number.NEGATIVE_INFINITY ? undefined : this.largestEventTime;
  }

  /** {@inheritDoc WindowStats.openWindows} */
  get openWindows(): number {
    return this.openStarts.length;
  }

  /** End of the earliest open window (the next to become final), or `undefined` when none is open. */
  get earliestOpenWindowEnd(): number | undefined {
    const first = this.openStarts[0];
    return first === undefined ? undefined : first + this.length;
  }

  /**
   * An event time as epoch milliseconds: a number as it is, a `Date` as its time,
   * anything else `NaN` (which the counter rejects as an unreadable time).
   */
  static eventTimeMillis(raw: unknown): number {
    return typeof raw === 'number' ? raw : raw instanceof Date ? raw.getTime() : Number.NaN;
  }

  /**
   * Counts one event in each of its windows that is not final, then moves the
   * watermark (emitting the rows the output mode calls for). A late event is
   * reported after it was counted in its open windows; an event with a bad time, or
   * a time too far ahead (`maxEventTimeAhead`), is reported and ignored. With
   * `strict`, any report throws a `RejectionError` (the state stays consistent).
   *
   * @throws RangeError when counting the event would hold more than `maxWindows`
   *   windows; the event is then not counted and the state is unchanged.
   */
  push(event: E): void {
    this.eventsSeen++;
    const raw = this.eventTimeOf(event);
    const time = WindowedCountState.eventTimeMillis(raw);
    if (!(time >= -MAX_TIME && time <= MAX_TIME)) {
      this.rejectTimestamp(event, raw);
      return;
    }
    if (this.guardsFuture) {
      const now = this.now();
      if (time - now > this.maxEventTimeAhead) {
        this.rejectFuture(event, time, now);
        return;
      }
    }
    const key = this.keyOf(event);
    const length = this.length;
    const slide = this.slide;
    // Late is judged against the windows final when the event arrived.
    const closedUpTo = this.closedUpTo;
    const arrivalWatermark = this.currentWatermark;
    // Spark's assignment: last start = t − ((t − offset) mod slide), then step back
    // while the window still covers t. `%` keeps the sign of t, hence the fix-up for
    // times before the epoch (offset).
    const remainder = (time - this.offset) % slide;
    const lastStart = time - (remainder < 0 ? remainder + slide : remainder);
    let firstStart = lastStart;
    while (firstStart - slide + length > time) firstStart -= slide;
    if (this.openStarts.length + (lastStart - firstStart) / slide + 1 > this.maxWindows) {
      this.checkWindowLimit(time, firstStart, lastStart, closedUpTo);
    }

    let late = 0;
    let counted = 0;
    for (let start = firstStart; start <= lastStart; start += slide) {
      if (start + length <= closedUpTo) {
        late++;
        this.settings.onLate?.(start, key);
        continue;
      }
      const counts = start === this.cachedStart ? this.cachedCounts : this.openWindow(start);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      if (count === 1) this.stateSize++;
      counted++;
      if (this.emitsUpdates) this.emitRow(start, key, count, false);
    }
    if (counted > 0) this.eventsCounted++;

    if (time > this.largestEventTime) {
      this.largestEventTime = time;
      if (time - this.delay > this.currentWatermark) this.currentWatermark = time - this.delay;
    }
    // Windows close on the watermark as this event left it, or (Spark ≥ 3.4, which
    // closes them one micro-batch later) as it found it: the next event may still
    // count in the windows in between. The watermark is updated first so that `emit`
    // reads it as it now is.
    const closeAt = this.closesOnWatermark
      ? this.currentWatermark
      : this.closesOnArrivalWatermark
        ? arrivalWatermark
        : closedUpTo;
    if (closeAt > this.closedUpTo) this.closeUpTo(closeAt);
    if (this.emitsComplete) this.emitAllRows();
    if (late > 0) this.rejectLate(event, time, firstStart, late, late + counted, closedUpTo);
  }

  /**
   * Moves the watermark forward to `to` (never back) without an event, then emits
   * and drops every window that ends by the watermark, as a Spark no-data
   * micro-batch does: under `'spark-3.4'` that includes the windows the last event
   * left open (even when `to` is behind the watermark). Nothing closes in `complete`
   * mode. Used for idle advance; also handy to close windows on a heartbeat.
   *
   * @param to - the new watermark in epoch milliseconds (finite).
   * @throws RangeError when `to` is not a finite number.
   */
  advanceWatermark(to: number): void {
    if (!Number.isFinite(to))
      throw new RangeError(
        `WindowedCountState.advanceWatermark: the watermark must be a finite time in epoch milliseconds, got ${String(to)}`,
      );
    if (to > this.currentWatermark) this.currentWatermark = to;
    if (!this.emitsComplete && this.currentWatermark > this.closedUpTo) this.closeUpTo(this.currentWatermark);
  }

  /**
   * Treats every open window as final: in `append` mode emits their rows; in every
   * mode drops their state. The watermark is left where it is. Call it when the
   * source has ended.
   */
  flush(): void {
    this.finalizeUpTo(Number.POSITIVE_INFINITY, false);
  }

  /** See {@link WindowStats.openRows}. */
  openRows(): WindowRow<K>[] {
    const rows: WindowRow<K>[] = [];
    for (const start of this.openStarts) {
      const windowStart = new Date(start);
      const windowEnd = new Date(start + this.length);
      for (const [key, count] of this.windows.get(start) as Map<K, number>)
        rows.push({ windowStart, windowEnd, key, count, final: false });
    }
    return rows;
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
    return {
      format: 1,
      settings: { windowDuration, slideDuration, offset, watermarkDelay, outputMode, lateRule },
      watermark: finiteOrNull(this.currentWatermark),
      closedUpTo: finiteOrNull(this.closedUpTo),
      maxEventTime: finiteOrNull(this.largestEventTime),
      windows: this.openStarts.map((windowStart) => ({
        windowStart,
        counts: [...(this.windows.get(windowStart) as Map<K, number>)],
      })),
      stats: Object.fromEntries(STAT_NAMES.map((name) => [name, this[name]])) as WindowedCountSnapshot<K>['stats'],
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
    if (this.eventsSeen > 0 || this.currentWatermark !== Number.NEGATIVE_INFINITY || this.openStarts.length > 0) {
      throw new Error(
        `WindowedCountState.restore: this counter already has state (${this.eventsSeen} event(s) seen, watermark ${String(this.watermark)}); restore into a new counter, before its first event`,
      );
    }
    checkSnapshot(snapshot, this.settings, 'WindowedCountState.restore');
    this.currentWatermark = snapshot.watermark ?? Number.NEGATIVE_INFINITY;
    this.closedUpTo = snapshot.closedUpTo ?? Number.NEGATIVE_INFINITY;
    this.largestEventTime = snapshot.maxEventTime ?? Number.NEGATIVE_INFINITY;
    for (const { windowStart, counts } of snapshot.windows) {
      this.windows.set(windowStart, new Map(counts));
      this.openStarts.push(windowStart);
      this.stateSize += counts.length;
    }
    for (const name of STAT_NAMES) this[name] = snapshot.stats[name];
  }

  private openWindow(start: number): Map<K, number> {
    let counts = this.windows.get(start);
    if (counts === undefined) {
      counts = new Map();
      this.windows.set(start, counts);
      const starts = this.openStarts;
      // New windows nearly always come last; an out-of-order one is inserted in place.
      let at = starts.length;
      while (at > 0 && (starts[at - 1] as number) > start) at--;
      if (at === starts.length) starts.push(start);
      else starts.splice(at, 0, start);
    }
    this.cachedStart = start;
    this.cachedCounts = counts;
    return counts;
  }

  private closeUpTo(limit: number): void {
    this.closedUpTo = limit;
    const first = this.openStarts[0];
    if (first !== undefined && first + this.length <= limit) this.finalizeUpTo(limit, true);
  }

  /**
   * Throws when counting an event would hold more than `maxWindows` windows. Called
   * before anything is counted, so a throw leaves the state as it was.
   */
  private checkWindowLimit(time: number, firstStart: number, lastStart: number, closedUpTo: number): void {
    let opened = 0;
    for (let start = firstStart; start <= lastStart; start += this.slide) {
      if (start + this.length > closedUpTo && !this.windows.has(start)) opened++;
    }
    if (this.openStarts.length + opened <= this.maxWindows) return;
    const advice = this.emitsComplete
      ? "complete mode keeps every window it has seen: raise maxWindows, or use outputMode 'update', which keeps only the windows the watermark has not closed"
      : 'raise maxWindows, or shorten watermarkDelay';
    throw new RangeError(
      `windowedCount: event time ${iso(time)} would open ${opened} more window(s) with ${this.openStarts.length} held, past maxWindows (${this.maxWindows}); not counted. ${advice}`,
    );
  }

  /**
   * Drops (and in append mode emits) every window whose end ≤ `limit`: `closed` when
   * the watermark closed them, not when a flush ends them early.
   */
  private finalizeUpTo(limit: number, closed: boolean): void {
    const starts = this.openStarts;
    let final = 0;
    while (final < starts.length && (starts[final] as number) + this.length <= limit) final++;
    if (final === 0) return;
    // Detach the final windows before emitting, so a re-entrant push sees consistent state.
    const finalStarts = starts.splice(0, final);
    const finalCounts: Map<K, number>[] = [];
    for (const start of finalStarts) {
      const counts = this.windows.get(start) as Map<K, number>;
      this.windows.delete(start);
      this.stateSize -= counts.size;
      finalCounts.push(counts);
      if (start === this.cachedStart) {
        this.cachedStart = Number.NaN;
        this.cachedCounts = new Map();
      }
    }
    const onClosed = this.settings.onWindowClosed;
    if (closed && onClosed !== undefined)
      for (let i = 0; i < finalStarts.length; i++) onClosed(finalStarts[i] as number, finalCounts[i] as Map<K, number>);
    if (!this.emitsFinal) return;
    for (let i = 0; i < finalStarts.length; i++) {
      const start = finalStarts[i] as number;
      for (const [key, count] of finalCounts[i] as Map<K, number>) this.emitRow(start, key, count, closed);
    }
  }

  private emitAllRows(): void {
    for (const start of this.openStarts.slice()) {
      const counts = this.windows.get(start);
      if (counts === undefined) continue;
      for (const [key, count] of counts) this.emitRow(start, key, count, false);
    }
  }

  private emitRow(start: number, key: K, count: number, final: boolean): void {
    this.rowsEmitted++;
    this.emit({ windowStart: new Date(start), windowEnd: new Date(start + this.length), key, count, final });
  }

  private rejectTimestamp(event: E, raw: unknown): void {
    this.timestampRejects++;
    const shown =
      raw instanceof Date
        ? Number.isNaN(raw.getTime())
          ? 'Invalid Date'
          : `Date ${raw.getTime()}`
        : typeof raw === 'number'
          ? String(raw)
          : `a ${typeof raw}`;
    reject(this.settings, {
      operator: 'windowedCount',
      kind: 'timestamp',
      reason: `event time is ${shown}, not a valid time (expected epoch milliseconds or a valid Date within the Date range)`,
      input: event,
    });
  }

  private rejectFuture(event: E, time: number, now: number): void {
    this.futureRejects++;
    const ahead = describeDuration(time - now);
    reject(this.settings, {
      operator: 'windowedCount',
      kind: 'future',
      reason: `event time ${iso(time)} is ${ahead} ahead of this machine's clock (maxEventTimeAhead ${describeDuration(this.maxEventTimeAhead)}); not counted`,
      input: event,
    });
  }

  private rejectLate(
    event: E,
    time: number,
    firstStart: number,
    late: number,
    windows: number,
    closedUpTo: number,
  ): void {
    this.lateEvents++;
    this.latePairs += late;
    // The late windows are the earliest ones of the event (they end first).
    const lastLateStart = firstStart + (late - 1) * this.slide;
    const span =
      late === 1
        ? `window ${interval(firstStart, this.length)}`
        : `windows ${interval(firstStart, this.length)} to ${interval(lastLateStart, this.length)}`;
    const rest = late < windows ? `; counted in its ${windows - late} later window(s)` : '; not counted';
    reject(this.settings, {
      operator: 'windowedCount',
      kind: 'late',
      reason: `event time ${iso(time)} is late for ${late} of its ${windows} window(s): ${span} already final at watermark ${iso(closedUpTo)}${rest}`,
      input: event,
    });
  }
}

function finiteOrNull(time: number): number | null {
  return Number.isFinite(time) ? time : null;
}

function iso(time: number): string {
  return new Date(time).toISOString();
}

function interval(start: number, length: number): string {
  return `[${iso(start)}, ${iso(start + length)})`;
}
