// What the aggregator is doing, in one line read from its live statistics: the
// broker's state, messages and their rate, rejected and late events, rows waiting for
// the writer, the watermark. The most telling fields come first, so a narrow terminal
// that cuts the line keeps them.
import type { LiveStatistics } from '../index.js';

interface Sample {
  readonly at: number;
  readonly messages: number;
}

export class StatusLine {
  // Message counts read at earlier lines, oldest first: the rate is measured against
  // the oldest one within `rateOverMs` (or the newest before it).
  private samples: Sample[];

  /**
   * @param rateOverMs - the messages per second are averaged over about this long: a
   *   few seconds for a line redrawn every second, the interval for one printed now and then.
   */
  constructor(
    private readonly statistics: LiveStatistics,
    private readonly rateOverMs: number,
    now = Date.now(),
  ) {
    this.samples = [{ at: now, messages: 0 }];
  }

  /** The line now. */
  text(now = Date.now()): string {
    const statistics = this.statistics;
    const value = (name: string, labels?: Record<string, string>) => statistics.value('durable', name, labels);
    const messages = value('messages_total') ?? 0;
    const late = value('late_events_total') ?? 0;
    const rejected = (value('rejections_total') ?? 0) - (value('rejections_total', { kind: 'late' }) ?? 0);
    const pending = value('pending_rows');
    const watermark = value('watermark_timestamp_seconds');
    const lag = value('watermark_lag_seconds');
    const writerUp = statistics.value('writer', 'writer_up');
    return [
      `broker ${this.brokerState()}`,
      ...(value('intake_paused') === 1 ? ['intake paused'] : []),
      ...(writerUp === 0 ? ['writer down'] : []),
      `messages ${messages} (${this.rate(now, messages)} msg/s)`,
      `rejected ${rejected}`,
      `late ${late}`,
      `pending rows ${pending ?? '-'}`,
      `watermark ${watermark === undefined || !Number.isFinite(watermark) ? '-' : clock(watermark)}` +
        (lag === undefined || !Number.isFinite(lag) ? '' : ` (lag ${describeLag(lag)})`),
    ].join(' · ');
  }

  /** The `state` label of the broker stage's `broker_state` that is 1: connected, reconnecting… */
  private brokerState(): string {
    for (const { stage, statistic } of this.statistics.statistics()) {
      if (stage === 'broker' && statistic.name === 'broker_state' && statistic.value === 1)
        return statistic.labels?.['state'] ?? '?';
    }
    return '-';
  }

  private rate(now: number, messages: number): string {
    while (this.samples.length > 1 && this.samples[1]!.at <= now - this.rateOverMs) this.samples.shift();
    const base = this.samples[0]!;
    this.samples.push({ at: now, messages });
    const seconds = (now - base.at) / 1000;
    if (seconds <= 0) return '0';
    const perSecond = Math.max(0, messages - base.messages) / seconds;
    return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
  }
}

/** A Unix time in seconds as UTC hh:mm:ss (the windows' times are UTC too). */
function clock(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(11, 19);
}

function describeLag(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 120) return `${whole} s`;
  if (whole < 7_200) return `${Math.round(whole / 60)} min`;
  if (whole < 172_800) return `${(whole / 3_600).toFixed(1)} h`;
  return `${Math.round(whole / 86_400)} days`;
}
