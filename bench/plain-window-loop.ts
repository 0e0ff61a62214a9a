/**
 * The baseline of the window benchmarks: what a person would write by hand with a
 * Map to count statuses per 1-minute event-time window under a 2-minute watermark,
 * emitting each (window, status) row once when the watermark passes the window's end
 * (Spark's append mode), and flushing the rest at the end.
 */
import type { StatusEvent } from './events.js';

/** A row as the plain loop emits it. */
export interface PlainRow {
  readonly windowStart: Date;
  readonly windowEnd: Date;
  readonly status: number;
  readonly count: number;
}

/** Counts `events` and hands each final row to `emit`; returns how many events were late. */
export function plainWindowLoop(
  events: readonly StatusEvent[],
  emit: (row: PlainRow) => void,
  lengthMs = 60_000,
  delayMs = 120_000,
): number {
  const windows = new Map<number, Map<number, number>>();
  let maxEventTime = -Infinity;
  let watermark = -Infinity;
  let late = 0;
  const close = (windowStart: number, counts: Map<number, number>): void => {
    for (const [status, count] of counts)
      emit({ windowStart: new Date(windowStart), windowEnd: new Date(windowStart + lengthMs), status, count });
    windows.delete(windowStart);
  };
  for (let i = 0; i < events.length; i += 1) {
    const event = events[i]!;
    const time = event.at.getTime();
    const windowStart = time - (((time % lengthMs) + lengthMs) % lengthMs);
    if (windowStart + lengthMs <= watermark) {
      late += 1;
    } else {
      let counts = windows.get(windowStart);
      if (counts === undefined) windows.set(windowStart, (counts = new Map()));
      counts.set(event.status, (counts.get(event.status) ?? 0) + 1);
    }
    if (time > maxEventTime) {
      maxEventTime = time;
      if (maxEventTime - delayMs > watermark) {
        watermark = maxEventTime - delayMs;
        for (const [start, counts] of windows) if (start + lengthMs <= watermark) close(start, counts);
      }
    }
  }
  for (const [start, counts] of windows) close(start, counts);
  return late;
}
