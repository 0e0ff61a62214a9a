/**
 * The `writer` stage of the live statistics: what {@link cassandraSink} wrote, retried
 * and whether Cassandra is taking writes.
 * @module
 */
import {
  counterStatistic,
  gaugeStatistic,
  type Readiness,
  type StageChange,
  type Statistic,
  type StatisticsSource,
} from '../observe/statistic.js';

/**
 * One per pipeline, kept across re-subscriptions so its counters go on.
 * @internal
 */
export class WriterStatistics implements StatisticsSource {
  readonly stage = 'writer';
  private rowsWritten = 0;
  private rowsRefused = 0;
  private retries = 0;
  private outages = 0;
  private down: { readonly since: Date; readonly reason: string } | undefined;

  constructor(
    private readonly target: string,
    private readonly report: (change: Omit<StageChange, 'at'>) => void,
  ) {}

  written(): void {
    this.rowsWritten++;
  }

  refused(): void {
    this.rowsRefused++;
  }

  retried(): void {
    this.retries++;
  }

  outageStarted(since: Date, reason: string): void {
    this.outages++;
    this.down = { since, reason };
    this.report({
      stage: this.stage,
      state: 'down',
      reason: `writes to ${this.target} failing since ${since.toTimeString().slice(0, 8)} (${reason}); retrying`,
    });
  }

  outageEnded(downForMs: number, retries: number): void {
    this.down = undefined;
    this.report({
      stage: this.stage,
      state: 'up',
      reason: `writes to ${this.target} work again after ${Math.round(downForMs / 1000)} s (${retries} ${retries === 1 ? 'retry' : 'retries'})`,
    });
  }

  statistics(): Statistic[] {
    return [
      gaugeStatistic('writer_up', '1 while writes succeed, 0 during an outage', this.down ? 0 : 1),
      counterStatistic('writer_rows_written_total', 'Rows written', this.rowsWritten),
      counterStatistic(
        'writer_rows_refused_total',
        'Rows refused for good (a value that cannot be written)',
        this.rowsRefused,
      ),
      counterStatistic('writer_retries_total', 'Writes retried after a failure', this.retries),
      counterStatistic('writer_outages_total', 'Outages: writes failing until one succeeds', this.outages),
    ];
  }

  readiness(): Readiness {
    return this.down === undefined
      ? { ready: true, reason: `writing to ${this.target}` }
      : {
          ready: false,
          reason: `writes to ${this.target} failing since ${this.down.since.toISOString()} (${this.down.reason})`,
        };
  }
}
