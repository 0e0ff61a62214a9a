// Running totals the examples print: what was sent, received, refused and written.
// They are also a stage of the live statistics (`count`) for a pipeline whose counter
// keeps none of its own (the demo's windowedCount): the dashboard reads them there.
import type { Rejection, RejectionKind, Statistic, StatisticsSource, WindowStats } from '../index.js';

export class Tally implements StatisticsSource {
  readonly stage = 'count';
  sent = 0;
  received = 0;
  rowsWritten = 0;
  readonly rejected = new Map<RejectionKind, number>();
  lastRejection: Rejection | undefined;
  windows: WindowStats | undefined;
  /** Whether rows go to a database (otherwise "rows written" means nothing). */
  writing = true;
  /** Whether this process publishes too (otherwise "sent" means nothing). */
  sending = true;

  // Arrow properties: handed to the pipelines as callbacks.
  readonly countReceived = (): void => {
    this.received++;
  };
  readonly countRejected = (rejection: Rejection): void => {
    this.rejected.set(rejection.kind, (this.rejected.get(rejection.kind) ?? 0) + 1);
    this.lastRejection = rejection;
  };
  readonly watchWindows = (stats: WindowStats): void => {
    this.windows = stats;
  };

  get rejectedTotal(): number {
    let total = 0;
    for (const [kind, count] of this.rejected) if (kind !== 'late') total += count;
    return total;
  }

  get late(): number {
    return this.rejected.get('late') ?? 0;
  }

  /** The totals as statistics, named as the durable counter names its own. */
  statistics(): Statistic[] {
    const watermark = this.windows?.watermark;
    return [
      { name: 'messages_total', help: 'MQTT messages received', type: 'counter', value: this.received },
      ...[...this.rejected].map(([kind, count]): Statistic => ({
        name: 'rejections_total',
        help: 'Inputs refused, by kind',
        type: 'counter',
        value: count,
        labels: { kind },
      })),
      { name: 'late_events_total', help: 'Events late for their window', type: 'counter', value: this.late },
      { name: 'open_windows', help: 'Windows not final yet', type: 'gauge', value: this.windows?.openWindows ?? 0 },
      {
        name: 'watermark_timestamp_seconds',
        help: 'The watermark, as a Unix time (NaN before the first event)',
        type: 'gauge',
        value: watermark === undefined ? Number.NaN : watermark / 1000,
      },
      ...(this.writing
        ? [{ name: 'rows_written_total', help: 'Rows written', type: 'counter' as const, value: this.rowsWritten }]
        : []),
    ];
  }

  /** One status line. */
  summary(): string {
    const watermark = this.windows?.watermark;
    return [
      ...(this.sending ? [`sent ${this.sent}`] : []),
      `received ${this.received}`,
      `rejected ${this.rejectedTotal}`,
      `late ${this.late}`,
      ...(this.writing ? [`rows written ${this.rowsWritten}`] : []),
      `watermark ${watermark === undefined ? '-' : new Date(watermark).toISOString().slice(11, 19)}`,
    ].join(' · ');
  }
}
