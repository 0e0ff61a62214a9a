/**
 * `registerStatistics`: a pipeline's {@link LiveStatistics} on a prom-client registry.
 * @module
 */
import type { LiveStatistics } from './LiveStatistics.js';
import type { Statistic } from './statistic.js';

/**
 * The part of a prom-client `Registry` this binding uses (so the package needs no
 * prom-client of its own: any prom-client 14 or 15 registry fits).
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

/** Options of {@link registerStatistics}. */
export interface RegisterStatisticsOptions {
  /** Put before every name. Default `'mqtt_iot_stream_'`. */
  prefix?: string;
}

/** One sample as prom-client formats it. */
interface Sample {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

/**
 * Registers every statistic of `statistics` on a prom-client registry, now and for
 * the stages added later, named `<prefix><name>`. Values are read at each scrape:
 * nothing is added to the per-message path.
 *
 * A statistic of a stage that went away (a stream that ended) keeps its name on the
 * registry with no sample, as prom-client's own metrics would.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { Registry, collectDefaultMetrics } from 'prom-client';
 * import { LiveStatistics, registerStatistics } from 'mqtt-iot-stream';
 *
 * const statistics = new LiveStatistics(); // give it to fromMqtt, durableWindowedCount and cassandraSink
 * const registry = new Registry();
 * collectDefaultMetrics({ register: registry });
 * registerStatistics(registry, statistics);
 * createServer(async (_request, response) => {
 *   response.setHeader('Content-Type', registry.contentType);
 *   response.end(await registry.metrics());
 * }).listen(9464, '127.0.0.1');
 * ```
 *
 * @param registry - a prom-client `Registry` (or its default `register`).
 * @param statistics - the pipeline's statistics.
 * @param options - the name prefix.
 * @returns the function that stops registering the stages added later.
 */
export function registerStatistics(
  registry: MetricsRegistry,
  statistics: LiveStatistics,
  options: RegisterStatisticsOptions = {},
): () => void {
  const prefix = options.prefix ?? 'mqtt_iot_stream_';
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix) && prefix !== '')
    throw new TypeError(
      `registerStatistics: prefix must be letters, digits, '_' or ':' and not start with a digit, got ${JSON.stringify(prefix)}`,
    );
  const register = (statistic: Statistic) => {
    const name = `${prefix}${statistic.name}`;
    if (registry.getSingleMetric(name) !== undefined) return;
    registry.registerMetric(metricOf(name, statistic, statistics, prefix) as never);
  };
  for (const { statistic } of statistics.statistics()) register(statistic);
  return statistics.onStage((source) => {
    for (const statistic of source.statistics()) register(statistic);
  });
}

/** A metric object in prom-client's shape, reading its samples from the stages at each scrape. */
function metricOf(name: string, first: Statistic, statistics: LiveStatistics, prefix: string) {
  const get = () => {
    const values: Sample[] = [];
    for (const { statistic } of statistics.statistics()) {
      if (`${prefix}${statistic.name}` !== name) continue;
      const labels = { ...statistic.labels };
      if (statistic.type !== 'histogram') {
        values.push({ value: statistic.value, labels });
        continue;
      }
      const { bounds, cumulativeCounts, sum, count } = statistic.value;
      bounds.forEach((bound, index) =>
        values.push({
          value: cumulativeCounts[index]!,
          labels: { ...labels, le: bound },
          metricName: `${name}_bucket`,
        }),
      );
      values.push({ value: count, labels: { ...labels, le: '+Inf' }, metricName: `${name}_bucket` });
      values.push({ value: sum, labels, metricName: `${name}_sum` });
      values.push({ value: count, labels, metricName: `${name}_count` });
    }
    // metric.name, not name: an OpenMetrics registry takes `_total` off a counter's name
    // (on the metric) and puts it back on each sample, as it does for its own counters.
    return { name: metric.name, help: first.help, type: first.type, values, aggregator: 'sum' };
  };
  const metric = {
    name,
    help: first.help,
    type: first.type,
    aggregator: 'sum',
    labelNames: [],
    get,
    reset: () => undefined,
  };
  return metric;
}
