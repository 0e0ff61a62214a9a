/**
 * decodeIotPayload: MQTT messages to decoded reference payloads, their event time
 * from the payload or from a user property.
 *
 * It lives with the codec, not in `mqtt/`: it is the reference payload's operator, and
 * `mqtt/` carries any payload without knowing one. It needs only the type of an MQTT
 * message from there, so the dependency goes one way, payload → MQTT.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { MqttMessage } from '../mqtt/message.js';
import { reject, type RejectOptions } from '../reject.js';
import { subscribeOperator } from '../internal/operatorSubscriber.js';
import {
  decodeIotPayloadWithin,
  maxPayloadBytesOption,
  type DecodeIotPayloadBytesOptions,
  type IotPayload,
} from './codec.js';
import { eventTimeInProperty, eventTimePropertyOption } from './eventTimeProperty.js';

/** A message whose payload decoded, with the message it came from (for its topic and `ack`). */
export interface DecodedMqttMessage {
  readonly payload: IotPayload;
  readonly message: MqttMessage;
}

/** Options of {@link decodeIotPayload}: `maxPayloadBytes`, `eventTimeProperty`, `onReject` and `strict`. */
export interface DecodeIotPayloadOptions extends DecodeIotPayloadBytesOptions, RejectOptions<MqttMessage> {
  /**
   * The MQTT 5 user property that holds each message's event time, e.g. `'event-time'`.
   * When a message has it, the decoded payload's `iottimestamp` is that time rather than
   * the payload's own, so a pipeline that windows on `payload.iottimestamp` takes it
   * without change. Default: none, the payload's time. See {@link decodeIotPayload}.
   */
  eventTimeProperty?: string;
}

/**
 * Decodes each message's payload with the reference codec; reports the ones that
 * do not decode and goes on.
 *
 * ```
 * fromMqtt:          --a--x--b--|     (x: not JSON, or the wrong shape)
 * decodeIotPayload:  --A-----B--|     (x goes to onReject, kind 'payload')
 * ```
 *
 * Each payload is read as UTF-8 JSON `{"iottimestamp": "...", "accesslogs": "..."}`
 * (see {@link decodeIotPayloadBytes}). A message that does not decode is handed to
 * `onReject` as a {@link Rejection} of kind `'payload'` with the reason (the
 * io-ts errors as text) and the message as `input`; it is then acknowledged (in
 * manual mode) so the client goes on, and the stream continues. With `strict`
 * the first such message errors the stream instead, unacknowledged.
 *
 * **The event time from a user property.** With `eventTimeProperty: 'event-time'`, a
 * message's event time is its MQTT 5 user property `event-time` when it has one (a
 * publisher that buffered its readings offline stamps each with the time it was taken),
 * and the payload's `iottimestamp` otherwise. The decoded payload's `iottimestamp`
 * holds that time. The property may be written as `iottimestamp` is
 * (`2020-07-01 12:34:56.789012`, UTC), in ISO 8601 with or without a zone
 * (`2020-07-01T12:34:56.789Z`, `…+02:00`; none means UTC), or as epoch milliseconds
 * (`1593606896789`; digits that would be before 1973 are refused: they are most likely
 * epoch seconds). The payload is decoded as always, its own `iottimestamp` included.
 * - A message **without the property** keeps its payload's time: with a mix of
 *   publishers, those that do not stamp the property yet (or never will, such as the
 *   original Python publisher) go on being counted as before, so the option can be
 *   turned on before every publisher has been changed.
 * - A property that is there but **unreadable** is rejected (kind `'timestamp'`, the
 *   reason naming the property and its value, cut to 60 characters) and the message
 *   acknowledged, as an undecodable payload is: its publisher meant to give the time
 *   and got it wrong, and the payload's time (perhaps the time of sending) could put
 *   the reading in another window, unseen.
 * - A name given **several times** (MQTT allows it; MQTT.js gives an array) is read
 *   when every value is readable and all are the same instant, and rejected otherwise:
 *   taking one of them would be a guess.
 *
 * User properties travel with MQTT 5 only: the client must speak it (one that
 * {@link fromMqtt} makes from a URL does), and so must the publishers that set them.
 * With the option off, each message costs one comparison more than before.
 *
 * Hostile input: a payload larger than `maxPayloadBytes` (default 1 MiB) is refused
 * with its size and the limit, without being parsed; whatever the bytes (nesting
 * 100,000 deep, huge strings, invalid UTF-8), decoding never throws and the reason
 * stays short. The limit guards the parse, not the receipt: the client has already
 * read the whole message, so also cap sizes at the broker (Mosquitto's
 * `message_size_limit`).
 *
 * @example
 * ```ts
 * import { fromMqtt, decodeIotPayload } from 'mqtt-iot-stream';
 *
 * let rejected = 0;
 * fromMqtt('mqtt://localhost:1883', 'rupesh/gpiotopic')
 *   .pipe(decodeIotPayload({ onReject: (r) => { rejected++; console.warn(r.reason); } }))
 *   .subscribe(({ payload }) => console.log(payload.iottimestamp.toISOString(), payload.accesslogs));
 * ```
 *
 * @example The event time from the user property event-time, where a message has one
 * ```ts
 * import { fromMqtt, decodeIotPayload } from 'mqtt-iot-stream';
 *
 * // A client fromMqtt makes from a URL speaks MQTT 5 (a client you pass in must too).
 * fromMqtt('mqtt://localhost:1883', 'rupesh/gpiotopic')
 *   .pipe(decodeIotPayload({ eventTimeProperty: 'event-time' }))
 *   .subscribe(({ payload }) => console.log(payload.iottimestamp.toISOString()));
 * ```
 *
 * @param options - `maxPayloadBytes`, `eventTimeProperty`; `onReject` and `strict`, as
 *   everywhere. A bad `maxPayloadBytes` or `eventTimeProperty` throws a `TypeError` or
 *   `RangeError` here, when the operator is made.
 * @returns an operator from {@link MqttMessage} to {@link DecodedMqttMessage}.
 * @see {@link fromMqtt}
 * @see {@link decodeIotPayloadBytes}
 */
export function decodeIotPayload(options?: DecodeIotPayloadOptions): OperatorFunction<MqttMessage, DecodedMqttMessage> {
  const maxPayloadBytes = maxPayloadBytesOption(options, 'decodeIotPayload');
  const eventTimeProperty = eventTimePropertyOption(options?.eventTimeProperty, 'decodeIotPayload');
  return (source) =>
    new Observable<DecodedMqttMessage>((destination) =>
      // A throw from onReject (strict) ends the stream, the message unacknowledged.
      subscribeOperator(source, destination, {
        next: (message) => {
          const decoded = decodeIotPayloadWithin(message.payload, maxPayloadBytes);
          if (decoded._tag === 'Left') {
            refuse(message, 'payload', decoded.left);
            return;
          }
          if (eventTimeProperty === undefined) {
            destination.next({ payload: decoded.right, message });
            return;
          }
          const time = eventTimeInProperty(message.properties, eventTimeProperty);
          if (time === undefined) destination.next({ payload: decoded.right, message });
          else if (typeof time === 'number')
            destination.next({
              payload: { iottimestamp: new Date(time), accesslogs: decoded.right.accesslogs },
              message,
            });
          else refuse(message, 'timestamp', time.problem);
        },
      }),
    );

  /** Reports the message, then acknowledges it so that the client goes on. */
  function refuse(message: MqttMessage, kind: 'payload' | 'timestamp', reason: string): void {
    reject(options, {
      operator: 'decodeIotPayload',
      kind,
      reason: `message on "${message.topic}": ${reason}`,
      input: message,
    });
    message.ack();
  }
}
