// The dashboard's windows: the few dozen newest windows of one aggregator, each with
// its count per status, and the same shape for the merged totals read from Cassandra.
//
// Rows written (or printed) are kept for the windows that closed; the open windows'
// counts so far are read from the counter itself (WindowStats.openRows) at each view.
import type { WindowRow, WindowsView, WindowStats, WindowTotal } from '../index.js';

/** Windows kept: half an hour of the default 1-minute windows. */
export const RECENT_WINDOWS = 30;

interface HeldWindow {
  readonly end: number;
  /** status → count */
  readonly counts: Map<number, number>;
}

export interface RecentWindowsOptions {
  /** Windows kept, at most. Default {@link RECENT_WINDOWS}. */
  readonly capacity?: number;
}

export class RecentWindows {
  // windowStart (ms) → its window; at most `capacity`, the newest.
  private readonly windows = new Map<number, HeldWindow>();
  private readonly capacity: number;

  constructor(options: RecentWindowsOptions = {}) {
    this.capacity = options.capacity ?? RECENT_WINDOWS;
  }

  /** A row written or printed: it holds the window's whole count so far, which replaces the one held. */
  readonly row = (row: WindowRow<number>): void => {
    this.window(row.windowStart.getTime(), row.windowEnd.getTime())?.counts.set(row.key, row.count);
  };

  /**
   * The windows held, with the counter's open windows as they stand now, oldest first;
   * final when the watermark has passed their end.
   */
  view(label: string, counter: WindowStats | undefined): WindowsView {
    for (const row of counter?.openRows() ?? []) this.row(row as WindowRow<number>);
    const watermark = counter?.watermark;
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
