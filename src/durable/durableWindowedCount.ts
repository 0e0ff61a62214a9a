/**
 * `durableWindowedCount`: exactly-once window counts from MQTT, surviving crashes,
 * restarts, broker restarts and writer outages.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { MqttMessage } from '../mqtt/message.js';
import type { WindowRow } from '../window/windowRow.js';
import type { WriteResult } from '../writeQueue.js';
import {
  resolveDurableOptions,
  type DurableSessionOptions,
  type DurableSettings,
  type DurableWindowedCountOptions,
} from './durableOptions.js';
import { countKind } from './durableWindowsKind.js';
import { DurableRun } from './durableRun.js';

export type {
  DurablePrepareHooks,
  DurableSessionOptions,
  DurableWindowedCountOptions,
  DurableWindowsOptions,
  DurableWriterHooks,
} from './durableOptions.js';
export type { DurableWindowStats } from './DurableWindowsState.js';

/**
 * Counts per key in event-time windows like {@link windowedCount}, from MQTT
 * messages, with the window state saved on local disk so that every QoS ≥ 1 message
 * the broker accepted ends up in exactly one count, whatever happens to this process.
 *
 * ```
 * fromMqtt(…, { ack: 'manual' }) ─▶ prepare (decode, parse) ─▶ count ─▶ journal ─▶ PUBACK
 *                                                                 └──▶ write (Cassandra) ─▶ results
 * ```
 *
 * For each message, synchronously: a redelivery already counted (same packet
 * identifier and payload, `dup` set) is acknowledged and skipped; otherwise the
 * message goes through `prepare`, its events are counted and one line per event
 * joins the journal's batch. The message is then acknowledged with the connection
 * corked ({@link MqttMessage.holdAcknowledgements}), so the client takes the next
 * message at once while the PUBACK waits; when the event loop turns (or, with
 * durability `'process'`, once 64 messages wait), the batch is written with one
 * `write(2)` and only then do its PUBACKs leave. A process killed
 * at any point either saved the effect (the redelivery is recognised) or sent no
 * acknowledgement (the broker sends the message again). No round trip is added, and
 * a batch costs one system call (see `durability`).
 *
 * Rows (final rows in append mode, changed rows in update mode, all rows in complete
 * mode) go to `write`; a row stays in the saved state until its result comes back,
 * and is written again after a restart. When the writer is slow or down, rows wait
 * (one per window and key, newest count) and past `maxPendingRows` intake stops
 * until they drain; it stops the same way, with nothing more acknowledged, while the
 * state directory cannot be written (full, read-only, I/O errors), and resumes once a
 * write there works again (tried every second). Every `checkpointEvery` records the
 * whole state is saved and the journal emptied; a restart reads the checkpoint and
 * replays the journal, so it continues the open windows where they were. Window
 * options must stay the same across restarts (checked: other options are refused
 * with an error saying which).
 *
 * Requirements: the source must be `fromMqtt(conn, topics, { qos: 1, ack: 'manual' })`
 * with connection options, not a client (pausing closes the connection), and a
 * persistent session (`clientId` fixed, `clean: false`, a `sessionExpiryInterval`)
 * so the broker keeps messages while the aggregator is away. Keys must be strings
 * or numbers (they are saved as JSON).
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { Subject } from 'rxjs';
 * import {
 *   cassandraSink, decodeIotPayload, defaultStateDirectory, durableWindowedCount, ensureWindowCountTable,
 *   fromMqtt, parseAccessLog, windowCountRows, type DecodedMqttMessage,
 * } from 'mqtt-iot-stream';
 *
 * const cassandra = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowCountTable(cassandra);
 * const stop = new Subject<void>();
 * process.once('SIGTERM', () => stop.next());
 * process.once('SIGINT', () => stop.next());
 *
 * const broker = {
 *   url: 'mqtt://localhost:1883', clientId: 'aggregator-a1', clean: false,
 *   properties: { sessionExpiryInterval: 7 * 86_400 },
 * };
 * fromMqtt(broker, 'rupesh/gpiotopic', { qos: 1, ack: 'manual', keepSubscription: true }).pipe(
 *   durableWindowedCount({
 *     stateDirectory: defaultStateDirectory('a1'),
 *     prepare: (messages, { onReject }) => messages.pipe(
 *       decodeIotPayload({ onReject }),
 *       parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject })),
 *     eventTime: ({ input }) => input.payload.iottimestamp,
 *     key: ({ record }) => record.status,
 *     windowDuration: '1 minute',
 *     watermarkDelay: '2 minutes',
 *     write: (rows, { onReject }) => rows.pipe(cassandraSink(cassandra, { ...windowCountRows({ aggregator: 'a1' }), onReject })),
 *     stop,
 *   }),
 * ).subscribe({ complete: () => void cassandra.shutdown() });
 * ```
 *
 * @param options - the window options, the state directory, `prepare`, `write` and the stop signal.
 * @returns an operator from MQTT messages to the writer's results.
 * @throws TypeError or RangeError at creation when an option is invalid.
 * Given `sessionGap` instead of `windowDuration` ({@link DurableSessionOptions}), it counts
 * per key in session windows, as {@link windowedCount} does, with the same guarantees.
 *
 * @see {@link windowedCount} for the same counting without saved state.
 * @see {@link defaultStateDirectory}
 */
export function durableWindowedCount<E, K extends string | number, R extends WriteResult<WindowRow<K>>>(
  options: DurableWindowedCountOptions<E, K, R> | DurableSessionOptions<E, K, WindowRow<K>, R>,
): OperatorFunction<MqttMessage, R> {
  return durableWindows(resolveDurableOptions(options, countKind<E, K>()));
}

/**
 * The operator both durable operators are: one {@link DurableRun} per subscription.
 * @internal
 */
export function durableWindows<E, K extends string | number, W extends WindowRow<K>, R extends WriteResult<W>>(
  resolved: DurableSettings<E, K, W, R>,
): OperatorFunction<MqttMessage, R> {
  return (source) =>
    new Observable<R>((destination) => {
      let run: DurableRun<E, K, W, R>;
      try {
        run = new DurableRun(source, destination, resolved);
      } catch (error) {
        destination.error(error);
        return;
      }
      run.begin();
      return () => run.unsubscribe();
    });
}
