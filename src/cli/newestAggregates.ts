// The demo's line of aggregates under its live table: the newest window's aggregates per
// status (`demo --aggregates`), as rows of windowedAggregate update it.
import type { AggregateRow } from '../index.js';
import { describeAggregates } from './aggregateList.js';
import type { ScreenLine } from './fitToWidth.js';

export class NewestAggregates {
  private start = Number.NEGATIVE_INFINITY;
  private end = 0;
  /** Status → its newest row's aggregates, in the newest window only. */
  private readonly byStatus = new Map<number, AggregateRow<number>['aggregates']>();

  constructor(
    /** What the values are of, for the line: `bytes`. */
    private readonly value: string,
  ) {}

  readonly add = (row: AggregateRow<number>): void => {
    const start = row.windowStart.getTime();
    if (start < this.start) return;
    if (start > this.start) {
      this.start = start;
      this.end = row.windowEnd.getTime();
      this.byStatus.clear();
    }
    this.byStatus.set(row.key, row.aggregates);
  };

  /** `bytes, 12:00:10–12:00:20: 200 sum=… p99=… · 404 sum=…`; nothing before the first row. */
  line(): ScreenLine | undefined {
    if (this.byStatus.size === 0) return undefined;
    const clock = (time: number) => new Date(time).toISOString().slice(11, 19);
    const statuses = [...this.byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, aggregates]) => `${status} ${describeAggregates(aggregates)}`);
    const text = `${this.value}, ${clock(this.start)}–${clock(this.end)}: ${statuses.join(' · ')}`;
    return { text };
  }
}
