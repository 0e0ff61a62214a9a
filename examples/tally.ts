// Running totals the examples print: what was sent, received, refused and written.
import type { Rejection, RejectionKind, WindowStats } from 'mqtt-iot-stream';

export class Tally {
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
