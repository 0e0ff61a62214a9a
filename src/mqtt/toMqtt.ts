/**
 * toMqtt: publishes each value and emits its acknowledgement.
 * @module
 */
import { Observable, concat, defer, ignoreElements, tap, type OperatorFunction } from 'rxjs';
import type { RejectionKind } from '../reject.js';
import type { IClientPublishOptions, Packet } from 'mqtt';
import { BoundedWriter, writeQueueSettings, type WriteSlot } from '../internal/boundedWriter.js';
import { describeValue, optionChecks } from '../internal/options.js';
import type { WriteQueueOptions, WriteResult } from '../writeQueue.js';
import { closeOwned, openConnectionOrError, type MqttConnection } from './connection.js';
import { QOS_LEVELS } from './message.js';
import { topicNameProblem } from './topicFilter.js';
import { describeReasonCode, reasonCodeOf } from './reasonCodes.js';
import { serializePayload } from '../payload/serializePayload.js';
import { watchConnection } from './watchConnection.js';
import { Outbox, OutboxFullError, type OutboxMessage } from './outbox.js';

/** The defaults of {@link toMqtt}'s options, which their TSDoc quotes. */
const TO_MQTT_DEFAULTS = { qos: 1, retain: false, concurrency: 16 } as const;

/** Options of {@link toMqtt}. */
export interface ToMqttOptions<T> extends WriteQueueOptions<T> {
  /** The topic, or a function deriving it from the value. */
  topic: string | ((value: T) => string);
  /** QoS to publish with. Default `1`. */
  qos?: 0 | 1 | 2;
  /** Publish as retained messages. Default `false`. */
  retain?: boolean;
  /**
   * Turns a value into payload bytes. Default {@link serializePayload}: Buffers and
   * strings as they are, an {@link IotPayload} as the reference publisher writes it,
   * anything else as JSON.
   */
  serialize?: (value: T) => Buffer | Uint8Array | string;
  /** MQTT 5 PUBLISH properties (content type, user properties, …), fixed or per value. */
  properties?: IClientPublishOptions['properties'] | ((value: T) => IClientPublishOptions['properties']);
  /**
   * An outbox ({@link openOutbox}) that keeps each message until its PUBACK, in a file:
   * each value is written there as it arrives (before it waits for a slot, so a value
   * queued during an outage survives a crash too), with its user properties (from
   * `properties`) and the MQTT 5 user properties `publisher` and `seq`, and leaves it
   * at its acknowledgement. The messages an earlier run left there are published again
   * first, in order, with their user properties, when the first subscription
   * starts (their acknowledgements are not emitted: they are not values of this
   * stream). A value that finds the outbox full is rejected (kind `'queue-full'`). Needs
   * QoS 1 or 2. The outbox is yours: `toMqtt` does not close it.
   */
  outbox?: Outbox;
  /** With `outbox`: what to keep with each value's message (JSON), read back as {@link Outbox.mark}. */
  outboxMark?: (value: T) => unknown;
}

/** One published value, emitted once the broker has acknowledged it. */
export interface MqttPublished<T> extends WriteResult<T> {
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  /** Packet identifier of the PUBLISH (QoS ≥ 1). */
  readonly messageId: number | undefined;
  /**
   * The PUBACK/PUBCOMP reason code (MQTT 5): `0` success, `0x10` accepted but no
   * subscriber matched. `undefined` for QoS 0 and MQTT 3.1.1.
   */
  readonly reasonCode: number | undefined;
}

/**
 * Publishes each value to MQTT and emits its acknowledgement once the broker has
 * it: after PUBACK (QoS 1) or PUBCOMP (QoS 2); for QoS 0, once it was written to
 * the socket.
 *
 * ```
 * source:  --a--b--c----------|
 * broker:  ----A--B-----C-------     (PUBACKs)
 * toMqtt:  ----a'-b'----c'----|      (a' = {value: a, topic, qos, messageId, reasonCode})
 * ```
 *
 * The topic is an option, not an argument as in {@link fromMqtt}: there the topic
 * filters are what the subscription is, fixed for its life; here the topic is a
 * property of each message, fixed or derived from the value (`topic: (v) => …`).
 *
 * Acknowledgements are emitted in the order of the values. At most `concurrency`
 * values (default 16) are published and not yet emitted; later values wait in a
 * queue of at most `maxQueued` (default 10,000). RxJS cannot ask a source to slow
 * down, so that queue is the only place a fast source's values can go: when it is
 * full, `onQueueFull` says whether the stream errors with a {@link QueueFullError}
 * (default) or the value is rejected (kind `'queue-full'`). Memory is therefore
 * bounded by `concurrency + maxQueued` values; `onBacklog` reports both counts as
 * they change. To go at the broker's pace, drive the source by the
 * acknowledgements (for example read the next line only when the previous one is
 * acknowledged).
 *
 * While the broker is away (after a successful connect), MQTT.js reconnects by
 * itself and holds the in-flight values in its offline queue (QoS 0 included);
 * it sends them again on reconnect, and the acknowledgements follow. Values keep
 * queueing meanwhile, up to the bound.
 *
 * A value is rejected (`onReject`, kind `'message'`; an error with `strict`) when
 * the topic function gives an invalid topic, the serializer throws, or the broker
 * refuses the PUBLISH with an MQTT 5 reason code ≥ 0x80 such as Not authorized
 * (0x87) from an ACL. MQTT 3.1.1 and QoS 0 cannot tell a refusal: the broker
 * drops such a message silently. The stream errors, once, with an
 * {@link MqttConnectionError} when the connection fails for good.
 *
 * When the source completes, the stream completes after the last
 * acknowledgement; a client built from options is then closed (on unsubscribe
 * too, abandoning what is in flight); a client you passed in stays open.
 * `toMqtt`, {@link cassandraSink} and {@link lightWhile} share these options and
 * rules ({@link WriteQueueOptions}).
 *
 * @example
 * ```ts
 * import { interval, map, take } from 'rxjs';
 * import { toMqtt, makeIotPayload } from 'mqtt-iot-stream';
 *
 * interval(1000).pipe(
 *   take(3),
 *   map((i) => makeIotPayload(`127.0.0.1 - - [01/Jul/2020:12:34:5${i} +0000] "GET / HTTP/1.1" 200 5`)),
 *   toMqtt('mqtt://localhost:1883', { topic: 'rupesh/gpiotopic', qos: 1 }),
 * ).subscribe((ack) => console.log('acknowledged', ack.messageId));
 * ```
 *
 * @example Go at the broker's pace: each acknowledgement asks for the next line
 * ```ts
 * import { Subject, map, takeWhile, tap } from 'rxjs';
 * import { toMqtt, makeIotPayload } from 'mqtt-iot-stream';
 *
 * const lines = ['line 1', 'line 2', 'line 3'][Symbol.iterator](); // any lazy iterator
 * const pull = new Subject<void>();
 * pull.pipe(
 *   map(() => lines.next()),
 *   takeWhile((next) => !next.done),
 *   map((next) => makeIotPayload(next.value)),
 *   // maxQueued 0: nothing ever waits in toMqtt; a refused line also asks for the next.
 *   toMqtt('mqtt://localhost:1883', { topic: 'rupesh/gpiotopic', concurrency: 16, maxQueued: 0, onReject: () => pull.next() }),
 *   tap(() => pull.next()),
 * ).subscribe({ complete: () => console.log('every line acknowledged') });
 * for (let i = 0; i < 16; i++) pull.next(); // fill the in-flight window
 * ```
 *
 * @param conn - a client you own, or a URL or options for a client this operator owns.
 * @param options - topic, QoS, retain, serializer, bounds, rejection handling.
 * @returns an operator that emits one {@link MqttPublished} per published value.
 * @see {@link fromMqtt}, {@link WriteQueueOptions}
 */
export function toMqtt<T>(conn: MqttConnection, options: ToMqttOptions<T>): OperatorFunction<T, MqttPublished<T>> {
  const check = optionChecks('toMqtt');
  if (typeof options.topic !== 'string' && typeof options.topic !== 'function')
    throw check.error('type', 'topic', 'a string or a function of the value', options.topic);
  if (typeof options.topic === 'string') {
    const problem = topicNameProblem(options.topic);
    if (problem !== undefined) throw check.error('type', 'topic', problem, options.topic);
  }
  const qos = check.oneOf('qos', options.qos ?? TO_MQTT_DEFAULTS.qos, QOS_LEVELS);
  const retain = check.boolean('retain', options.retain ?? TO_MQTT_DEFAULTS.retain);
  const serialize =
    check.optionalFunc<(value: T) => Buffer | Uint8Array | string>(
      'serialize',
      options.serialize,
      '(value) => bytes',
    ) ?? (serializePayload as (value: T) => Buffer | string);
  const queue = writeQueueSettings<T>('toMqtt', options, TO_MQTT_DEFAULTS.concurrency);
  const outbox = options.outbox;
  if (outbox !== undefined && !(outbox instanceof Outbox))
    throw check.error('type', 'outbox', 'an outbox made by openOutbox', outbox);
  if (outbox !== undefined && qos === 0)
    throw check.error('type', 'qos', '1 or 2 with an outbox (a message leaves it at its acknowledgement)', qos);
  const outboxMark = check.optionalFunc<(value: T) => unknown>('outboxMark', options.outboxMark, '(value) => JSON');

  /** A value made into a message, or why it cannot be one. */
  const prepare = (value: T): Prepared => {
    let topic: string;
    let payload: Buffer | string;
    let properties: IClientPublishOptions['properties'];
    try {
      // A fixed topic was checked once, when the operator was made.
      topic = typeof options.topic === 'function' ? options.topic(value) : options.topic;
      if (typeof options.topic === 'function') {
        const problem = typeof topic === 'string' ? topicNameProblem(topic) : 'a string';
        if (problem !== undefined)
          return {
            kind: 'message',
            reason: `the topic function's topic must be ${problem}, got ${describeValue(topic)}`,
          };
      }
      const serialized: unknown = serialize(value);
      if (typeof serialized === 'string' || Buffer.isBuffer(serialized)) payload = serialized;
      else if (serialized instanceof Uint8Array)
        payload = Buffer.from(serialized.buffer, serialized.byteOffset, serialized.byteLength);
      else {
        return {
          kind: 'message',
          reason: `the serializer returned ${serialized === null ? 'null' : typeof serialized}, not a Buffer, Uint8Array or string`,
        };
      }
      properties = typeof options.properties === 'function' ? options.properties(value) : options.properties;
    } catch (error) {
      return { kind: 'message', reason: `cannot make a message of the value: ${(error as Error).message}` };
    }
    return { topic, payload, properties };
  };

  return (source) =>
    new Observable<MqttPublished<T>>((destination) => {
      const opened = openConnectionOrError('toMqtt', conn, destination);
      if (opened === undefined) return;
      const { client, owned, broker } = opened;
      /** With an outbox: each value's message as it was kept at its arrival, in order. */
      const arrived: (Prepared | Kept)[] = [];

      const publish = (value: T, slot: WriteSlot<MqttPublished<T>>): void => {
        const prepared = outbox === undefined ? prepare(value) : arrived.shift()!;
        if ('reason' in prepared) {
          slot.reject(prepared.kind, prepared.reason);
          return;
        }
        const { topic, payload } = prepared;
        const kept: OutboxMessage | undefined = 'kept' in prepared ? (prepared as Kept).kept : undefined;
        const properties =
          kept === undefined
            ? prepared.properties
            : { ...prepared.properties, userProperties: outbox!.userProperties(kept) };
        const publishOptions: IClientPublishOptions = {
          qos,
          retain,
          ...(properties ? { properties } : {}),
        };
        // The acknowledgement is handled on a microtask, outside MQTT.js's handling of the
        // PUBACK: publishing the next value from inside that handler halved QoS 1
        // throughput in bench/mqtt-publish (0.55× raw publishAsync, 1.09× with this).
        client.publish(topic, payload, publishOptions, (error?: Error, packet?: Packet) =>
          queueMicrotask(() => {
            if (!error) {
              if (kept !== undefined && !leaveOutbox(kept)) return;
              const ack = packet as { messageId?: number; reasonCode?: number } | undefined;
              slot.done({ value, topic, qos, messageId: ack?.messageId, reasonCode: ack?.reasonCode });
              return;
            }
            const reasonCode = reasonCodeOf(error);
            if (reasonCode !== undefined && reasonCode >= 0x80) {
              // Refused for good: sending it again would be refused again.
              if (kept !== undefined && !leaveOutbox(kept)) return;
              slot.reject(
                'message',
                `the MQTT broker at ${broker} refused the message on "${topic}": ${describeReasonCode(reasonCode)}`,
              );
            } else {
              writer.fail(
                new Error(`toMqtt: publishing to "${topic}" on ${broker} failed: ${error.message}`, { cause: error }),
              );
            }
          }),
        );
      };

      /** A message acknowledged (or refused) leaves the outbox; false when the outbox cannot be written. */
      const leaveOutbox = (message: OutboxMessage): boolean => {
        try {
          outbox!.acknowledge(message.seq);
          return true;
        } catch (error) {
          writer.fail(new Error(`toMqtt: cannot update the outbox: ${(error as Error).message}`, { cause: error }));
          return false;
        }
      };

      /**
       * With an outbox, a value is kept there as it arrives, before it waits for a slot,
       * unless the queue is full (then the writer refuses it, and it is not kept).
       */
      const keep = (value: T): void => {
        if (writer.inFlight >= queue.concurrency && writer.queued >= queue.maxQueued) return;
        const prepared = prepare(value);
        if ('reason' in prepared) {
          arrived.push(prepared);
          return;
        }
        try {
          const kept = outbox!.add(
            prepared.topic,
            prepared.payload,
            outboxMark?.(value),
            prepared.properties?.userProperties,
          );
          arrived.push({ ...prepared, kept });
        } catch (error) {
          if (error instanceof OutboxFullError)
            arrived.push({ kind: 'queue-full', reason: `toMqtt: ${error.message}` });
          else
            writer.fail(
              new Error(`toMqtt: cannot keep the message in the outbox: ${(error as Error).message}`, { cause: error }),
            );
        }
      };

      // What an earlier run left in the outbox goes first, in order; the stream completes
      // only once the broker has acknowledged it too.
      const resend = (message: OutboxMessage): Promise<void> =>
        new Promise((resolve) => {
          const userProperties = outbox!.userProperties(message);
          client.publish(message.topic, message.payload, { qos, retain, properties: { userProperties } }, (error) =>
            queueMicrotask(() => {
              // MQTT.js passes null, not undefined, for success.
              const reasonCode = error ? reasonCodeOf(error) : undefined;
              if (error && !(reasonCode !== undefined && reasonCode >= 0x80)) {
                writer.fail(
                  new Error(`toMqtt: publishing to "${message.topic}" on ${broker} failed: ${error.message}`, {
                    cause: error,
                  }),
                );
                return;
              }
              if (leaveOutbox(message)) resolve();
            }),
          );
        });

      const writer = new BoundedWriter<T, MqttPublished<T>>(
        destination,
        {
          ...queue,
          order: 'input',
          state: () => `the broker at ${broker} is ${client.connected ? 'connected' : 'not connected'}`,
        },
        publish,
      );
      const stopWatching = watchConnection('toMqtt', client, broker, writer.fail);
      const restored = outbox?.takeRestored() ?? [];
      const resent = restored.length === 0 ? undefined : Promise.all(restored.map(resend));
      const values = outbox === undefined ? source : source.pipe(tap(keep));
      writer.subscribe(resent === undefined ? values : concat(values, defer(() => resent).pipe(ignoreElements())));

      return () => {
        writer.unsubscribe();
        stopWatching();
        if (owned) closeOwned(client);
      };
    });
}

/** A value made into a message. */
type Prepared =
  | {
      readonly topic: string;
      readonly payload: Buffer | string;
      readonly properties: IClientPublishOptions['properties'];
    }
  | { readonly kind: RejectionKind; readonly reason: string };

/** A message kept in the outbox. */
interface Kept {
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly properties: IClientPublishOptions['properties'];
  readonly kept: OutboxMessage;
}
