/**
 * decodeIotPayload: MQTT messages to decoded reference payloads.
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

/** A message whose payload decoded, with the message it came from (for its topic and `ack`). */
export interface DecodedMqttMessage {
  readonly payload: IotPayload;
  readonly message: MqttMessage;
}

/** Options of {@link decodeIotPayload}: `maxPayloadBytes`, `onReject` and `strict`. */
export interface DecodeIotPayloadOptions extends DecodeIotPayloadBytesOptions, RejectOptions<MqttMessage> {}

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
 * @param options - `maxPayloadBytes`; `onReject` and `strict`, as everywhere. A bad
 *   `maxPayloadBytes` throws a `TypeError` or `RangeError` here, when the operator is made.
 * @returns an operator from {@link MqttMessage} to {@link DecodedMqttMessage}.
 * @see {@link fromMqtt}
 * @see {@link decodeIotPayloadBytes}
 */
export function decodeIotPayload(options?: DecodeIotPayloadOptions): OperatorFunction<MqttMessage, DecodedMqttMessage> {
  const maxPayloadBytes = maxPayloadBytesOption(options, 'decodeIotPayload');
  return (source) =>
    new Observable<DecodedMqttMessage>((destination) =>
      // A throw from onReject (strict) ends the stream, the message unacknowledged.
      subscribeOperator(source, destination, {
        next: (message) => {
          const decoded = decodeIotPayloadWithin(message.payload, maxPayloadBytes);
          if (decoded._tag === 'Right') {
            destination.next({ payload: decoded.right, message });
            return;
          }
          reject(options, {
            operator: 'decodeIotPayload',
            kind: 'payload',
            reason: `message on "${message.topic}": ${decoded.left}`,
            input: message,
          });
          message.ack();
        },
      }),
    );
}
