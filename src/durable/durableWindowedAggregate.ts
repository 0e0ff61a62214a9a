/**
 * `durableWindowedAggregate`: exactly-once window aggregates from MQTT, surviving
 * crashes, restarts, broker restarts and writer outages.
 * @module
 */
import type { OperatorFunction } from 'rxjs';
import { resolveAggregateSpec, type AggregateOptions } from '../aggregate/aggregateSpec.js';
import type { AggregateRow } from '../aggregate/WindowedAggregateState.js';
import type { MqttMessage } from '../mqtt/message.js';
import type { WriteResult } from '../writeQueue.js';
import { resolveDurableOptions, type DurableSessionOptions, type DurableWindowsOptions } from './durableOptions.js';
import { durableWindows } from './durableWindowedCount.js';
import { aggregateKind } from './durableWindowsKind.js';

/**
 * Options of {@link durableWindowedAggregate}: {@link DurableWindowsOptions} writing
 * {@link AggregateRow}s, and the aggregates of each (window, key).
 * @typeParam E - the event type `prepare` emits.
 * @typeParam K - the key type (a string or a number).
 * @typeParam R - the writer's result.
 */
export interface DurableWindowedAggregateOptions<
  E,
  K extends string | number,
  R extends WriteResult<AggregateRow<K>>,
> extends DurableWindowsOptions<E, K, AggregateRow<K>, R> {
  /**
   * The aggregates of each (window, key), beside the count, as {@link windowedAggregate}
   * takes them. They must stay the same across restarts (checked, as the window options are).
   */
  aggregates: AggregateOptions<E>;
}

/**
 * Options of {@link durableWindowedAggregate} over session windows: {@link DurableSessionOptions}
 * writing {@link AggregateRow}s, and the aggregates of each (session, key).
 * @typeParam E - the event type `prepare` emits.
 * @typeParam K - the key type (a string or a number).
 * @typeParam R - the writer's result.
 */
export type DurableSessionAggregateOptions<
  E,
  K extends string | number,
  R extends WriteResult<AggregateRow<K>>,
> = DurableSessionOptions<E, K, AggregateRow<K>, R> & {
  /** The aggregates of each (session, key), beside the count, as {@link windowedAggregate} takes them. */
  aggregates: AggregateOptions<E>;
};

/**
 * Aggregates a number per key in event-time windows like {@link windowedAggregate}, from
 * MQTT messages, with {@link durableWindowedCount}'s guarantees: every QoS ≥ 1 message
 * the broker accepted is folded into exactly one aggregate, whatever happens to this
 * process. Everything {@link durableWindowedCount} says holds here, with the aggregates in
 * place of the count:
 *
 * - the journal keeps each event's value (and distinct value) beside its time and key,
 *   so a replay folds in exactly what the live run did, sketches included;
 * - what plays the part of the count in "a larger count wins" is the number of events
 *   folded into the (window, key), the row's `count`: a (window, key)'s aggregates only
 *   change when an event is folded in, so a row with more events folded in says more.
 *   A waiting row is replaced only by one with a larger count (or the same count, final),
 *   and {@link windowAggregateRows}' write timestamp makes the table keep that row too;
 * - every row carries its {@link AggregateRow.partial}: the checkpoint keeps waiting rows
 *   as their partials, and a table holding several aggregators' rows merges them.
 *
 * An event whose value cannot be read is reported with kind `'value'` (counted in
 * `rejections_total`) and folded in nowhere, as {@link windowedAggregate} does. Given
 * `sessionGap` instead of `windowDuration` ({@link DurableSessionAggregateOptions}), it
 * aggregates per key in session windows; {@link readWindowAggregates} with
 * `sessions: true` merges the session rows of several aggregators.
 *
 * @example Bytes per status, exactly once, into Cassandra
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { Subject } from 'rxjs';
 * import {
 *   cassandraSink, decodeIotPayload, defaultStateDirectory, durableWindowedAggregate, ensureWindowAggregateTable,
 *   fromMqtt, parseAccessLog, windowAggregateRows, type DecodedMqttMessage,
 * } from 'mqtt-iot-stream';
 *
 * const cassandra = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowAggregateTable(cassandra);
 * const stop = new Subject<void>();
 * process.once('SIGTERM', () => stop.next());
 *
 * const broker = {
 *   url: 'mqtt://localhost:1883', clientId: 'aggregator-a1', clean: false,
 *   properties: { sessionExpiryInterval: 7 * 86_400 },
 * };
 * fromMqtt(broker, 'rupesh/gpiotopic', { qos: 1, ack: 'manual', keepSubscription: true }).pipe(
 *   durableWindowedAggregate({
 *     stateDirectory: defaultStateDirectory('a1'),
 *     prepare: (messages, { onReject }) => messages.pipe(
 *       decodeIotPayload({ onReject }),
 *       parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject })),
 *     eventTime: ({ input }) => input.payload.iottimestamp,
 *     key: ({ record }) => record.status,
 *     windowDuration: '1 minute',
 *     watermarkDelay: '2 minutes',
 *     aggregates: { value: ({ record }) => record.bytes ?? 0, sum: true, max: true, quantiles: [0.99] },
 *     write: (rows, { onReject }) => rows.pipe(cassandraSink(cassandra, { ...windowAggregateRows({ aggregator: 'a1' }), onReject })),
 *     stop,
 *   }),
 * ).subscribe({ complete: () => void cassandra.shutdown() });
 * ```
 *
 * @param options - the window options, the aggregates, the state directory, `prepare`, `write` and the stop signal.
 * @returns an operator from MQTT messages to the writer's results.
 * @throws TypeError or RangeError at creation when an option is invalid.
 * @see {@link durableWindowedCount} for the guarantees and the requirements on the source.
 * @see {@link windowedAggregate} for the same aggregates without saved state.
 */
export function durableWindowedAggregate<E, K extends string | number, R extends WriteResult<AggregateRow<K>>>(
  options: DurableWindowedAggregateOptions<E, K, R> | DurableSessionAggregateOptions<E, K, R>,
): OperatorFunction<MqttMessage, R> {
  if (options === null || typeof options !== 'object')
    throw new TypeError('durableWindowedAggregate: options are required');
  if (options.aggregates === undefined)
    throw new TypeError(
      'durableWindowedAggregate: aggregates is required, e.g. { value: (e) => e.bytes, sum: true }; use durableWindowedCount to count alone',
    );
  const spec = resolveAggregateSpec(options.aggregates, 'durableWindowedAggregate');
  return durableWindows(resolveDurableOptions(options, aggregateKind<E, K>(spec)));
}
