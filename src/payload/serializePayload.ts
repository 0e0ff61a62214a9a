/**
 * The default payload serializer of `toMqtt`.
 * @module
 */
import { encodeIotPayload, IotPayloadCodec } from './codec.js';

/**
 * Turns a value into MQTT payload bytes: a `Buffer` or `Uint8Array` goes as it
 * is, a string as UTF-8, an {@link IotPayload} as the reference publisher writes it
 * ({@link encodeIotPayload}: `iottimestamp` in Python's `str(datetime)` form), and
 * anything else as its JSON text. Throws a `TypeError` for values JSON cannot
 * represent (`undefined`, functions, symbols) and passes on `JSON.stringify`'s
 * errors (cycles, BigInt). `toMqtt` rejects a value whose serialization throws.
 *
 * A `Date` inside any other object becomes ISO 8601 text, as `JSON.stringify`
 * writes it.
 *
 * @example
 * ```ts
 * import { makeIotPayload, serializePayload } from 'mqtt-iot-stream';
 * serializePayload({ status: 200 });        // '{"status":200}'
 * serializePayload('already text');         // 'already text'
 * serializePayload(Buffer.from([1, 2, 3])); // the same Buffer
 * serializePayload(makeIotPayload('GET / HTTP/1.1', new Date('2026-11-30T10:00:00Z')));
 * // '{"iottimestamp":"2026-11-30 10:00:00","accesslogs":"GET / HTTP/1.1"}'
 * ```
 *
 * @param value - what to publish.
 * @returns the payload: the Buffer or string as given, or JSON text.
 */
export function serializePayload(value: unknown): Buffer | string {
  if (Buffer.isBuffer(value) || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (IotPayloadCodec.is(value)) return encodeIotPayload(value);
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError(`serializePayload: cannot serialize ${typeof value} as JSON`);
  return text;
}
