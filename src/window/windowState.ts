/**
 * What every event-time window state offers its operator and the durable core: fixed
 * windows ({@link EventTimeWindows}) and session windows alike.
 * @module
 */
import type { WindowStats } from './WindowedCountState.js';
import type { WindowRow } from './windowRow.js';

/**
 * A window state one event at a time: push events, move the watermark without one,
 * flush at the end, and read the open rows and the live counters.
 *
 * @typeParam E - the event type.
 * @typeParam R - the row emitted.
 * @internal
 */
export interface WindowState<E, R extends WindowRow<unknown>> extends WindowStats {
  /** Counts one event, moving the watermark and emitting what the output mode calls for. */
  push(event: E): void;
  /** Moves the watermark forward without an event (idle advance), closing what it passes. */
  advanceWatermark(to: number): void;
  /** Treats every open window (or session) as final: the source has ended. */
  flush(): void;
  /** The open windows' (or sessions') rows so far. */
  openRows(): R[];
  /** The end of the window (or session) the watermark closes next; `undefined` when none is open. */
  readonly earliestOpenWindowEnd: number | undefined;
}
