/**
 * Events for the window benchmarks: real statuses (the nginx corpus, 11 distinct
 * codes, in its order) with event times that advance steadily and arrive up to 59 s
 * out of order within their minute, as in the elastic corpus. Deterministic.
 */
import { corpusLines } from '../test/support/corpora.js';

/** What windowedCount counts in the benchmarks: an event time and a status. */
export interface StatusEvent {
  readonly at: Date;
  readonly status: number;
}

/** Where the generated event times start: 2020-07-01T00:00:00Z. */
export const FIRST_EVENT_TIME = Date.UTC(2020, 6, 1);

let statuses: Uint16Array | undefined;

/** The nginx corpus's statuses in log order. */
export function corpusStatuses(): Uint16Array {
  if (statuses !== undefined) return statuses;
  const lines = corpusLines('nginx');
  statuses = new Uint16Array(lines.length);
  lines.forEach((line, i) => {
    const match = /" (\d{3}) /.exec(line);
    if (match === null) throw new Error(`no status in nginx corpus line ${i + 1}: ${line}`);
    statuses![i] = Number(match[1]);
  });
  return statuses;
}

/**
 * The time of event `i`: `stepMs` apart on average, each pulled back by up to 59 s
 * (a cheap deterministic hash), so windows see out-of-order events but none is late
 * with a 2-minute watermark.
 */
export function eventTime(i: number, stepMs: number): number {
  const jitter = ((i * 2_654_435_761) >>> 0) % 59_000;
  return FIRST_EVENT_TIME + i * stepMs - jitter;
}

/** Event `i` of the stream. */
export function statusEvent(i: number, stepMs: number): StatusEvent {
  const codes = corpusStatuses();
  return { at: new Date(eventTime(i, stepMs)), status: codes[i % codes.length]! };
}

/** `count` events, stored (for throughput runs; memory runs generate them on the fly). */
export function statusEvents(count: number, stepMs: number): StatusEvent[] {
  const events = new Array<StatusEvent>(count);
  for (let i = 0; i < count; i += 1) events[i] = statusEvent(i, stepMs);
  return events;
}
