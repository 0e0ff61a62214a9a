/**
 * The one shape in which every stage of a pipeline reports what it is doing: a list
 * of named statistics, read when somebody asks (a Prometheus scrape, a status line,
 * the dashboard), never pushed per message.
 * @module
 */

/** A count of buckets, as a Prometheus histogram holds it. */
export interface HistogramValue {
  /** The buckets' upper bounds, ascending, without `+Inf`. */
  readonly bounds: readonly number[];
  /** Observations ≤ each bound (cumulative), then the total (the `+Inf` bucket). */
  readonly cumulativeCounts: readonly number[];
  /** The sum of every observation. */
  readonly sum: number;
  /** How many observations. */
  readonly count: number;
}

/**
 * One statistic of a stage, in Prometheus's terms: `name` is snake_case with the unit
 * as its suffix (`_seconds`, `_bytes`) and, for a counter, `_total`; a metrics binding
 * puts one prefix before it (see {@link registerStatistics}).
 */
export type Statistic =
  | {
      readonly name: string;
      readonly help: string;
      /** Only ever goes up (since the process started): messages, retries… */
      readonly type: 'counter' | 'gauge';
      readonly value: number;
      /** Label values, e.g. `{ kind: 'late' }`; one `Statistic` per combination. */
      readonly labels?: Readonly<Record<string, string>>;
    }
  | {
      readonly name: string;
      readonly help: string;
      readonly type: 'histogram';
      readonly value: HistogramValue;
      readonly labels?: Readonly<Record<string, string>>;
    };

/** Whether a stage is ready for work, and if not, why, in a sentence. */
export interface Readiness {
  readonly ready: boolean;
  /** What the stage is doing, e.g. `connected and subscribed`, `writes failing since 12:03:04 (…)`. */
  readonly reason: string;
}

/**
 * A change of a stage's state that a person watching wants to hear about once:
 * the broker lost or back, a writer outage, intake paused or resumed.
 */
export interface StageChange {
  /** The stage, e.g. `broker`, `durable`, `writer`. */
  readonly stage: string;
  /** The new state, one word: `connected`, `reconnecting`, `down`, `up`, `paused`, `taking`… */
  readonly state: string;
  /** A sentence for a log line. */
  readonly reason: string;
  readonly at: Date;
}

/**
 * A stage of a pipeline that keeps live statistics: the MQTT connection, the durable
 * counter, the writer, the write queue. Reading is cheap and has no side effect.
 */
export interface StatisticsSource {
  /** The stage's name, one lower-case word: `broker`, `durable`, `writer`, `write_queue`. */
  readonly stage: string;
  /** The stage's statistics now. */
  statistics(): readonly Statistic[];
  /** Whether the stage is ready; stages with no such notion leave it out. */
  readiness?(): Readiness;
}

/** A counter statistic. @internal */
export function counterStatistic(
  name: string,
  help: string,
  value: number,
  labels?: Readonly<Record<string, string>>,
): Statistic {
  return labels === undefined ? { name, help, type: 'counter', value } : { name, help, type: 'counter', value, labels };
}

/** A gauge statistic. @internal */
export function gaugeStatistic(
  name: string,
  help: string,
  value: number,
  labels?: Readonly<Record<string, string>>,
): Statistic {
  return labels === undefined ? { name, help, type: 'gauge', value } : { name, help, type: 'gauge', value, labels };
}
