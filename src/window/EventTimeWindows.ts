/**
 * The event-time window machinery that {@link WindowedCountState} and
 * {@link WindowedAggregateState} share: window assignment, the watermark, the late rule,
 * closing and dropping windows, output modes, the future guard and snapshots. What a
 * (window, key) cell holds, and the row made of it, is the subclass's.
 * @module
 */
import { EventTimeState, interval, iso, type EventTimeSaved } from './EventTimeState.js';
import type { WindowSettings } from './options.js';
import type { WindowRow } from './windowRow.js';
import type { WindowState } from './windowState.js';

export { eventTimeMillis, type WindowStatCounters } from './EventTimeState.js';

/** The state a subclass's snapshot is made of, its cells as they are held. @internal */
export interface WindowsState<K, C> extends EventTimeSaved {
  readonly windows: readonly { readonly windowStart: number; readonly cells: readonly (readonly [K, C])[] }[];
}

/**
 * Spark's event-time windows, one event at a time; see {@link WindowedCountState} for the
 * rules. A subclass says what a cell is ({@link EventTimeWindows.addTo}), which events it
 * takes ({@link EventTimeWindows.accepts}) and the row a cell makes
 * ({@link EventTimeWindows.rowOf}).
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type (compared as `Map` keys).
 * @typeParam C - what one (window, key) cell holds: a count, an accumulator.
 * @typeParam R - the row emitted.
 * @internal
 */
export abstract class EventTimeWindows<E, K, C, R extends WindowRow<K>>
  extends EventTimeState<E, K, R>
  implements WindowState<E, R>
{
  /** @internal */
  declare protected readonly settings: WindowSettings<E, K>;
  /** The window length in milliseconds. @internal */
  protected readonly length: number;
  private readonly slide: number;
  private readonly offset: number;
  private readonly emitsUpdates: boolean;
  /** `'spark-2.4'` rule: a window closes as soon as the watermark passes its end. */
  private readonly closesOnWatermark: boolean;
  /** `'spark-3.4'` rule: a window closes after the next event, on the watermark that event arrived with. */
  private readonly closesOnArrivalWatermark: boolean;

  /** Window start → key → cell. Numeric starts keep the map keys cheap. */
  private readonly windows = new Map<number, Map<K, C>>();
  /** Starts of the open windows, ascending: all windows have one length, so the final ones are always a prefix. */
  private readonly openStarts: number[] = [];
  /** The last window touched: consecutive events nearly always hit it, saving the outer lookup. */
  private cachedStart = Number.NaN;
  private cachedCells: Map<K, C> = new Map();
  // closedUpTo (the base's): windows ending at or before it are final, dropped, and late
  // for any event. The late rule decides how it follows the watermark; in complete mode
  // it never moves.

  /**
   * @param settings - checked window settings.
   * @param operator - names the operator in rejections and errors.
   * @param emit - receives every output row, synchronously.
   */
  protected constructor(settings: WindowSettings<E, K>, operator: string, emit: (row: R) => void) {
    super(settings, operator, emit);
    this.length = settings.windowDuration;
    this.slide = settings.slideDuration;
    this.offset = settings.offset;
    this.emitsUpdates = settings.outputMode === 'update';
    this.closesOnWatermark = !this.emitsComplete && settings.lateRule === 'spark-2.4';
    this.closesOnArrivalWatermark = !this.emitsComplete && settings.lateRule === 'spark-3.4';
  }

  /**
   * Adds `event` to `key`'s cell in one window (making the cell if `cells` has none, and
   * counting it in `stateSize`); returns the cell, for an `update` row.
   * @internal
   */
  protected abstract addTo(cells: Map<K, C>, key: K, event: E): C;

  /** The row of one cell. @internal */
  protected abstract rowOf(windowStart: number, key: K, cell: C, final: boolean): R;

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
    const time = this.admit(event);
    if (time !== time) return; // NaN: rejected, and reported
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
      const cells = start === this.cachedStart ? this.cachedCells : this.openWindow(start);
      const cell = this.addTo(cells, key, event);
      counted++;
      if (this.emitsUpdates) this.emitRow(start, key, cell, false);
    }
    if (counted > 0) this.eventsCounted++;

    this.observe(time);
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
    if (late > 0) this.reportLate(event, time, firstStart, late, late + counted, closedUpTo);
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
    this.moveWatermark(to);
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

  /**
   * The open windows' cells so far, as rows (oldest window first, keys in the order
   * they first appeared): what a flush would emit now, for a live view.
   */
  openRows(): R[] {
    const rows: R[] = [];
    for (const start of this.openStarts)
      for (const [key, cell] of this.windows.get(start) as Map<K, C>) rows.push(this.rowOf(start, key, cell, false));
    return rows;
  }

  /** Everything the future output depends on, with each cell made by `save` (a copy). @internal */
  protected saveState<S>(save: (cell: C) => S): WindowsState<K, S> {
    return {
      ...this.saveTimes(),
      windows: this.openStarts.map((windowStart) => ({
        windowStart,
        cells: [...(this.windows.get(windowStart) as Map<K, C>)].map(([key, cell]) => [key, save(cell)] as const),
      })),
    };
  }

  /** Takes over a checked state, after {@link EventTimeState.assertFresh}. @internal */
  protected restoreState(state: WindowsState<K, C>): void {
    this.restoreTimes(state);
    for (const { windowStart, cells } of state.windows) {
      this.windows.set(windowStart, new Map(cells));
      this.openStarts.push(windowStart);
      this.stateSize += cells.length;
    }
  }

  private openWindow(start: number): Map<K, C> {
    let cells = this.windows.get(start);
    if (cells === undefined) {
      cells = new Map();
      this.windows.set(start, cells);
      const starts = this.openStarts;
      // New windows nearly always come last; an out-of-order one is inserted in place.
      let at = starts.length;
      while (at > 0 && (starts[at - 1] as number) > start) at--;
      if (at === starts.length) starts.push(start);
      else starts.splice(at, 0, start);
    }
    this.cachedStart = start;
    this.cachedCells = cells;
    return cells;
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
      `${this.operator}: event time ${iso(time)} would open ${opened} more window(s) with ${this.openStarts.length} held, past maxWindows (${this.maxWindows}); not counted. ${advice}`,
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
    const finalCells: Map<K, C>[] = [];
    for (const start of finalStarts) {
      const cells = this.windows.get(start) as Map<K, C>;
      this.windows.delete(start);
      this.stateSize -= cells.size;
      finalCells.push(cells);
      if (start === this.cachedStart) {
        this.cachedStart = Number.NaN;
        this.cachedCells = new Map();
      }
    }
    const onClosed = this.settings.onWindowClosed;
    if (closed && onClosed !== undefined)
      for (let i = 0; i < finalStarts.length; i++) {
        const start = finalStarts[i] as number;
        onClosed([...(finalCells[i] as Map<K, C>)].map(([key, cell]) => this.rowOf(start, key, cell, true)));
      }
    if (!this.emitsFinal) return;
    for (let i = 0; i < finalStarts.length; i++) {
      const start = finalStarts[i] as number;
      for (const [key, cell] of finalCells[i] as Map<K, C>) this.emitRow(start, key, cell, closed);
    }
  }

  private emitAllRows(): void {
    for (const start of this.openStarts.slice()) {
      const cells = this.windows.get(start);
      if (cells === undefined) continue;
      for (const [key, cell] of cells) this.emitRow(start, key, cell, false);
    }
  }

  private emitRow(start: number, key: K, cell: C, final: boolean): void {
    this.output(this.rowOf(start, key, cell, final));
  }

  private reportLate(
    event: E,
    time: number,
    firstStart: number,
    late: number,
    windows: number,
    closedUpTo: number,
  ): void {
    // The late windows are the earliest ones of the event (they end first).
    const lastLateStart = firstStart + (late - 1) * this.slide;
    const span =
      late === 1
        ? `window ${interval(firstStart, firstStart + this.length)}`
        : `windows ${interval(firstStart, firstStart + this.length)} to ${interval(lastLateStart, lastLateStart + this.length)}`;
    const rest = late < windows ? `; counted in its ${windows - late} later window(s)` : '; not counted';
    this.rejectLate(
      event,
      late,
      `event time ${iso(time)} is late for ${late} of its ${windows} window(s): ${span} already final at watermark ${iso(closedUpTo)}${rest}`,
    );
  }
}
