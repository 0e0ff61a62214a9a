/**
 * `LiveStatistics`: the stages of one pipeline, gathered in one place to be read by a
 * metrics endpoint, a health check, a status line or a dashboard.
 * @module
 */
import type { Readiness, StageChange, Statistic, StatisticsSource } from './statistic.js';

/** A statistic and the stage it came from. */
export interface StageStatistic {
  readonly stage: string;
  readonly statistic: Statistic;
}

/** The readiness of every stage, and of the whole: ready when every stage is. */
export interface PipelineReadiness extends Readiness {
  readonly stages: Readonly<Record<string, Readiness>>;
}

/**
 * The live statistics of one pipeline: each operator given it as its `statistics`
 * option ({@link fromMqtt}, {@link durableWindowedCount}, {@link cassandraSink}) adds
 * its stage on subscribe. Nothing is counted for it on the per-message path that the
 * stage does not count anyway: values are read when asked.
 *
 * Bind it to a Prometheus registry with {@link registerStatistics}, serve it with
 * {@link serveStatus}, or read it yourself.
 *
 * @example
 * ```ts
 * import { LiveStatistics, fromMqtt } from 'mqtt-iot-stream';
 *
 * const statistics = new LiveStatistics();
 * statistics.onChange((change) => console.error(`${change.stage} ${change.state}: ${change.reason}`));
 * fromMqtt('mqtt://localhost:1883', 'rupesh/gpiotopic', { statistics }).subscribe();
 * setInterval(() => console.error(statistics.value('broker', 'broker_connected') === 1 ? 'up' : 'down'), 5_000);
 * ```
 */
export class LiveStatistics {
  private readonly sources = new Map<string, StatisticsSource>();
  private readonly changeListeners = new Set<(change: StageChange) => void>();
  private readonly stageListeners = new Set<(source: StatisticsSource) => void>();

  /**
   * Adds a stage, replacing one of the same name.
   * @returns the function that removes it (if it was not replaced since).
   */
  add(source: StatisticsSource): () => void {
    this.sources.set(source.stage, source);
    for (const listener of this.stageListeners) listener(source);
    return () => {
      if (this.sources.get(source.stage) === source) this.sources.delete(source.stage);
    };
  }

  /**
   * The stage of that name, made by `create` and added the first time: an operator
   * keeps one stage, and its counters, across re-subscriptions.
   */
  stage<S extends StatisticsSource>(name: string, create: () => S): S {
    const existing = this.sources.get(name);
    if (existing !== undefined) return existing as S;
    const made = create();
    this.add(made);
    return made;
  }

  /** The stages now, in the order they were added. */
  get stages(): readonly StatisticsSource[] {
    return [...this.sources.values()];
  }

  /** Every stage's statistics now. */
  statistics(): StageStatistic[] {
    const all: StageStatistic[] = [];
    for (const source of this.sources.values())
      for (const statistic of source.statistics()) all.push({ stage: source.stage, statistic });
    return all;
  }

  /**
   * One number: the statistic `name` of `stage` (with those labels, when given; the
   * sum over the others when not), or `undefined` when there is no such stage or statistic.
   * A histogram gives its observation count.
   */
  value(stage: string, name: string, labels?: Readonly<Record<string, string>>): number | undefined {
    const source = this.sources.get(stage);
    if (source === undefined) return undefined;
    let found: number | undefined;
    for (const statistic of source.statistics()) {
      if (statistic.name !== name) continue;
      if (labels !== undefined && !sameLabels(statistic.labels, labels)) continue;
      const value = statistic.type === 'histogram' ? statistic.value.count : statistic.value;
      found = (found ?? 0) + value;
    }
    return found;
  }

  /** Ready when every stage that has a notion of readiness is; the reason names the stages that are not. */
  readiness(): PipelineReadiness {
    const stages: Record<string, Readiness> = {};
    const notReady: string[] = [];
    for (const source of this.sources.values()) {
      const readiness = source.readiness?.();
      if (readiness === undefined) continue;
      stages[source.stage] = readiness;
      if (!readiness.ready) notReady.push(`${source.stage}: ${readiness.reason}`);
    }
    if (Object.keys(stages).length === 0) return { ready: false, reason: 'no stage has started yet', stages };
    return { ready: notReady.length === 0, reason: notReady.length === 0 ? 'ready' : notReady.join('; '), stages };
  }

  /** Calls `listener` at every {@link StageChange}. @returns the function that stops it. */
  onChange(listener: (change: StageChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Calls `listener` for every stage added from now on. @returns the function that stops it. */
  onStage(listener: (source: StatisticsSource) => void): () => void {
    this.stageListeners.add(listener);
    return () => this.stageListeners.delete(listener);
  }

  /** Tells the listeners of a change; stages call it. A listener that throws is not allowed to break the stage. */
  report(change: Omit<StageChange, 'at'>): void {
    const full: StageChange = { ...change, at: new Date() };
    for (const listener of this.changeListeners) {
      try {
        listener(full);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function sameLabels(
  actual: Readonly<Record<string, string>> | undefined,
  wanted: Readonly<Record<string, string>>,
): boolean {
  for (const [name, value] of Object.entries(wanted)) if (actual?.[name] !== value) return false;
  return true;
}
