// The demo's terminal view: the newest windows in time order, one column per HTTP
// status, under a few lines that say what is running and over the status lines.
//
// On a terminal the whole screen is redrawn from its top corner on the alternate
// screen (as `top` does), so nothing printed in between (a stray newline, a library's
// warning) can leave stacked copies of the table; when the demo ends, the final table
// is printed on the normal screen, where it stays. To a pipe or a file, each window is
// printed once, when it is final (or, at the end, partial).
//
// The screen fits the terminal and says what it leaves out (fitToWidth.ts has the rules
// for a line): the status lines always show; the intro wraps, or takes a row a line
// (its short form, or cut), or gives way to the keys line saying how many lines it
// hides; the status columns narrow, then the window column shows its start only, then
// the rarest statuses share a column headed `+N more` (named under the table when
// there is a row to spare); older windows give way to a `… N older windows` row.
import type { WindowRow } from '../index.js';
import { cutLine, cutToWidth, wrapLine, wrapToWidth, type ScreenLine } from './fitToWidth.js';

const SHOWN_WINDOWS = 8;
/** Nothing wider is drawn, whatever the terminal: the view fits a 100-column window. */
const MAX_WIDTH = 100;
/** Widths tried for a count column, widest first; the narrowest is the widest count + 1. */
const COUNT_WIDTHS = [7, 6, 5];
const STATE_WIDTH = 'partial'.length;

/** The window column: whole (`07:06:40–07:06:50`), or its start alone on a narrow terminal. */
const WINDOW_COLUMNS = [
  { title: 'window (UTC)', width: '00:00:00–00:00:10'.length, text: describeWindow },
  { title: 'start (UTC)', width: 'start (UTC)'.length, text: (start: number) => clock(start) },
] as const;
type WindowColumn = (typeof WINDOW_COLUMNS)[number];

/**
 * Where a window stands: `open` while the watermark has not passed its end, `final` once
 * it has (its count will not change), `partial` when the demo ended before that (its
 * count so far, flushed).
 */
export type WindowState = 'open' | 'final' | 'partial';

export interface LiveViewSource {
  /**
   * What runs: printed above the table. Items within a line are separated by ' · '; the
   * short form is the line's one row when the terminal is too short to wrap it.
   */
  readonly intro: readonly ScreenLine[];
  /** How to press and stop: the one line kept of the intro when the terminal is too short for it. */
  readonly keys: string;
  /** The status lines under the table, read at each redraw. */
  readonly status: () => readonly ScreenLine[];
  /** The watermark now (ms since the epoch), if any: windows ending at or before it are final. */
  readonly watermark: () => number | undefined;
}

interface ShownWindow {
  readonly end: number;
  readonly counts: Map<number, number>;
  /** A row said the watermark had closed it (an append-mode row). */
  closed: boolean;
}

interface TableLayout {
  readonly window: WindowColumn;
  readonly countWidth: number;
  /** Statuses with a column of their own, in numeric order. */
  readonly shown: readonly number[];
  /** Statuses summed in the last column, headed `+N more`, because they did not fit. */
  readonly more: readonly number[];
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
    else this.out.write(`${this.source.intro.map((line) => line.text).join('\n')}\n\n`);
  }

  /** Takes a row from windowedCount (any output mode: the newest count wins). */
  readonly add = (row: WindowRow<number>): void => {
    const start = row.windowStart.getTime();
    let window = this.windows.get(start);
    if (window === undefined) {
      window = { end: row.windowEnd.getTime(), counts: new Map(), closed: false };
      this.windows.set(start, window);
      const oldestFirst = [...this.windows.keys()].sort((a, b) => a - b);
      while (oldestFirst.length > SHOWN_WINDOWS) this.forget(oldestFirst.shift()!);
    }
    window.counts.set(row.key, row.count);
    if (row.final === true) window.closed = true;
  };

  /** Redraws the screen (terminal) or prints the windows that became final (pipe). */
  render(): void {
    if (!this.started || this.closed) return;
    const watermark = this.source.watermark() ?? -Infinity;
    if (!this.out.isTTY) {
      this.printWindows(watermark, false);
      return;
    }
    const lines = this.screen(this.width(), this.out.rows || 24, watermark, false);
    // Home, each line cleared to its end, then everything below cleared: no flicker.
    this.out.write(`\x1b[H${lines.map((line) => `${line}\x1b[K`).join('\n')}\x1b[J`);
  }

  /**
   * The source has completed: leaves the alternate screen and prints the final table
   * where it stays (terminal), or the windows not printed yet (pipe). The windows the
   * watermark had not closed are `partial`: their counts were flushed, not final.
   */
  close(): void {
    if (!this.started || this.closed) return;
    const watermark = this.source.watermark() ?? -Infinity;
    if (!this.out.isTTY) {
      this.printWindows(watermark, true);
    } else {
      this.out.write('\x1b[?25h\x1b[?1049l');
      // The normal screen scrolls: everything, wrapped rather than cut.
      this.out.write(`${this.screen(this.width(), Infinity, watermark, true).join('\n')}\n`);
    }
    this.closed = true;
  }

  /**
   * The screen for a terminal of `width` × `height`: every line at most `width`
   * columns, at most `height` lines, and whatever was cut or left out marked.
   * `ended`: the source has completed (open windows are partial).
   */
  screen(width: number, height: number, watermark: number, ended: boolean): string[] {
    const status = this.source.status().flatMap((line) => wrapLine(line, width));
    const { lines: table, more } = this.table(width, watermark, ended);
    const [header, ...rows] = table;
    const wrapped = this.source.intro.flatMap((line) => wrapLine({ text: line.text }, width));
    const cut = this.source.intro.map((line) => cutLine(line, width));
    // Which statuses `+N more` sums, when there is a row for it (always, once the demo has ended).
    const legend = more.length > 0 ? wrapToWidth(`+${more.length} more: ${more.join(', ')}`, width) : [];
    for (const [intro, gap, below] of [
      [wrapped, [''], legend],
      [wrapped, [''], []],
      [wrapped, [], []],
      [cut, [''], []],
      [cut, [], []],
    ]) {
      const lines = [...intro!, ...gap!, header!, ...rows, ...below!, ...gap!, ...status];
      if (lines.length <= height) return lines.map((line) => cutToWidth(line, width));
    }
    // Too short for the intro: the keys line, saying how much it hides, and the newest
    // windows that fit (at least two, or the one there is).
    const keys = `${this.source.keys} · ${this.source.intro.length} lines hidden`;
    const room = height - 2 - status.length;
    if (room >= Math.min(rows.length, 2)) {
      const shown =
        rows.length <= room ? rows : [`… ${rows.length - room + 1} older windows`, ...rows.slice(-(room - 1))];
      return [keys, header!, ...shown, ...status].map((line) => cutToWidth(line, width));
    }
    const needed = height - room + Math.min(rows.length, 2);
    const note = cutLine(
      { text: `too small for the table: it needs ${needed} rows`, short: `table needs ${needed} rows` },
      width,
    );
    return fitHeight([note, ...status.map((line) => cutToWidth(line, width))], height, width);
  }

  /**
   * The table's lines (a header, then one line per window, oldest first), fitted to
   * `width` as well as they can be, and the statuses its `+N more` column sums.
   */
  table(width: number, watermark: number, ended: boolean): { lines: string[]; more: readonly number[] } {
    const windows = [...this.windows].sort(([a], [b]) => a - b);
    const layout = tableLayout(windows, width);
    const cell = (text: string): string => text.padStart(layout.countWidth);
    const moreTitle = `+${layout.more.length} more`;
    const moreCell = (text: string): string => (layout.more.length > 0 ? text.padStart(moreTitle.length + 1) : '');
    const header =
      `${layout.window.title.padEnd(layout.window.width)}  ${'state'.padEnd(STATE_WIDTH)}` +
      layout.shown.map((status) => cell(String(status))).join('') +
      moreCell(moreTitle);
    const { more } = layout;
    if (windows.length === 0) return { lines: [header, 'no counts yet: the first press is on its way'], more };
    const shownCount = (count: number): string => (count === 0 ? '-' : String(count));
    const lines = [
      header,
      ...windows.map(([start, window]) => {
        const count = (status: number): number => window.counts.get(status) ?? 0;
        return (
          `${layout.window.text(start, window.end).padEnd(layout.window.width)}  ` +
          windowState(window, watermark, ended).padEnd(STATE_WIDTH) +
          layout.shown.map((status) => cell(shownCount(count(status)))).join('') +
          moreCell(shownCount(layout.more.reduce((sum, status) => sum + count(status), 0)))
        );
      }),
    ];
    return { lines, more };
  }

  private width(): number {
    return Math.min(MAX_WIDTH, this.out.columns || MAX_WIDTH);
  }

  // Each window once, when it is final; at the end, the rest as partial.
  private printWindows(watermark: number, ended: boolean): void {
    for (const [start, window] of [...this.windows].sort(([a], [b]) => a - b)) {
      const state = windowState(window, watermark, ended);
      if (state !== 'open' && !this.printedFinal.has(start)) {
        this.printedFinal.add(start);
        const counts = [...window.counts]
          .sort(([a], [b]) => a - b)
          .map(([status, count]) => `${status}:${count}`)
          .join('  ');
        this.out.write(`${describeWindow(start, window.end)}  ${state.padEnd(STATE_WIDTH)}  ${counts}\n`);
      }
    }
  }

  private forget(start: number): void {
    this.windows.delete(start);
    this.printedFinal.delete(start);
  }
}

function windowState(window: ShownWindow, watermark: number, ended: boolean): WindowState {
  if (window.closed || window.end <= watermark) return 'final';
  return ended ? 'partial' : 'open';
}

/**
 * Every status in a column when they fit (the whole window column first, then its start
 * alone, each with the widest count columns that fit); otherwise the most frequent that
 * fit beside a `+N more` column summing the rest.
 */
function tableLayout(windows: [number, ShownWindow][], width: number): TableLayout {
  const totals = new Map<number, number>();
  let widest = 0;
  for (const [, window] of windows) {
    for (const [status, count] of window.counts) {
      totals.set(status, (totals.get(status) ?? 0) + count);
      widest = Math.max(widest, String(count).length, String(status).length);
    }
  }
  const statuses = [...totals.keys()].sort((a, b) => a - b);
  const narrowest = Math.max(3, widest) + 1;
  const countWidths = [...COUNT_WIDTHS.filter((countWidth) => countWidth > narrowest), narrowest];
  const fixed = (column: WindowColumn): number => column.width + 2 + STATE_WIDTH;
  for (const window of WINDOW_COLUMNS) {
    for (const countWidth of countWidths) {
      if (fixed(window) + statuses.length * countWidth <= width)
        return { window, countWidth, shown: statuses, more: [] };
    }
  }
  const window = WINDOW_COLUMNS[1];
  const byFrequency = [...statuses].sort((a, b) => totals.get(b)! - totals.get(a)! || a - b);
  let kept = statuses.length - 1;
  while (kept > 0 && fixed(window) + kept * narrowest + `+${statuses.length - kept} more`.length + 1 > width) kept--;
  const shown = new Set(byFrequency.slice(0, kept));
  return {
    window,
    countWidth: narrowest,
    shown: statuses.filter((status) => shown.has(status)),
    more: statuses.filter((status) => !shown.has(status)),
  };
}

// The first `height` lines; when some are left out, the last one kept says how many.
function fitHeight(lines: string[], height: number, width: number): string[] {
  if (lines.length <= height) return lines;
  if (height <= 0) return [];
  return [...lines.slice(0, height - 1), cutToWidth(`… ${lines.length - height + 1} more lines`, width)];
}

function clock(time: number): string {
  return new Date(time).toISOString().slice(11, 19);
}

function describeWindow(start: number, end: number): string {
  return `${clock(start)}–${clock(end)}`;
}
