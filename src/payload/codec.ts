/**
 * The reference payload, `{"iottimestamp": "...", "accesslogs": "..."}`, as an io-ts
 * codec, plus decoding straight from the bytes of an MQTT message.
 * @module
 */
import * as t from 'io-ts';
import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js';
import { PathReporter } from 'io-ts/lib/PathReporter.js';
import { formatEventTime, parseEventTime } from './timestamp.js';

/**
 * io-ts codec between the `iottimestamp` string and a `Date`.
 * Decodes what {@link parseEventTime} accepts; encodes with {@link formatEventTime}.
 */
export const EventTimeCodec = new t.Type<Date, string, unknown>(
  'EventTime',
  (value): value is Date => value instanceof Date && !Number.isNaN(value.getTime()),
  (value, context) => {
    const field = context[context.length - 1]?.key || 'timestamp';
    if (typeof value !== 'string') return t.failure(value, context, `${field}: expected a timestamp string, got ${JSON.stringify(value) ?? 'nothing'}`);
    const epoch = parseEventTime(value);
    return epoch === undefined
      ? t.failure(value, context, `${field}: "${value}" is not a timestamp like "2020-07-01 12:34:56.789012" or ISO 8601`)
      : t.success(new Date(epoch));
  },
  formatEventTime,
);

/**
 * io-ts codec of the reference payload. Decoding yields `iottimestamp` as a `Date`;
 * encoding gives the strings the original Python publisher sends and the original
 * Spark job reads. Extra fields are ignored when decoding.
 */
export const IotPayloadCodec = t.type({ iottimestamp: EventTimeCodec, accesslogs: t.string }, 'IotPayload');

/** A decoded reference payload. */
export type IotPayload = t.TypeOf<typeof IotPayloadCodec>;
/** The reference payload as it travels in JSON. */
export type IotPayloadJson = t.OutputOf<typeof IotPayloadCodec>;

/**
 * Makes a payload for one access-log line, stamped with `at` (default: now).
 *
 * @example
 * ```ts
 * import { makePayload, encodePayload } from 'mqtt-iot-stream';
 * encodePayload(makePayload('127.0.0.1 - - [01/Jul/2020:12:34:56 +0000] "GET / HTTP/1.1" 200 5'));
 * ```
 */
export function makePayload(accesslogs: string, at: Date = new Date()): IotPayload {
  return { iottimestamp: at, accesslogs };
}

/** Encodes a payload to the JSON text the original publisher sends. */
export function encodePayload(payload: IotPayload): string {
  return JSON.stringify(IotPayloadCodec.encode(payload));
}

/**
 * Decodes the bytes (or text) of a message into a payload, or a readable reason.
 * Never throws: malformed JSON, a wrong shape and a bad timestamp all come back as
 * `Left` with a sentence naming the field and the problem.
 *
 * @example
 * ```ts
 * import { decodePayload } from 'mqtt-iot-stream';
 * const result = decodePayload(Buffer.from('{"iottimestamp":"2020-07-01 12:34:56","accesslogs":"x"}'));
 * if (result._tag === 'Right') console.log(result.right.iottimestamp.toISOString());
 * else console.error(result.left);
 * ```
 */
export function decodePayload(message: Buffer | Uint8Array | string): Either<string, IotPayload> {
  const text = typeof message === 'string' ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return left(`payload is not JSON: ${(error as Error).message}`);
  }
  const decoded = IotPayloadCodec.decode(json);
  return isLeft(decoded) ? left(PathReporter.report(decoded).join('; ')) : right(decoded.right);
}
