/**
 * The aggregator pipeline with and without durable state, as the durability
 * benchmark runs it: QoS 1, 1-minute windows, 2-minute watermark, append mode (the
 * CLI's default, examples/aggregator.ts). Both report each message once it is fully
 * handled (see {@link afterEach}), so the two are timed at the same point.
 */
import { map, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import {
  durableWindowedCount,
  fromMqtt,
  type Durability,
  type DurableWindowStats,
  type LateRow,
  type LiveStatistics,
  type MqttConnectOptions,
  type MqttMessage,
  type Rejection,
  type WindowRow,
} from '../src/index.js';
import { byStatus, decodeAndParse, pipelineWindow, statusCounts } from './pipeline.js';

/** The window settings of the reference scenario, in append mode (final rows only). */
export const durableBenchWindow = { ...pipelineWindow, outputMode: 'append' } as const;

/**
 * Calls `after(value)` once everything downstream has handled `value` (it returned
 * from `next`). For a synchronous pipeline that is the moment the message is
 * counted, and, in the durable one, journaled and acknowledged.
 */
export function afterEach<T>(after: (value: T) => void): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((destination) =>
      source.subscribe({
        next: (value) => {
          destination.next(value);
          after(value);
        },
        error: (error: unknown) => destination.error(error),
        complete: () => destination.complete(),
      }),
    );
}

/**
 * Durability off: `fromMqtt(…, { qos: 1 }) → decodeIotPayload → parseAccessLog →
 * windowedCount`, as examples/aggregator.ts `statusCounts` builds it.
 */
export function plainAggregator(
  conn: MqttConnectOptions,
  topic: string,
  onHandled: (message: MqttMessage) => void,
  onReject: (rejection: Rejection) => void,
): Observable<WindowRow<number>> {
  return fromMqtt(conn, topic, { qos: 1 }).pipe(afterEach(onHandled), statusCounts(durableBenchWindow, onReject));
}

/**
 * What the benchmark's writer emits per row: the row as `value` (what
 * `durableWindowedCount` reads back, as from `cassandraSink`) and as `row` (what it
 * read before the writers shared `WriteResult`).
 */
export interface RowWritten {
  readonly value: WindowRow<number>;
  readonly row: WindowRow<number>;
}

/** Options of {@link durableAggregator}. */
export interface DurableAggregatorOptions {
  readonly stateDirectory: string;
  readonly durability: Durability;
  readonly onHandled: (message: MqttMessage) => void;
  readonly onReject: (rejection: Rejection) => void;
  readonly onSubscribe?: (stats: DurableWindowStats) => void;
  /** Live statistics of the connection and the durable stage, as `aggregate --http` keeps them. */
  readonly statistics?: LiveStatistics;
  /** Keep late counts (acknowledged at once, as the rows) and dead-letter rejected messages to this topic. */
  readonly keepRejected?: { readonly deadLetterTopic: string };
}

/**
 * Durability on: `fromMqtt(…, { qos: 1, ack: 'manual', keepSubscription: true }) →
 * durableWindowedCount` with the same steps in `prepare`, and a writer that
 * acknowledges every row at once (the benchmark measures the state, not Cassandra).
 */
export function durableAggregator(
  conn: MqttConnectOptions,
  topic: string,
  options: DurableAggregatorOptions,
): Observable<RowWritten> {
  const { onReject, statistics, keepRejected } = options;
  const observed = statistics === undefined ? {} : { statistics };
  const kept =
    keepRejected === undefined
      ? {}
      : {
          writeLate: (rows: Observable<LateRow<number>>) => rows.pipe(map((row) => ({ value: row }))),
          deadLetter: {
            broker: { url: conn.url ?? '', clientId: `${String(conn.clientId)}-dead-letters` },
            topic: keepRejected.deadLetterTopic,
          },
        };
  return fromMqtt(conn, topic, { qos: 1, ack: 'manual', keepSubscription: true, ...observed }).pipe(
    afterEach(options.onHandled),
    durableWindowedCount({
      stateDirectory: options.stateDirectory,
      durability: options.durability,
      prepare: decodeAndParse(onReject),
      ...byStatus,
      ...durableBenchWindow,
      onReject,
      ...observed,
      ...kept,
      ...(options.onSubscribe === undefined ? {} : { onSubscribe: options.onSubscribe }),
      write: (rows) => rows.pipe(map((row): RowWritten => ({ value: row, row }))),
    }),
  );
}

/** Connection options of a persistent MQTT 5 session that holds a burst for us. */
export function persistentSessionOptions(
  url: string,
  clientId: string,
): MqttConnectOptions & { readonly clientId: string } {
  return { url, clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 } };
}
