// The demo's terminal view: the newest windows with their per-status counts, redrawn
// in place on a terminal, or printed as final rows when output is a pipe or a file.
import type { WindowRow } from 'mqtt-iot-stream';
import type { Tally } from './tally.js';

const SHOWN_WINDOWS = 8;

export class LiveView {
  // windowStart (ms) → status → count; only the newest SHOWN_WINDOWS are kept.
  private readonly windows = new Map<number, { end: number; counts: Map<number, number> }>();
  private readonly printedFinal = new Set<number>();
  private drawnLines = 0;

  constructor(private readonly tally: Tally, private readonly out: NodeJS.WriteStream = process.stdout) {}

  /** Takes a row from windowedCount (any output mode: the newest count wins). */
  readonly add = (row: WindowRow<number>): void => {
    const start = row.windowStart.getTime();
    let window = this.windows.get(start);
    if (window === undefined) {
      window = { end: row.windowEnd.getTime(), counts: new Map() };
      this.windows.set(start, window);
      const oldest = [...this.windows.keys()].sort((a, b) => a - b);
      while (oldest.length > SHOWN_WINDOWS) this.forget(oldest.shift()!);
    }
    window.counts.set(row.key, row.count);
  };

  /**
   * Redraws the table (terminal) or prints newly final windows (pipe). `flushed`: the
   * source has completed, so every window shown is final.
   */
  render(flushed = false): void {
    const watermark = flushed ? Infinity : this.tally.windows?.watermark ?? -Infinity;
    if (this.out.isTTY) {
      const lines = this.table(watermark);
      this.out.write(`${this.drawnLines > 0 ? `\x1b[${this.drawnLines}A\x1b[0J` : ''}${lines.join('\n')}\n`);
      this.drawnLines = lines.length;
      return;
    }
    for (const [start, window] of [...this.windows].sort(([a], [b]) => a - b)) {
      if (window.end <= watermark && !this.printedFinal.has(start)) {
        this.printedFinal.add(start);
        this.out.write(`${this.describeWindow(start, window.end)}  ${this.describeCounts(window.counts)}\n`);
      }
    }
  }

  private table(watermark: number): string[] {
    const rows = [...this.windows].sort(([a], [b]) => a - b).map(([start, window]) =>
      `${this.describeWindow(start, window.end)}  ${window.end <= watermark ? 'final' : 'open '}  ${this.describeCounts(window.counts)}`);
    return ['window (UTC)           state  count per status', ...rows, this.tally.summary()];
  }

  private describeWindow(start: number, end: number): string {
    return `${new Date(start).toISOString().slice(11, 19)}–${new Date(end).toISOString().slice(11, 19)}`;
  }

  private describeCounts(counts: Map<number, number>): string {
    return [...counts].sort(([a], [b]) => a - b).map(([status, count]) => `${status}:${count}`).join('  ');
  }

  private forget(start: number): void {
    this.windows.delete(start);
    this.printedFinal.delete(start);
  }
}
