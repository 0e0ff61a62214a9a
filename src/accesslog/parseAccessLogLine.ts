/**
 * parseAccessLogLine: one access-log line to a typed record, without RxJS. Common Log
 * Format, Apache Combined and nginx's default `combined`, by one hand-written scanner.
 * @module
 */
import type { Either } from 'fp-ts/lib/Either.js';
import type { AccessLineFailure, AccessLogRecord } from './accessLogRecord.js';
import { LastHour } from './logTime.js';
import { scanAccessLine } from './scanAccessLine.js';

/**
 * The scanner's memo for every call of {@link parseAccessLogLine}: module state, but only
 * a memo (see {@link LastHour}), so a call's result never depends on the calls before.
 */
const lastHour = new LastHour();

/**
 * Parses one access-log line into an {@link AccessLogRecord}, or says why it is not one.
 * Never throws, whatever the input.
 *
 * Reads `client ident user [dd/Mon/yyyy:HH:MM:SS ±hhmm] "request" status bytes`,
 * optionally followed by ` "referer" "user agent"` (Combined, nginx `combined`) and
 * by any further fields, which are ignored (e.g. an X-Forwarded-For `"-"`). How the
 * messy parts of real logs come out:
 *
 * - **line endings**: one trailing `\n`, `\r\n` or `\r` is removed; a line break
 *   anywhere else rejects the input (pass one line at a time).
 * - **client**: any token without spaces, so IPv6 addresses and host names are kept as written.
 * - **user**: everything up to ` [`, so a user token with odd characters is kept.
 * - **time**: day, month name (`Jan`…`Dec`, as Apache writes them), year, time and a
 *   `±hhmm` offset, all checked (no 32nd day, no 29 February outside leap years, no
 *   hour 24, no second 60: servers log POSIX time, which has no leap seconds); the
 *   offset is applied, so `time` is the instant.
 * - **request**: the text between the quotes, where a backslash escapes the next
 *   character (Apache's `\"`, nginx's `\x22`). `method`, `path` and `protocol` are
 *   filled only when it is shaped like a request line: an upper-case method
 *   (`A-Z`, `_`, `-`), a space, and a target. The protocol is the word after the
 *   last space, as sent (`HTTP/V1.0` is kept); `GET /x` has `protocol: null`.
 *   An empty request `""`, binary junk such as `\x16\x03\x01` and one-word requests
 *   like `SSH-2.0-Go` keep their text in `request` and give `null` method, path and protocol.
 * - **status**: exactly three digits (`000`–`999`; the range is not judged).
 * - **bytes**: up to 15 digits, or `-`, which Apache's `%b` writes when no bytes
 *   were sent: it gives `0` (the raw line still tells them apart).
 * - **referer, userAgent**: `null` when the line ends after the bytes (Common Log
 *   Format) or goes on with unquoted fields; a line with a referer and nothing
 *   after it has `userAgent: null`. A quoted field cut off by the end of the line
 *   (a missing closing quote, as in a truncated user agent) keeps the text up to
 *   the end of the line: the request before it is complete and its status known.
 *
 * Rejected, with a reason: a line without the `[date]` or a quoted request, a
 * date that is not a real one (`32/Foo/2020`), a status that is not three digits
 * (`2000`, `OK`), bytes that are not a number or `-`, and an empty line.
 *
 * The scanner walks the line once, checks everything that decides between record
 * and reason (the structure, the date, the status, the bytes) and computes the instant
 * with arithmetic; the record keeps the line and the positions of its fields, and
 * makes each string and the `Date` the first time it is read (then keeps it). So a
 * consumer that reads only `status` pays for no string and no `Date`.
 *
 * @param line - One line of an access log, with or without its line ending.
 * @returns `Right` with the record, or `Left` with the reason it is not an access-log line.
 *
 * @example
 * ```ts
 * import { parseAccessLogLine } from 'mqtt-iot-stream';
 * const result = parseAccessLogLine('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326');
 * if (result._tag === 'Right') {
 *   console.log(result.right.status, result.right.time.toISOString()); // 200 2000-10-10T20:55:36.000Z
 * } else {
 *   console.error(result.left);
 * }
 * ```
 * @see {@link parseAccessLog} for the RxJS operator.
 */
export function parseAccessLogLine(line: string): Either<AccessLineFailure, AccessLogRecord> {
  const parsed = scanAccessLine(line, lastHour);
  return typeof parsed === 'string' ? { _tag: 'Left', left: parsed } : { _tag: 'Right', right: parsed };
}
