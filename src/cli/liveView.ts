// The demo's terminal view: the newest windows in time order, one column per HTTP
// status, under a few lines that say what is running and over the status lines.
//
// On a terminal the whole screen is redrawn from its top corner on the alternate
// screen (as `top` does), so nothing printed in between (a stray newline, a library's
// warning) can leave stacked copies of the table; when the demo ends, the final table
// is printed on the normal screen, where it stays. To a pipe or a file, each window is
// printed once, when it is final.
import type { WindowRow } from '../index.js';

const SHOWN_WINDOWS = 8;
/** At most this many status columns; the rarest statuses beyond them share "other". */
const STATUS_COLUMNS = 10;
const COUNT_WIDTH = 7;
const WINDOW_WIDTH = '00:00:00–00:00:10'.length;
/** Nothing wider is drawn, whatever the terminal: the view fits a 100-column window. */
const MAX_WIDTH = 100;

export interface LiveViewSource {
  /** What runs: printed above the table. */
  readonly intro: readonly string[];
  /** The status lines under the table, read at each redraw. */
  readonly status: () => readonly string[];
  /** The watermark now (ms since the epoch), if any: windows ending at or before it are final. */
  readonly watermark: () => number | undefined;
}

interface ShownWindow {
  readonly end: number;
  readonly counts: Map<number, number>;
}

export class LiveView {
  // windowStart (ms) → its window; only the newest SHOWN_WINDOWS are kept.
  private readonly windows = new Map<number, ShownWindow>();
  private readonly printedFinal = new Set<number>();
  private started = false;
  private closed = false;

  constructor(
    private readonly source: LiveViewSource,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {}

  /** Shows the intro: on a terminal, switches to the alternate screen and hides the cursor. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.out.isTTY) this.out.write('\x1b[?1049h\x1b[?25l');
    else this.out.write(`${this.source.intro.join('\n')}\n\n`);
  }

  /** Takes a row from windowedCount (any output mode: the newest count wins). */
  readonly add = (row: WindowRow<number>): void => {
    const start = row.windowStart.getTime();
    let window = this.windows.get(start);
    if (window === undefined) {
      window = { end: row.windowEnd.getTime(), counts: new Map() };
      this.windows.set(start, window);
      const oldestFirst = [...this.windows.keys()].sort((a, b) => a - b);
      while (oldestFirst.length > SHOWN_WINDOWS) this.forget(oldestFirst.shift()!);
    }
    window.counts.set(row.key, row.count);
  };

  /** Redraws the screen (terminal) or prints the windows that became final (pipe). */
  render(): void {
    if (!this.started || this.closed) return;
    const watermark = this.source.watermark() ?? -Infinity;
    if (!this.out.isTTY) {
      this.printFinalWindows(watermark);
      return;
    }
    const width = Math.min(MAX_WIDTH, this.out.columns || MAX_WIDTH);
    const height = this.out.rows || 24;
    const lines = [...this.source.intro, '', ...this.table(watermark), '', ...this.source.status()]
      .slice(0, height)
      .map((line) => line.slice(0, width));
    // Home, each line cleared to its end, then everything below cleared: no flicker.
    this.out.write(`\x1b[H${lines.map((line) => `${line}\x1b[K`).join('\n')}\x1b[J`);
  }

  /**
   * The source has completed, so every window shown is final: leaves the alternate
   * screen and prints the final table where it stays (terminal), or the windows not
   * printed yet (pipe).
   */
  close(): void {
    if (!this.started || this.closed) return;
    if (!this.out.isTTY) {
      this.printFinalWindows(Infinity);
    } else {
      this.out.write('\x1b[?25h\x1b[?1049l');
      this.out.write(
        `${[...this.source.intro, '', ...this.table(Infinity), '', ...this.source.status()].join('\n')}\n`,
      );
    }
    this.closed = true;
  }

  /** The table: a header, then one line per window, oldest first. */
  table(watermark: number): string[] {
    const windows = [...this.windows].sort(([a], [b]) => a - b);
    const totals = new Map<number, number>();
    for (const [, window] of windows) {
      for (const [status, count] of window.counts) totals.set(status, (totals.get(status) ?? 0) + count);
    }
    const columns = statusColumns(totals);
    const cell = (text: string): string => text.padStart(COUNT_WIDTH);
    const header =
      `${'window (UTC)'.padEnd(WINDOW_WIDTH)}  ${'state'.padEnd(5)}${columns.shown.map((status) => cell(String(status))).join('')}` +
      (columns.other.size > 0 ? cell('other') : '');
    if (windows.length === 0) return [header, 'no counts yet: the first press is on its way'];
    return [
      header,
      ...windows.map(([start, window]) => {
        const count = (status: number): number => window.counts.get(status) ?? 0;
        const other = [...columns.other].reduce((sum, status) => sum + count(status), 0);
        return (
          `${describeWindow(start, window.end)}  ${window.end <= watermark ? 'final' : 'open '}` +
          columns.shown.map((status) => cell(count(status) === 0 ? '-' : String(count(status)))).join('') +
          (columns.other.size > 0 ? cell(other === 0 ? '-' : String(other)) : '')
        );
      }),
    ];
  }

  private printFinalWindows(watermark: number): void {
    for (const [start, window] of [...this.windows].sort(([a], [b]) => a - b)) {
      if (window.end <= watermark && !this.printedFinal.has(start)) {
        this.printedFinal.add(start);
        const counts = [...window.counts]
          .sort(([a], [b]) => a - b)
          .map(([status, count]) => `${status}:${count}`)
          .join('  ');
        this.out.write(`${describeWindow(start, window.end)}  ${counts}\n`);
      }
    }
  }

  private forget(start: number): void {
    this.windows.delete(start);
    this.printedFinal.delete(start);
  }
}

function describeWindow(start: number, end: number): string {
  return `${new Date(start).toISOString().slice(11, 19)}–${new Date(end).toISOString().slice(11, 19)}`;
}

// Statuses in numeric order; past STATUS_COLUMNS, the most frequent keep a column.
function statusColumns(totals: Map<number, number>): { shown: number[]; other: Set<number> } {
  const statuses = [...totals.keys()].sort((a, b) => a - b);
  if (statuses.length <= STATUS_COLUMNS) return { shown: statuses, other: new Set() };
  const kept = new Set(
    [...statuses].sort((a, b) => totals.get(b)! - totals.get(a)! || a - b).slice(0, STATUS_COLUMNS - 1),
  );
  return {
    shown: statuses.filter((status) => kept.has(status)),
    other: new Set(statuses.filter((status) => !kept.has(status))),
  };
}
