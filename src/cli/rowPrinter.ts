// The rows `aggregate` prints on stdout, as a table or as JSON lines. The columns of
// earlier versions come first, in their order; the new ones come last, so a parser
// that splits on whitespace or reads the JSON fields it knows goes on working:
//
//   state   final: the window had closed (its end ≤ the watermark) when the row was
//           printed, so its count will not change; partial: a count so far (the open
//           windows written at a stop, update mode's rows before the window closes).
//   row     new: the first row of this (window, status) in this run; update: it
//           replaces one printed before.
//   aggregates  with --aggregates: each one asked, `sum=2560 max=2048 p99=2041.2`
//           (JSON: an "aggregates" object, as windowedAggregate's rows have it).
//
// The (window, status) pairs printed are remembered until the watermark is a window's
// length past the window's end (a row the writer acknowledged late may still come just
// after the window closed), so memory stays bounded by the open windows and one more.
import type { AggregateValues, WindowRow } from '../index.js';
import { describeAggregates } from './aggregateList.js';

const TIME_WIDTH = '2020-07-01T12:00:00.000Z'.length;

export class RowPrinter {
  // windowStart (ms) → its end and the statuses printed for it.
  private readonly printed = new Map<number, { readonly end: number; readonly statuses: Set<number> }>();

  constructor(
    private readonly format: 'table' | 'json',
    /** The watermark now (ms), if any. */
    private readonly watermark: () => number | undefined,
    /** Whether rows carry aggregates (`aggregate --aggregates`): the table gets their column. */
    private readonly aggregates = false,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  /** The table's header line (nothing for JSON, whose fields are named on every line). */
  header(): void {
    if (this.format === 'table')
      this.out.write(
        `${'window start'.padEnd(TIME_WIDTH)}  ${'window end'.padEnd(TIME_WIDTH)}  status  count  state    row` +
          `${this.aggregates ? '     aggregates' : ''}\n`,
      );
  }

  readonly print = (row: WindowRow<number> & { readonly aggregates?: AggregateValues }): void => {
    const watermark = this.watermark();
    const start = row.windowStart.getTime();
    const end = row.windowEnd.getTime();
    const final = watermark !== undefined && end <= watermark;
    let window = this.printed.get(start);
    if (window === undefined) {
      window = { end, statuses: new Set() };
      this.printed.set(start, window);
    }
    const update = window.statuses.has(row.key);
    window.statuses.add(row.key);
    if (watermark !== undefined) this.forgetBefore(watermark);
    if (this.format === 'json') {
      this.out.write(
        `${JSON.stringify({ windowStart: row.windowStart, windowEnd: row.windowEnd, status: row.key, count: row.count, final, update, ...(row.aggregates === undefined ? {} : { aggregates: row.aggregates }) })}\n`,
      );
    } else {
      this.out.write(
        `${row.windowStart.toISOString()}  ${row.windowEnd.toISOString()}  ${String(row.key).padStart(3)}  ${String(row.count).padStart(8)}` +
          `  ${final ? 'final  ' : 'partial'}  ${update ? 'update' : row.aggregates === undefined ? 'new' : 'new   '}` +
          `${row.aggregates === undefined ? '' : `  ${describeAggregates(row.aggregates)}`}\n`,
      );
    }
  };

  private forgetBefore(watermark: number): void {
    for (const [start, { end }] of this.printed) if (end + (end - start) <= watermark) this.printed.delete(start);
  }
}
