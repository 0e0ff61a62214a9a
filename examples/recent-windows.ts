// The dashboard's windows: the few dozen newest windows of one aggregator, each with
// its count per status, and the same shape for the merged totals read from Cassandra.
//
// The durable counter does not expose its open windows' counts, and in append mode it
// writes a window's rows only when the window closes (or at a stop). So the open
// windows are counted here from the requests on their way to the counter, and every
// row written (or printed) replaces its (window, status) count with the counter's own:
// a final row is the truth, whatever was counted here before it. After a restart the
// open windows show only what arrived since, until their rows come.
import type { WindowRow, WindowsView, WindowTotal } from 'mqtt-iot-stream';

/** Windows kept: half an hour of the default 1-minute windows. */
export const RECENT_WINDOWS = 30;

interface HeldWindow {
  readonly end: number;
  /** status → count */
  readonly counts: Map<number, number>;
}

export interface RecentWindowsOptions {
  /** The window length in ms (tumbling windows from the epoch, as the aggregator counts). */
  readonly windowMillis: number;
  /** Events stamped further ahead of the clock are rejected by the counter; not counted here either. */
  readonly maxEventTimeAheadMillis?: number;
  /** Windows kept, at most. Default {@link RECENT_WINDOWS}. */
  readonly capacity?: number;
}

export class RecentWindows {
  // windowStart (ms) → its window; at most `capacity`, the newest.
  private readonly windows = new Map<number, HeldWindow>();
  private readonly capacity: number;

  constructor(private readonly options: RecentWindowsOptions) {
    this.capacity = options.capacity ?? RECENT_WINDOWS;
  }

  /** A row written or printed: it holds the window's whole count so far, which replaces the one held. */
  readonly row = (row: WindowRow<number>): void => {
    this.window(row.windowStart.getTime(), row.windowEnd.getTime())?.counts.set(row.key, row.count);
  };

  /**
   * A request on its way to the counter: counted in its window unless the counter will
   * refuse it (its window is final by `watermark`: late; too far ahead of the clock).
   */
  event(eventTime: Date, status: number, watermark: number | undefined): void {
    const time = eventTime.getTime();
    if (!Number.isFinite(time)) return;
    const ahead = this.options.maxEventTimeAheadMillis;
    if (ahead !== undefined && time - Date.now() > ahead) return;
    const length = this.options.windowMillis;
    const start = time - (((time % length) + length) % length);
    if (watermark !== undefined && start + length <= watermark) return;
    const counts = this.window(start, start + length)?.counts;
    counts?.set(status, (counts.get(status) ?? 0) + 1);
  }

  /** The windows held, oldest first; final when the watermark has passed their end. */
  view(label: string, watermark: number | undefined): WindowsView {
    return {
      label,
      windows: [...this.windows]
        .sort(([a], [b]) => a - b)
        .map(([start, { end, counts }]) => ({
          start: new Date(start),
          end: new Date(end),
          final: watermark !== undefined && end <= watermark,
          counts: Object.fromEntries([...counts].map(([status, count]) => [String(status), count])),
        })),
    };
  }

  // The window starting at `start`, made if missing; undefined when it is older than
  // every window held and there is no room (it is not recent).
  private window(start: number, end: number): HeldWindow | undefined {
    const held = this.windows.get(start);
    if (held !== undefined) return held;
    if (this.windows.size >= this.capacity) {
      const oldest = Math.min(...this.windows.keys());
      if (start < oldest) return undefined;
      this.windows.delete(oldest);
    }
    const made = { end, counts: new Map<number, number>() };
    this.windows.set(start, made);
    return made;
  }
}

/**
 * The newest `capacity` windows of `totals` (as `readWindowTotals` sums them over the
 * aggregators), final when the watermark has passed their end.
 */
export function totalsView(
  label: string,
  totals: readonly WindowTotal[],
  watermark: number | undefined,
  capacity = RECENT_WINDOWS,
): WindowsView {
  const windows = new Map<string, { start: Date; end: Date; counts: Record<string, number> }>();
  for (const { windowStart, windowEnd, status, count } of totals) {
    const id = `${windowStart.getTime()}/${windowEnd.getTime()}`;
    let window = windows.get(id);
    if (window === undefined) {
      window = { start: windowStart, end: windowEnd, counts: {} };
      windows.set(id, window);
    }
    window.counts[String(status)] = (window.counts[String(status)] ?? 0) + count;
  }
  return {
    label,
    windows: [...windows.values()]
      .sort((a, b) => a.start.getTime() - b.start.getTime() || a.end.getTime() - b.end.getTime())
      .slice(-capacity)
      .map((window) => ({ ...window, final: watermark !== undefined && window.end.getTime() <= watermark })),
  };
}
