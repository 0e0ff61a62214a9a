/**
 * What `/api/status` answers and the dashboard page draws: a plain function from the
 * pipeline's statistics and windows to one JSON-ready object. No I/O here, and no
 * Node API: the page's own type check (src/observe/dashboard) reads these types too.
 * @module
 */
import type { PipelineReadiness, LiveStatistics } from './LiveStatistics.js';

/** One window of the dashboard's chart: its span, whether it is final, its count per status. */
export interface DashboardWindow {
  /** Inclusive start of the window. */
  readonly start: Date;
  /** Exclusive end of the window. */
  readonly end: Date;
  /** Whether the window is closed (its counts will not change) rather than still counting. */
  readonly final: boolean;
  /** The count of each status (or other key) in the window, e.g. `{ '200': 41, '404': 3 }`. */
  readonly counts: Readonly<Record<string, number>>;
}

/** A list of windows to chart, and what they are, in the page's words. */
export interface WindowsView {
  /** What the windows are, e.g. `this aggregator's share` or `every aggregator, merged`. */
  readonly label: string;
  /** The windows, oldest first. */
  readonly windows: readonly DashboardWindow[];
}

/**
 * A statistic's value as `/api/status` gives it: a number, `null` for one that is not
 * a finite number (a watermark before the first event is NaN), or a histogram's count
 * and sum.
 * @internal
 */
export type StatusValue = number | null | { readonly count: number; readonly sum: number };

/** A {@link DashboardWindow} in JSON: times as ISO 8601 strings. @internal */
export interface WindowJson {
  readonly start: string;
  readonly end: string;
  readonly final: boolean;
  readonly counts: Readonly<Record<string, number>>;
}

/** A {@link WindowsView} in JSON, or the reason it could not be read. @internal */
export type WindowsJson =
  | { readonly label: string; readonly windows: readonly WindowJson[] }
  | { readonly label: string; readonly error: string };

/**
 * The few numbers an operator looks at first, read from the stages' statistics by the
 * names in {@link SUMMARY_NAMES}; `null` when no stage reports one.
 * @internal
 */
export interface StatusSummary {
  readonly messages: number | null;
  /** Every rejection except late events, which have their own number. */
  readonly rejected: number | null;
  readonly late: number | null;
  readonly duplicates: number | null;
  readonly pendingRows: number | null;
  readonly rowsWritten: number | null;
  /** The watermark as an ISO 8601 time. */
  readonly watermark: string | null;
  /** How far the watermark is behind the clock, in seconds. */
  readonly watermarkLagSeconds: number | null;
  /** `connected`, `reconnecting`, `disconnected`… */
  readonly broker: string | null;
  /** `up` or `down`. */
  readonly writer: string | null;
  /** `taking` or `paused`. */
  readonly intake: string | null;
}

/** The body of `GET /api/status`. @internal */
export interface StatusDocument {
  readonly title: string;
  readonly watched: Readonly<Record<string, string>>;
  /** The server's clock, ISO 8601. */
  readonly now: string;
  readonly ready: PipelineReadiness;
  readonly summary: StatusSummary;
  /** Every stage's statistics, by stage, then by `name` or `name{label=value,…}` (labels sorted). */
  readonly stages: Readonly<Record<string, Readonly<Record<string, StatusValue>>>>;
  readonly windows: WindowsJson | null;
  readonly totals: WindowsJson | null;
}

/**
 * The statistics the summary is read from, as the stages name them: for each number,
 * the names tried in order (the first that a stage reports wins), each read from the
 * first stage listed that has it. The durable counter's own numbers come first: the
 * broker and the writer count the same messages and rows again, and adding them would
 * count each twice.
 * @internal
 */
export const SUMMARY_NAMES = {
  messages: [
    ['durable', 'messages_total'],
    ['broker', 'broker_messages_total'],
  ],
  late: [['durable', 'late_events_total']],
  duplicates: [['durable', 'duplicate_messages_total']],
  pendingRows: [['durable', 'pending_rows']],
  rowsWritten: [
    ['durable', 'rows_written_total'],
    ['writer', 'writer_rows_written_total'],
  ],
  watermark: [['durable', 'watermark_timestamp_seconds']],
  watermarkLag: [['durable', 'watermark_lag_seconds']],
  brokerState: [['broker', 'broker_state']],
  brokerConnected: [['broker', 'broker_connected']],
  writerUp: [['writer', 'writer_up']],
  intakePaused: [['durable', 'intake_paused']],
  /** Summed over every stage and every `kind` label but `late`, which is `late_events_total`. */
  rejections: 'rejections_total',
} as const;

/** What {@link statusDocument} is made from. @internal */
export interface StatusInput {
  readonly title: string;
  readonly watched: Readonly<Record<string, string>>;
  readonly statistics: LiveStatistics;
  readonly now: Date;
  readonly windows: WindowsJson | null;
  readonly totals: WindowsJson | null;
}

/** The `/api/status` body. @internal */
export function statusDocument(input: StatusInput): StatusDocument {
  const stages: Record<string, Record<string, StatusValue>> = {};
  const samples: Sample[] = [];
  for (const { stage, statistic } of input.statistics.statistics()) {
    const value = statistic.type === 'histogram' ? statistic.value.count : statistic.value;
    samples.push({ stage, name: statistic.name, labels: statistic.labels ?? {}, value });
    const byName = (stages[stage] ??= {});
    const key = statisticKey(statistic.name, statistic.labels);
    const previous = byName[key];
    if (statistic.type === 'histogram') {
      const { count, sum } = statistic.value;
      byName[key] =
        typeof previous === 'object' && previous !== null
          ? { count: previous.count + count, sum: previous.sum + sum }
          : { count, sum };
    } else {
      // Two statistics of one name and labels in a stage add up; NaN (nothing yet) is null in JSON anyway.
      const value = (typeof previous === 'number' ? previous : 0) + statistic.value;
      byName[key] = Number.isFinite(value) ? value : null;
    }
  }
  return {
    title: input.title,
    watched: input.watched,
    now: input.now.toISOString(),
    ready: input.statistics.readiness(),
    summary: summarize(samples, input.now),
    stages,
    windows: input.windows,
    totals: input.totals,
  };
}

/** A {@link WindowsView} in JSON; throws a RangeError naming the window when a time is not a valid Date. @internal */
export function windowsJson(view: WindowsView): WindowsJson {
  return {
    label: String(view.label),
    windows: view.windows.map((window, index) => {
      const time = (date: Date, which: string) => {
        if (!(date instanceof Date) || Number.isNaN(date.getTime()))
          throw new RangeError(`window ${index} has no valid ${which} time (got ${String(date)})`);
        return date.toISOString();
      };
      return {
        start: time(window.start, 'start'),
        end: time(window.end, 'end'),
        final: window.final === true,
        counts: { ...window.counts },
      };
    }),
  };
}

/** `name`, or `name{a=1,b=2}` with the labels sorted by name. @internal */
export function statisticKey(name: string, labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return name;
  const names = Object.keys(labels).sort();
  if (names.length === 0) return name;
  return `${name}{${names.map((label) => `${label}=${labels[label]}`).join(',')}}`;
}

interface Sample {
  readonly stage: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function summarize(samples: readonly Sample[], now: Date): StatusSummary {
  /** The samples of the first candidate some stage reports: its preferred stage's, else the first stage's. */
  const read = (candidates: readonly (readonly [stage: string, name: string])[]) => {
    for (const [preferred, name] of candidates) {
      const having = samples.filter((sample) => sample.name === name);
      if (having.length === 0) continue;
      const stage = having.some((sample) => sample.stage === preferred) ? preferred : having[0]!.stage;
      return having.filter((sample) => sample.stage === stage);
    }
    return null;
  };
  const total = (found: readonly Sample[] | null) => {
    if (found === null) return null;
    const sum = found.reduce((sum, sample) => sum + sample.value, 0);
    return Number.isFinite(sum) ? sum : null; // NaN: a watermark before the first event
  };

  const rejections = samples.filter(
    (sample) => sample.name === SUMMARY_NAMES.rejections && sample.labels['kind'] !== 'late',
  );
  const watermarkSeconds = total(read(SUMMARY_NAMES.watermark));
  const watermark = watermarkSeconds === null ? null : new Date(watermarkSeconds * 1000);
  const reportedLag = total(read(SUMMARY_NAMES.watermarkLag));

  return {
    messages: total(read(SUMMARY_NAMES.messages)),
    rejected: rejections.length === 0 ? null : total(rejections),
    late: total(read(SUMMARY_NAMES.late)),
    duplicates: total(read(SUMMARY_NAMES.duplicates)),
    pendingRows: total(read(SUMMARY_NAMES.pendingRows)),
    rowsWritten: total(read(SUMMARY_NAMES.rowsWritten)),
    watermark: watermark === null ? null : watermark.toISOString(),
    watermarkLagSeconds:
      reportedLag ?? (watermark === null ? null : Math.max(0, (now.getTime() - watermark.getTime()) / 1000)),
    broker: brokerState(read(SUMMARY_NAMES.brokerState), total(read(SUMMARY_NAMES.brokerConnected))),
    writer: twoStates(total(read(SUMMARY_NAMES.writerUp)), 'up', 'down'),
    intake: twoStates(total(read(SUMMARY_NAMES.intakePaused)), 'paused', 'taking'),
  };
}

/** The `state` label of the `broker_state` sample that is 1, else what `broker_connected` says. */
function brokerState(states: readonly Sample[] | null, connected: number | null): string | null {
  const current = states?.find((sample) => sample.value === 1)?.labels['state'];
  if (current !== undefined) return current;
  return twoStates(connected, 'connected', 'disconnected');
}

function twoStates(value: number | null, one: string, zero: string): string | null {
  if (value === null) return null;
  return value >= 1 ? one : zero;
}
