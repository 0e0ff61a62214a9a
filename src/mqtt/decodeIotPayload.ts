/**
 * decodeIotPayload: MQTT messages to decoded reference payloads.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { decodePayload, type IotPayload } from '../payload/codec.js';
import { reject, type RejectOptions } from '../reject.js';
import type { MqttMessage } from './message.js';

/** A message whose payload decoded, with the message it came from (for its topic and `ack`). */
export interface DecodedMqttMessage {
  readonly payload: IotPayload;
  readonly message: MqttMessage;
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
 * (see {@link decodePayload}). A message that does not decode is handed to
 * `onReject` as a {@link Rejection} of kind `'payload'` with the reason (the
 * io-ts errors as text) and the message as `input`; it is then acknowledged (in
 * manual mode) so the client goes on, and the stream continues. With `strict`
 * the first such message errors the stream instead, unacknowledged.
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
 * @param options - `onReject` and `strict`, as everywhere.
 * @returns an operator from {@link MqttMessage} to {@link DecodedMqttMessage}.
 * @see {@link fromMqtt}
 * @see {@link decodePayload}
 */
export function decodeIotPayload(options?: RejectOptions<MqttMessage>): OperatorFunction<MqttMessage, DecodedMqttMessage> {
  return (source) => new Observable<DecodedMqttMessage>((destination) => source.subscribe({
    next: (message) => {
      const decoded = decodePayload(message.payload);
      if (decoded._tag === 'Right') {
        destination.next({ payload: decoded.right, message });
        return;
      }
      try {
        reject(options, { kind: 'payload', reason: `message on "${message.topic}": ${decoded.left}`, input: message });
      } catch (error) {
        destination.error(error);
        return;
      }
      message.ack();
    },
    error: (error) => destination.error(error),
    complete: () => destination.complete(),
  }));
}
