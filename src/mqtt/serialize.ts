/**
 * The default payload serializer of `toMqtt`.
 * @module
 */

/**
 * Turns a value into MQTT payload bytes: a `Buffer` or `Uint8Array` goes as it
 * is, a string as UTF-8, anything else as its JSON text. Throws a `TypeError` for
 * values JSON cannot represent (`undefined`, functions, symbols) and passes on
 * `JSON.stringify`'s errors (cycles, BigInt). `toMqtt` rejects a value whose
 * serialization throws.
 *
 * Note that a `Date` inside an object becomes ISO 8601 text; to send the reference
 * payload exactly as the original publisher did, serialize it with
 * `encodePayload`.
 *
 * @example
 * ```ts
 * import { serializeJson } from 'mqtt-iot-stream';
 * serializeJson({ status: 200 });        // '{"status":200}'
 * serializeJson('already text');         // 'already text'
 * serializeJson(Buffer.from([1, 2, 3])); // the same Buffer
 * ```
 *
 * @param value - what to publish.
 * @returns the payload: the Buffer or string as given, or JSON text.
 * @see {@link encodePayload}
 */
export function serializeJson(value: unknown): Buffer | string {
  if (Buffer.isBuffer(value) || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError(`cannot serialize ${typeof value} as JSON`);
  return text;
}
