/**
 * What every event-time state shares, fixed windows ({@link EventTimeWindows}) and
 * sessions ({@link SessionWindows}) alike: the counters, reading an event's time (and
 * rejecting an unreadable or far-future one), the watermark and the largest event time,
 * and the part of a snapshot that is not windows.
 * @module
 */
import { describeDuration } from '../duration.js';
import { reject } from '../reject.js';
import type { EventTimeSettings } from './options.js';
import { STAT_NAMES } from './snapshot.js';
import type { WindowRow } from './windowRow.js';

/** The largest epoch millisecond a `Date` can hold (±100,000,000 days). */
const MAX_TIME = 8.64e15;

/** The running counters a snapshot carries, by name. @internal */
export type WindowStatCounters = { [Stat in (typeof STAT_NAMES)[number]]: number };

/** What every snapshot holds beside its windows or sessions. @internal */
export interface EventTimeSaved {
  readonly watermark: number | null;
  readonly closedUpTo: number | null;
  readonly maxEventTime: number | null;
  readonly stats: WindowStatCounters;
}

/**
 * The base of the window states: counters, event time, watermark. A subclass holds the
 * windows (or sessions), decides what is late and what closes, and emits through
 * {@link EventTimeState.output}.
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type.
 * @typeParam R - the row emitted.
 * @internal
 */
export abstract class EventTimeState<E, K, R extends WindowRow<K>> {
  eventsSeen = 0;
  eventsCounted = 0;
  timestampRejects = 0;
  futureRejects = 0;
  lateEvents = 0;
  latePairs = 0;
  rowsEmitted = 0;
  stateSize = 0;

  /** @internal */
  protected readonly settings: EventTimeSettings<E, K>;
  /** Names the operator in rejections and errors. @internal */
  protected readonly operator: string;
  /** @internal */
  protected readonly keyOf: (event: E) => K;
  /** @internal */
  protected readonly delay: number;
  /** `complete` mode: nothing closes, every row after every event. @internal */
  protected readonly emitsComplete: boolean;
  /** `append` mode: each row once, when final. @internal */
  protected readonly emitsFinal: boolean;
  /** @internal */
  protected readonly maxWindows: number;
  /** The watermark; −∞ before the first event. @internal */
  protected currentWatermark = Number.NEGATIVE_INFINITY;
  /**
   * Windows (or sessions) ending at or before this are closed; how it follows the
   * watermark is the subclass's rule. @internal
   */
  protected closedUpTo = Number.NEGATIVE_INFINITY;
  /** @internal */
  protected largestEventTime = Number.NEGATIVE_INFINITY;
  private readonly eventTimeOf: (event: E) => number | Date;
  /** Whether `maxEventTimeAhead` is set: the clock is then read for every event. */
  private readonly guardsFuture: boolean;
  private readonly maxEventTimeAhead: number;
  private readonly now: () => number;

  /**
   * @param settings - checked settings.
   * @param operator - names the operator in rejections and errors.
   * @param emit - receives every output row, synchronously.
   */
  protected constructor(
    settings: EventTimeSettings<E, K>,
    operator: string,
    private readonly emit: (row: R) => void,
  ) {
    this.settings = settings;
    this.operator = operator;
    this.eventTimeOf = settings.eventTime;
    this.keyOf = settings.key;
    this.delay = settings.watermarkDelay;
    this.emitsComplete = settings.outputMode === 'complete';
    this.emitsFinal = settings.outputMode === 'append';
    this.maxWindows = settings.maxWindows;
    this.maxEventTimeAhead = settings.maxEventTimeAhead;
    this.guardsFuture = this.maxEventTimeAhead !== Number.POSITIVE_INFINITY;
    this.now = settings.now;
  }

  /** {@inheritDoc WindowStats.openWindows} */
  abstract get openWindows(): number;

  /**
   * Whether to count `event`, once its time is known to be valid and not too far ahead:
   * a subclass that reads more of it (a value) rejects it here, reporting why.
   * @internal
   */
  protected accepts(event: E): boolean {
    void event;
    return true;
  }

  /** {@inheritDoc WindowStats.watermark} */
  get watermark(): number | undefined {
    return this.currentWatermark === Number.NEGATIVE_INFINITY ? undefined : this.currentWatermark;
  }

  /** {@inheritDoc WindowStats.maxEventTime} */
  get maxEventTime(): number | undefined {
    return this.largestEventTime === Number.NEGATIVE_INFINITY ? undefined : this.largestEventTime;
  }

  /**
   * Counts `event` as seen and reads its time: `NaN` when it is not to be counted (an
   * unreadable time, a time too far ahead, or what {@link EventTimeState.accepts}
   * refuses), which has then been reported.
   * @internal
   */
  protected admit(event: E): number {
    this.eventsSeen++;
    const raw = this.eventTimeOf(event);
    const time = eventTimeMillis(raw);
    if (!(time >= -MAX_TIME && time <= MAX_TIME)) {
      this.rejectTimestamp(event, raw);
      return Number.NaN;
    }
    if (this.guardsFuture) {
      const now = this.now();
      if (time - now > this.maxEventTimeAhead) {
        this.rejectFuture(event, time, now);
        return Number.NaN;
      }
    }
    return this.accepts(event) ? time : Number.NaN;
  }

  /** Moves the largest event time, and the watermark behind it, to a counted event's time. @internal */
  protected observe(time: number): void {
    if (time > this.largestEventTime) {
      this.largestEventTime = time;
      if (time - this.delay > this.currentWatermark) this.currentWatermark = time - this.delay;
    }
  }

  /**
   * Moves the watermark to `to` when that is later, as idle advance does.
   * @throws RangeError when `to` is not a finite number.
   * @internal
   */
  protected moveWatermark(to: number): void {
    if (!Number.isFinite(to))
      throw new RangeError(
        `${this.constructor.name}.advanceWatermark: the watermark must be a finite time in epoch milliseconds, got ${String(to)}`,
      );
    if (to > this.currentWatermark) this.currentWatermark = to;
  }

  /** Hands `row` to the output. @internal */
  protected output(row: R): void {
    this.rowsEmitted++;
    this.emit(row);
  }

  /** The watermarks and counters, as a snapshot holds them. @internal */
  protected saveTimes(): EventTimeSaved {
    return {
      watermark: finiteOrNull(this.currentWatermark),
      closedUpTo: finiteOrNull(this.closedUpTo),
      maxEventTime: finiteOrNull(this.largestEventTime),
      stats: Object.fromEntries(STAT_NAMES.map((name) => [name, this[name]])) as WindowStatCounters,
    };
  }

  /** Takes over checked watermarks and counters, after {@link EventTimeState.assertFresh}. @internal */
  protected restoreTimes(saved: EventTimeSaved): void {
    this.currentWatermark = saved.watermark ?? Number.NEGATIVE_INFINITY;
    this.closedUpTo = saved.closedUpTo ?? Number.NEGATIVE_INFINITY;
    this.largestEventTime = saved.maxEventTime ?? Number.NEGATIVE_INFINITY;
    for (const name of STAT_NAMES) this[name] = saved.stats[name];
  }

  /**
   * Throws unless nothing happened yet: a snapshot is restored into new windows only.
   * @throws Error when events were already pushed (or the watermark advanced).
   * @internal
   */
  protected assertFresh(context: string): void {
    if (this.eventsSeen > 0 || this.currentWatermark !== Number.NEGATIVE_INFINITY || this.openWindows > 0) {
      throw new Error(
        `${context}: this counter already has state (${this.eventsSeen} event(s) seen, watermark ${String(this.watermark)}); restore into a new counter, before its first event`,
      );
    }
  }

  /** Reports a late event: not counted in `pairs` of its windows (or its session). @internal */
  protected rejectLate(event: E, pairs: number, reason: string): void {
    this.lateEvents++;
    this.latePairs += pairs;
    reject(this.settings, { operator: this.operator, kind: 'late', reason, input: event });
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
      operator: this.operator,
      kind: 'timestamp',
      reason: `event time is ${shown}, not a valid time (expected epoch milliseconds or a valid Date within the Date range)`,
      input: event,
    });
  }

  private rejectFuture(event: E, time: number, now: number): void {
    this.futureRejects++;
    const ahead = describeDuration(time - now);
    reject(this.settings, {
      operator: this.operator,
      kind: 'future',
      reason: `event time ${iso(time)} is ${ahead} ahead of this machine's clock (maxEventTimeAhead ${describeDuration(this.maxEventTimeAhead)}); not counted`,
      input: event,
    });
  }
}

/**
 * An event time as epoch milliseconds: a number as it is, a `Date` as its time,
 * anything else `NaN` (which the windows reject as an unreadable time).
 * @internal
 */
export function eventTimeMillis(raw: unknown): number {
  return typeof raw === 'number' ? raw : raw instanceof Date ? raw.getTime() : Number.NaN;
}

/** A time in messages. @internal */
export function iso(time: number): string {
  return new Date(time).toISOString();
}

/** `[start, end)` in messages. @internal */
export function interval(start: number, end: number): string {
  return `[${iso(start)}, ${iso(end)})`;
}

function finiteOrNull(time: number): number | null {
  return Number.isFinite(time) ? time : null;
}
