/**
 * The reference payload, `{"iottimestamp": "...", "accesslogs": "..."}`, as an io-ts
 * codec, plus decoding straight from the bytes of an MQTT message.
 * @module
 */
import * as t from 'io-ts';
import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js';
import { PathReporter } from 'io-ts/lib/PathReporter.js';
import { optionChecks } from '../internal/options.js';
import { headOf, singleLine, truncateText } from '../reject.js';
import { formatEventTime, parseEventTime } from './timestamp.js';

/**
 * A short description of any decoded JSON value, for error messages: never longer
 * than about 100 characters and never a walk into the value, so a 16 MiB string or
 * an array nested 100,000 deep is described as cheaply as a number. (io-ts's own
 * rendering, `JSON.stringify` of the whole value, is neither.)
 * @internal
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    // Control characters as symbols rather than JSON escapes: same length, one line.
    const shown = `"${singleLine(headOf(value, 60))}"`;
    return value.length <= 60 ? shown : `${shown}… (a string of ${value.length} characters)`;
  }
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** The field a failing codec was decoding, for its message. */
function fieldName(context: t.Context, fallback: string): string {
  return context[context.length - 1]?.key || fallback;
}

/**
 * io-ts codec between the `iottimestamp` string and a `Date`.
 * Decodes what {@link parseEventTime} accepts; encodes with {@link formatEventTime}.
 */
export const EventTimeCodec = new t.Type<Date, string, unknown>(
  'EventTime',
  (value): value is Date => value instanceof Date && !Number.isNaN(value.getTime()),
  (value, context) => {
    const field = fieldName(context, 'timestamp');
    if (typeof value !== 'string')
      return t.failure(value, context, `${field}: expected a timestamp string, got ${describeValue(value)}`);
    const epoch = parseEventTime(value);
    return epoch === undefined
      ? t.failure(
          value,
          context,
          `${field}: ${describeValue(value)} is not a timestamp like "2020-07-01 12:34:56.789012" or ISO 8601`,
        )
      : t.success(new Date(epoch));
  },
  formatEventTime,
);

/**
 * `t.string` with a message of its own: io-ts's default message would render the
 * whole refused value (see {@link describeValue}).
 */
const AccessLogLineCodec = new t.Type<string, string, unknown>(
  'AccessLogLine',
  (value): value is string => typeof value === 'string',
  (value, context) =>
    typeof value === 'string'
      ? t.success(value)
      : t.failure(
          value,
          context,
          `${fieldName(context, 'line')}: expected a string (one access-log line), got ${describeValue(value)}`,
        ),
  t.identity,
);

/**
 * io-ts codec of the reference payload. Decoding yields `iottimestamp` as a `Date`;
 * encoding gives the strings the original Python publisher sends and the original
 * Spark job reads. Extra fields are ignored when decoding.
 */
export const IotPayloadCodec = t.type({ iottimestamp: EventTimeCodec, accesslogs: AccessLogLineCodec }, 'IotPayload');

/** A decoded reference payload. */
export type IotPayload = t.TypeOf<typeof IotPayloadCodec>;
/** The reference payload as it travels in JSON. */
export type IotPayloadJson = t.OutputOf<typeof IotPayloadCodec>;

/**
 * Makes a payload for one access-log line, stamped with `at` (default: now).
 *
 * @example
 * ```ts
 * import { makeIotPayload, encodeIotPayload } from 'mqtt-iot-stream';
 * encodeIotPayload(makeIotPayload('127.0.0.1 - - [01/Jul/2020:12:34:56 +0000] "GET / HTTP/1.1" 200 5'));
 * ```
 */
export function makeIotPayload(accesslogs: string, at: Date = new Date()): IotPayload {
  return { iottimestamp: at, accesslogs };
}

/** Encodes a payload to the JSON text the original publisher sends. */
export function encodeIotPayload(payload: IotPayload): string {
  return JSON.stringify(IotPayloadCodec.encode(payload));
}

/** The defaults of {@link decodeIotPayloadBytes}'s (and {@link decodeIotPayload}'s) options, which their TSDoc quotes. */
const DECODE_DEFAULTS = { maxPayloadBytes: 1_048_576 } as const;

/** Options of {@link decodeIotPayloadBytes}. */
export interface DecodeIotPayloadBytesOptions {
  /**
   * The largest payload, in bytes (UTF-8 bytes for text), that is parsed. A larger
   * one is refused with its size and the limit, without being read: no string is
   * made from it and `JSON.parse` never sees it. Default 1,048,576 (1 MiB), ample
   * for one access-log line; `Infinity` turns the check off.
   */
  maxPayloadBytes?: number;
}

/**
 * The `maxPayloadBytes` option, checked: an integer ≥ 1 or `Infinity`.
 * @internal
 */
export function maxPayloadBytesOption(options: DecodeIotPayloadBytesOptions | undefined, caller: string): number {
  const value = options?.maxPayloadBytes;
  return value === undefined
    ? DECODE_DEFAULTS.maxPayloadBytes
    : optionChecks(caller).positiveInteger('maxPayloadBytes', value, { infinity: true });
}

/** The UTF-8 size of `message` when it exceeds `limit`, else `undefined`, without measuring what need not be. */
function sizeBeyond(message: Buffer | Uint8Array | string, limit: number): number | undefined {
  if (typeof message !== 'string') return message.byteLength > limit ? message.byteLength : undefined;
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: short text needs no counting.
  if (message.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(message, 'utf8');
  return bytes > limit ? bytes : undefined;
}

const formatCount = (n: number) => n.toLocaleString('en-US');

/**
 * Decodes the bytes (or text) of a message into a payload, or a readable reason.
 *
 * Never throws, whatever the bytes: a payload larger than `maxPayloadBytes`
 * (1 MiB by default; refused unread), malformed JSON (invalid UTF-8 is read as
 * U+FFFD), a top level that is not an object, a wrong field type and a bad
 * timestamp all come back as `Left` with a sentence naming the field and the
 * problem. The sentence stays short whatever the payload holds: refused values are
 * described (`an array of 1 item`, the first 60 characters of a long string), never
 * rendered whole, so JSON nested 100,000 deep or a 16 MiB string costs no more to
 * refuse than a number. Extra fields are ignored and dropped: the payload holds the
 * two fields only, as own properties of a plain object (a `"__proto__"` key is just
 * another extra field).
 *
 * @example
 * ```ts
 * import { decodeIotPayloadBytes } from 'mqtt-iot-stream';
 * const result = decodeIotPayloadBytes(Buffer.from('{"iottimestamp":"2020-07-01 12:34:56","accesslogs":"x"}'));
 * if (result._tag === 'Right') console.log(result.right.iottimestamp.toISOString());
 * else console.error(result.left);
 * ```
 * @param message - the payload: bytes (read as UTF-8) or text.
 * @param options - `maxPayloadBytes`.
 * @returns the payload, or the reason it was refused.
 * @throws TypeError or RangeError only for a bad `maxPayloadBytes` option, never for the payload.
 */
export function decodeIotPayloadBytes(
  message: Buffer | Uint8Array | string,
  options?: DecodeIotPayloadBytesOptions,
): Either<string, IotPayload> {
  return decodeIotPayloadWithin(message, maxPayloadBytesOption(options, 'decodeIotPayloadBytes'));
}

/**
 * {@link decodeIotPayloadBytes} with a `maxPayloadBytes` already checked, for
 * {@link decodeIotPayload}, which checks it once rather than for every message.
 * @internal
 */
export function decodeIotPayloadWithin(
  message: Buffer | Uint8Array | string,
  limit: number,
): Either<string, IotPayload> {
  const size = sizeBeyond(message, limit);
  if (size !== undefined) {
    return left(
      `payload is ${formatCount(size)} bytes, more than the ${formatCount(limit)} allowed (maxPayloadBytes); not parsed`,
    );
  }
  // A Buffer (what MQTT.js hands over) is read as it is: wrapping it again cost a Buffer a message.
  const text =
    typeof message === 'string'
      ? message
      : Buffer.isBuffer(message)
        ? message.toString()
        : Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString('utf8');
  let json: unknown;
  try {
    // V8's JSON.parse is iterative: any nesting depth parses without a stack overflow.
    json = JSON.parse(text);
  } catch (error) {
    // V8 quotes a few characters of the input: control characters among them are shown as symbols.
    return left(`payload is not JSON: ${singleLine(truncateText(String((error as Error).message), 200))}`);
  }
  // Checked here so that io-ts never renders a refused top level (JSON.stringify of
  // an array nested 100,000 deep overflows the stack).
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return left(`payload is not a JSON object {"iottimestamp": …, "accesslogs": …}: got ${describeValue(json)}`);
  }
  // A well-formed payload needs no io-ts: the same checks by hand cost a tenth (the
  // aggregator decodes one a message). io-ts then only words what is wrong.
  const { iottimestamp, accesslogs } = json as Partial<Record<string, unknown>>;
  if (typeof iottimestamp === 'string' && typeof accesslogs === 'string') {
    const epoch = parseEventTime(iottimestamp);
    if (epoch !== undefined) return right({ iottimestamp: new Date(epoch), accesslogs });
  }
  const decoded = IotPayloadCodec.decode(json);
  if (isLeft(decoded)) return left(PathReporter.report(decoded).join('; '));
  // A fresh object of the two fields: io-ts's copy of the parsed object assigns a
  // "__proto__" key (making it the prototype), and extra fields, however large,
  // should not travel down the pipeline.
  return right({ iottimestamp: decoded.right.iottimestamp, accesslogs: decoded.right.accesslogs });
}
