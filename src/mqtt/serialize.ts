/**
 * The default payload serializer of `toMqtt`.
 * @module
 */

/**
 * Turns a value into MQTT payload bytes: a `Buffer` or `Uint8Array` goes as it
 * is, a string as UTF-8, anything else as its JSON text. Throws a `TypeError` for
 * values JSON cannot represent (`undefined`, functions, symbols) and passes on
 * `JSON.stringify`'s errors (cycles, BigInt).
 */
export function serializeJson(value: unknown): Buffer | string {
  if (Buffer.isBuffer(value) || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) throw new TypeError(`cannot serialize ${typeof value} as JSON`);
  return text;
}
