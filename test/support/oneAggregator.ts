// The reference that the shared-subscription tests hold several aggregators' summed
// partial counts against: what one aggregator over the whole stream counts.
import { WindowedCountState } from '../../src/index.js';

const MINUTE = 60_000;

/**
 * Counts `events` in order as one aggregator does: 1-minute windows, a 2-minute
 * watermark, append mode, the windows still open flushed at the end. Returns the count
 * of each `<windowStart ms>/<key>` cell and how many events were late.
 */
export function countAsOneAggregator<E>(
  events: readonly E[],
  eventTime: (event: E) => number,
  key: (event: E) => number,
): { counts: Map<string, number>; late: number } {
  const counts = new Map<string, number>();
  let late = 0;
  const counter = new WindowedCountState<E, number>(
    {
      eventTime,
      key,
      windowDuration: MINUTE,
      watermarkDelay: 2 * MINUTE,
      outputMode: 'append',
      onReject: (rejection) => {
        if (rejection.kind === 'late') late++;
      },
    },
    (row) => counts.set(`${row.windowStart.getTime()}/${row.key}`, row.count),
  );
  for (const event of events) counter.push(event);
  counter.flush();
  return { counts, late };
}
