/**
 * The session window machinery that {@link SessionCountState} and
 * {@link SessionAggregateState} share: sessions that open, grow and merge per key, the
 * watermark, Spark's late rule for sessions, closing and dropping sessions, output modes
 * and snapshots. What a session's cell holds, and the row made of it, is the subclass's.
 * @module
 */
import { EventTimeState, interval, iso } from './EventTimeState.js';
import type { SessionSettings } from './sessionOptions.js';
import { checkSessionSnapshot, type SessionSnapshot } from './sessionSnapshot.js';
import type { SnapshotCells } from './snapshot.js';
import { SessionsByEnd } from './SessionsByEnd.js';
import type { WindowRow } from './windowRow.js';
import type { WindowState } from './windowState.js';

/** One open session of one key: `[start, end)` and what its events made. */
interface Session<K, C> {
  readonly key: K;
  /** The time of its first event. */
  start: number;
  /** The time of its last event, plus the gap. */
  end: number;
  cell: C;
  /** When it was opened, among all: orders the rows of sessions that start together. */
  readonly opened: number;
  /** Its place in {@link SessionsByEnd}. */
  heapIndex: number;
}

/** Rows come out by session start, then in the order the sessions were opened. */
function inRowOrder<K, C>(a: Session<K, C>, b: Session<K, C>): number {
  return a.start - b.start || a.opened - b.opened;
}

/**
 * Spark's session windows, one event at a time, as Spark 3.5 runs `session_window` with
 * one event per micro-batch. The rules, each checked against a real Spark 3.5.9
 * (test/windowSparkOracle.test.ts; the probes quoted are one event per micro-batch, gap
 * 30 s, watermark delay 10 s):
 *
 * - An event at `t` opens `[t, t + gap)`. A key's sessions that overlap *or touch* merge:
 *   Spark's MergingSessionsIterator merges a session starting at or before the current
 *   one's end (`sessionStart <= currentSessionEnd`), so events at 0 s and 30 s make one
 *   session [0 s, 60 s) of 2, although the end is exclusive.
 * - Late: an event is dropped when its own session window would end by the watermark,
 *   `t + gap ≤ watermark` (SessionWindowStateStoreRestoreExec filters the input rows with
 *   the watermark predicate on the session window's end, WatermarkSupport's
 *   `end <= watermark`). With the watermark at 90 s, events at 60 s (60 + 30 ≤ 90) are
 *   dropped and at 61 s counted, in a session [61 s, 91 s), although 61 s is behind the
 *   watermark. Under `'spark-2.4'` (allowMultiple=false) the watermark is the one the event
 *   arrives with; under `'spark-3.4'` (allowMultiple=true) the one the previous event
 *   arrived with: events 0 s (key a), 100 s (key b), 59 s, 60 s (key a) count the 59 s
 *   one (judged by the watermark from before 100 s arrived) and drop the 60 s one.
 * - Closing: sessions end by the watermark *its micro-batch ran with* (the one the event
 *   arrived with), after the event is merged in: a session that ended by the watermark
 *   the last event left is still open for the next event, which may extend it. Events
 *   0 s (key a), 50 s (key b, watermark now 40 s), 25 s (key a, not late: 55 > 40) give
 *   a [0 s, 55 s) of 2 in Spark, not [0 s, 30 s) and [25 s, 55 s). Once closed, a session
 *   is gone: with one more event between, Spark emits a [0 s, 30 s) of 1 and then
 *   a [25 s, 55 s) of 1, two overlapping sessions of one key, and so does this class.
 *   {@link SessionWindows.advanceWatermark} closes what the watermark passed, as Spark's
 *   no-data micro-batch does.
 * - `complete` mode keeps every session for ever (Spark evicts nothing in it) but still
 *   drops late events (the late filter runs before the mode is looked at): events 0 s,
 *   100 s, 60 s, 61 s, 5 s give a [0 s, 30 s) of 1 and a [61 s, 91 s) of 1, the 60 s
 *   and 5 s events dropped. A later event that is not late can still join a kept session
 *   that ended long ago.
 * - `update` mode: Spark refuses it ("Update output mode not supported for session window
 *   on streaming DataFrames/DataSets"), and the options checks refuse it too.
 *
 * A subclass says what a cell is ({@link SessionWindows.newCell},
 * {@link SessionWindows.addTo}, {@link SessionWindows.merge}), which events it takes
 * ({@link EventTimeState.accepts}) and the row a cell makes ({@link SessionWindows.rowOf}).
 *
 * Memory: the open sessions, each a cell and a few numbers, found by key (a `Map` of short
 * arrays) and by end (a heap); a key with no open session holds nothing.
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type (compared as `Map` keys).
 * @typeParam C - what a session holds: a count, an accumulator.
 * @typeParam R - the row emitted.
 * @internal
 */
export abstract class SessionWindows<E, K, C, R extends WindowRow<K>>
  extends EventTimeState<E, K, R>
  implements WindowState<E, R>
{
  /** @internal */
  declare protected readonly settings: SessionSettings<E, K>;
  /** The session gap in milliseconds. @internal */
  protected readonly gap: number;
  /** `'spark-2.4'`: late against the watermark the event arrives with; `'spark-3.4'`: the previous event's (`closedUpTo`). */
  private readonly lateOnArrival: boolean;
  /** Key → its open sessions, by start; each ends before the next starts (else they would have merged). */
  private readonly byKey = new Map<K, Session<K, C>[]>();
  private readonly byEnd = new SessionsByEnd<Session<K, C>>();
  private sessionsOpened = 0;
  // closedUpTo (the base's): the watermark the last event arrived with (or the last
  // advanceWatermark's), as Spark's last micro-batch ran with it; in append mode every
  // session ending by it has closed. Under 'spark-3.4' the next event's late rule.

  /**
   * @param settings - checked session settings.
   * @param operator - names the operator in rejections and errors.
   * @param emit - receives every output row, synchronously.
   */
  protected constructor(settings: SessionSettings<E, K>, operator: string, emit: (row: R) => void) {
    super(settings, operator, emit);
    this.gap = settings.sessionGap;
    this.lateOnArrival = settings.lateRule === 'spark-2.4';
  }

  /** A cell with no event. @internal */
  protected abstract newCell(): C;

  /** `cell` with `event` added (the same cell changed, or a new value). @internal */
  protected abstract addTo(cell: C, event: E): C;

  /** `into` with `from` merged in, when two sessions become one. @internal */
  protected abstract merge(into: C, from: C): C;

  /** The row of one session. @internal */
  protected abstract rowOf(windowStart: number, windowEnd: number, key: K, cell: C, final: boolean): R;

  /** Sessions held now, of all keys. */
  get openWindows(): number {
    return this.byEnd.size;
  }

  /** End of the open session that ends first (the next the watermark closes), or `undefined` when none is open. */
  get earliestOpenWindowEnd(): number | undefined {
    return this.byEnd.peek()?.end;
  }

  /**
   * Adds one event to its key's session (opening one, or merging the sessions it bridges),
   * unless it is late; then closes the sessions that ended by the watermark it arrived
   * with, and moves the watermark. A late event is reported (kind `'late'`) after the
   * rows; an event with a bad time, or a time too far ahead (`maxEventTimeAhead`), is
   * reported and ignored. With `strict`, any report throws a `RejectionError` (the state
   * stays consistent).
   *
   * @throws RangeError when the event would open one session more than `maxWindows`; it
   *   is then not counted and the state is unchanged.
   */
  push(event: E): void {
    const time = this.admit(event);
    if (time !== time) return; // NaN: rejected, and reported
    const key = this.keyOf(event);
    const arrivalWatermark = this.currentWatermark;
    const lateUpTo = this.lateOnArrival ? arrivalWatermark : this.closedUpTo;
    const late = time + this.gap <= lateUpTo;
    if (!late) {
      this.join(key, time, event);
      this.eventsCounted++;
      this.observe(time);
    }
    if (arrivalWatermark > this.closedUpTo) this.closeUpTo(arrivalWatermark);
    if (this.emitsComplete) this.emitAllRows();
    if (late) this.reportLate(event, time, lateUpTo);
  }

  /**
   * Moves the watermark forward to `to` (never back) without an event, then emits and drops
   * every session that ends by the watermark, as a Spark no-data micro-batch does (in
   * `complete` mode nothing closes). Used for idle advance.
   *
   * @param to - the new watermark in epoch milliseconds (finite).
   * @throws RangeError when `to` is not a finite number.
   */
  advanceWatermark(to: number): void {
    this.moveWatermark(to);
    if (this.currentWatermark > this.closedUpTo) this.closeUpTo(this.currentWatermark);
  }

  /**
   * Treats every open session as final: in `append` mode emits their rows; in every mode
   * drops them. The watermark is left where it is. Call it when the source has ended.
   */
  flush(): void {
    this.finalizeUpTo(Number.POSITIVE_INFINITY, false);
  }

  /** The open sessions so far, as rows, by start (then in the order they were opened). */
  openRows(): R[] {
    return this.sessionsInRowOrder().map((session) =>
      this.rowOf(session.start, session.end, session.key, session.cell, false),
    );
  }

  /** Everything the future output depends on, each cell made by `save` (a copy). @internal */
  protected saveState<S>(save: (cell: C) => S): SessionSnapshot<K, S> {
    const { sessionGap, watermarkDelay, outputMode, lateRule } = this.settings;
    return {
      format: 1,
      settings: { sessionGap, watermarkDelay, outputMode, lateRule },
      ...this.saveTimes(),
      sessions: this.sessionsInRowOrder().map(({ key, start, end, cell }) => ({
        key,
        windowStart: start,
        windowEnd: end,
        cell: save(cell),
      })),
    };
  }

  /**
   * Takes over a snapshot of a state with these options once it is checked (`cells` checks
   * each saved cell, `load` makes it a cell); throws, changing nothing, when this state has
   * seen events or the snapshot is not one it could have taken.
   * @internal
   */
  protected restoreState<S>(
    snapshot: SessionSnapshot<K, S>,
    context: string,
    cells: Pick<SnapshotCells, 'noun' | 'expected' | 'check'>,
    load: (saved: S) => C,
  ): void {
    this.assertFresh(context);
    checkSessionSnapshot(snapshot, this.settings, context, cells);
    this.restoreTimes(snapshot);
    // In row order: sessions opened in this order keep their rows' order.
    for (const { key, windowStart, windowEnd, cell } of snapshot.sessions) {
      const session: Session<K, C> = {
        key,
        start: windowStart,
        end: windowEnd,
        cell: load(cell),
        opened: this.sessionsOpened++,
        heapIndex: -1,
      };
      let sessions = this.byKey.get(key);
      if (sessions === undefined) this.byKey.set(key, (sessions = []));
      sessions.push(session);
      this.byEnd.add(session);
      this.stateSize++;
    }
  }

  /** Adds an event that is not late to its key's sessions. */
  private join(key: K, time: number, event: E): void {
    const end = time + this.gap;
    const sessions = this.byKey.get(key) ?? [];
    // The sessions the event's [time, end] meets (touching counts, as in Spark) are a run
    // [first, last]; looked for from the last, which in-order events extend.
    let last = sessions.length - 1;
    while (last >= 0 && sessions[last]!.start > end) last--;
    let first = last;
    while (first >= 0 && sessions[first]!.end >= time) first--;
    first++;
    if (first > last) {
      if (this.byEnd.size >= this.maxWindows) this.refuseSession(time);
      const session: Session<K, C> = {
        key,
        start: time,
        end,
        cell: this.addTo(this.newCell(), event),
        opened: this.sessionsOpened++,
        heapIndex: -1,
      };
      if (sessions.length === 0) this.byKey.set(key, sessions);
      sessions.splice(last + 1, 0, session);
      this.byEnd.add(session);
      this.stateSize++;
      return;
    }
    const session = sessions[first]!;
    let newEnd = Math.max(session.end, end);
    if (last > first) {
      // The event bridges sessions: they become the first one.
      for (let i = first + 1; i <= last; i++) {
        const other = sessions[i]!;
        session.cell = this.merge(session.cell, other.cell);
        newEnd = Math.max(newEnd, other.end);
        this.byEnd.remove(other);
      }
      sessions.splice(first + 1, last - first);
      this.stateSize -= last - first;
    }
    if (time < session.start) session.start = time;
    session.cell = this.addTo(session.cell, event);
    if (newEnd !== session.end) {
      session.end = newEnd;
      this.byEnd.moved(session.heapIndex);
    }
  }

  private closeUpTo(limit: number): void {
    this.closedUpTo = limit;
    if (this.emitsComplete) return;
    const first = this.byEnd.peek();
    if (first !== undefined && first.end <= limit) this.finalizeUpTo(limit, true);
  }

  /**
   * Drops (and in append mode emits) every session whose end ≤ `limit`: `closed` when the
   * watermark closed them, not when a flush ends them early.
   */
  private finalizeUpTo(limit: number, closed: boolean): void {
    const ended: Session<K, C>[] = [];
    for (let next = this.byEnd.peek(); next !== undefined && next.end <= limit; next = this.byEnd.peek()) {
      this.byEnd.pop();
      ended.push(next);
    }
    if (ended.length === 0) return;
    // Detached before emitting, so a re-entrant push sees consistent state.
    for (const session of ended) {
      const sessions = this.byKey.get(session.key)!;
      // A key's sessions end in the order they start: the ended ones come first.
      sessions.splice(sessions.indexOf(session), 1);
      if (sessions.length === 0) this.byKey.delete(session.key);
    }
    this.stateSize -= ended.length;
    if (!this.emitsFinal) return;
    ended.sort(inRowOrder);
    for (const session of ended) this.output(this.rowOf(session.start, session.end, session.key, session.cell, closed));
  }

  private sessionsInRowOrder(): Session<K, C>[] {
    const all: Session<K, C>[] = [];
    for (const sessions of this.byKey.values()) for (const session of sessions) all.push(session);
    return all.sort(inRowOrder);
  }

  private emitAllRows(): void {
    for (const session of this.sessionsInRowOrder())
      this.output(this.rowOf(session.start, session.end, session.key, session.cell, false));
  }

  /** Throws when an event would hold more than `maxWindows` sessions; called before anything changes. */
  private refuseSession(time: number): never {
    const advice = this.emitsComplete
      ? "complete mode keeps every session it has seen: raise maxWindows, or use outputMode 'append', which keeps only the sessions the watermark has not closed"
      : 'raise maxWindows, or shorten watermarkDelay or sessionGap';
    throw new RangeError(
      `${this.operator}: event time ${iso(time)} would open a session with ${this.byEnd.size} held, past maxWindows (${this.maxWindows}); not counted. ${advice}`,
    );
  }

  private reportLate(event: E, time: number, lateUpTo: number): void {
    this.rejectLate(
      event,
      1,
      `event time ${iso(time)} is late: its session window ${interval(time, time + this.gap)} ends by the watermark ${iso(lateUpTo)}, as Spark drops it; not counted`,
    );
  }
}
