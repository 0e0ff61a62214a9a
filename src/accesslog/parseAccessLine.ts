/**
 * The pure access-log line parser: Common Log Format, Apache Combined and nginx's
 * default `combined`, as one hand-written scanner.
 * @module
 */
import type { Either } from 'fp-ts/lib/Either.js';

/**
 * One access-log line, typed.
 *
 * Text fields are kept exactly as the server wrote them: escapes such as `\"` or
 * `\xE0` are not decoded (nothing is lost and no character encoding is guessed), and
 * `-` (the servers' "absent") stays `-` in `ident`, `user`, `referer` and `userAgent`.
 * Only `time`, `status` and `bytes` are converted.
 *
 * Records from {@link parseAccessLine} and {@link parseAccessLog} make their text
 * fields and `time` on first read, from the line they keep, so reading only `status`
 * costs no string and no `Date`. They read like plain objects (`record.path`,
 * `const { status, path } = record`, `for…in`, `JSON.stringify` and `console.log` all
 * see the fields), but the fields are getters of a class, not own properties: the
 * spread `{ ...record }`, `Object.keys` and `structuredClone` see none of them. Name
 * the fields to make a plain copy.
 */
export interface AccessLogRecord {
  /** The client: an IPv4 or IPv6 address or a host name, as logged (`%h`, `$remote_addr`). */
  readonly client: string;
  /** The RFC 1413 identity (`%l`), almost always `-`. */
  readonly ident: string;
  /** The authenticated user (`%u`, `$remote_user`), `-` when none. May hold any token a client sent. */
  readonly user: string;
  /** When the request was received, with the logged zone offset applied (an instant). */
  readonly time: Date;
  /** The request line between the quotes, as logged: `GET /x HTTP/1.1`, `""` gives `''`, junk stays junk. */
  readonly request: string;
  /** The method (`GET`), or `null` when the request is not shaped `METHOD target [protocol]`. */
  readonly method: string | null;
  /** The request target (`/x?y=1`), or `null` when the request is not shaped `METHOD target [protocol]`. */
  readonly path: string | null;
  /** The protocol as sent (`HTTP/1.1`, even a malformed `HTTP/V1.0`), or `null` when the request has none. */
  readonly protocol: string | null;
  /** The HTTP status, a three-digit number. */
  readonly status: number;
  /** Response size in bytes. Apache's `%b` writes `-` for "no bytes sent", which gives `0`. */
  readonly bytes: number;
  /** The `Referer` header as logged (`-` when absent), or `null` on a Common Log Format line. */
  readonly referer: string | null;
  /** The `User-Agent` header as logged (`-` when absent), or `null` on a Common Log Format line. */
  readonly userAgent: string | null;
  /** The line itself, without its line ending. */
  readonly raw: string;
  /**
   * `time` as epoch milliseconds (`time.getTime()`), without making the `Date`: cheaper
   * when only the instant is needed, e.g. as a window's event time. Set on every record
   * {@link parseAccessLine} and {@link parseAccessLog} give; optional so that records
   * built by hand need not have it. Not written by `JSON.stringify` (`time` is).
   */
  readonly timeMillis?: number;
}

/** Why a line was not read as an access-log line: a sentence naming the field and the problem. */
export type AccessLineFailure = string;

// Character codes the scanner compares against.
const SPACE = 0x20, QUOTE = 0x22, BACKSLASH = 0x5c, OPEN_BRACKET = 0x5b, CLOSE_BRACKET = 0x5d;
const SLASH = 0x2f, COLON = 0x3a, PLUS = 0x2b, MINUS = 0x2d, LF = 0x0a, CR = 0x0d;
const UNDERSCORE = 0x5f, UPPER_A = 0x41, UPPER_Z = 0x5a, DIGIT_0 = 0x30;

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

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
 * import { parseAccessLine } from 'mqtt-iot-stream';
 * const result = parseAccessLine('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326');
 * if (result._tag === 'Right') {
 *   console.log(result.right.status, result.right.time.toISOString()); // 200 2000-10-10T20:55:36.000Z
 * } else {
 *   console.error(result.left);
 * }
 * ```
 * @see {@link parseAccessLog} for the RxJS operator.
 */
export function parseAccessLine(line: string): Either<AccessLineFailure, AccessLogRecord> {
  const parsed = scanAccessLine(line);
  return typeof parsed === 'string' ? { _tag: 'Left', left: parsed } : { _tag: 'Right', right: parsed };
}

/**
 * The scanner behind {@link parseAccessLine}: a record, or the reason as a string.
 * Exposed for the operator so the hot path allocates no `Either`.
 *
 * It checks everything that decides between record and reason (structure, date,
 * status, bytes) and keeps the rest as positions in the line: the strings and the
 * `Date` are made by {@link ParsedAccessLine} when first read.
 * @internal
 */
export function scanAccessLine(line: string): AccessLogRecord | AccessLineFailure {
  // One search finds a trailing LF and any line break before it.
  let end = line.length;
  const lineBreak = line.indexOf('\n');
  if (lineBreak !== -1 && lineBreak === end - 1) end--;
  if (end > 0 && line.charCodeAt(end - 1) === CR) end--;
  if (end === 0) return 'the line is empty';
  if (lineBreak !== -1 && lineBreak < end) return 'the text holds more than one line (a line break before its end): pass one line at a time';

  // client, ident: single tokens, each followed by one space.
  const clientEnd = line.indexOf(' ');
  if (clientEnd <= 0 || clientEnd >= end) return notALogLine(line, end, 'it does not start with a client followed by a space');
  let identEnd = clientEnd + 2;
  let userEnd = clientEnd + 4;
  // Nearly every line goes on with " - - [" and the hour of the line before: one search
  // checks the "-" ident and user, the bracket and the date up to the hour at once.
  const sameHour = line.indexOf(lastDashesAndHour, clientEnd) === clientEnd;
  if (!sameHour) {
    // A "-" ident or user is still recognised in place: no search.
    if (line.charCodeAt(clientEnd + 1) !== MINUS || line.charCodeAt(identEnd) !== SPACE) {
      identEnd = line.indexOf(' ', clientEnd + 1);
      if (identEnd === -1 || identEnd >= end || identEnd === clientEnd + 1) return notALogLine(line, end, 'no ident field after the client');
    }
    // user: up to " [" so that a user token is taken whole.
    userEnd = identEnd + 2;
    if (line.charCodeAt(identEnd + 1) !== MINUS || line.charCodeAt(userEnd) !== SPACE || line.charCodeAt(userEnd + 1) !== OPEN_BRACKET) {
      userEnd = line.indexOf(' [', identEnd + 1);
      if (userEnd === -1 || userEnd >= end) return notALogLine(line, end, 'no " [date]" after client, ident and user');
      if (userEnd === identEnd + 1) return notALogLine(line, end, 'the user field is empty');
    }
  }

  // [dd/Mon/yyyy:HH:MM:SS ±hhmm]
  const dateStart = userEnd + 2;
  if (dateStart + 27 > end || line.charCodeAt(dateStart + 26) !== CLOSE_BRACKET) return badDate(line, dateStart, end);
  const timeMillis = readTime(line, dateStart, sameHour);
  if (timeMillis !== timeMillis) return badDate(line, dateStart, end); // NaN: a field out of range

  // "request"
  let position = dateStart + 27;
  if (position + 1 >= end || line.charCodeAt(position) !== SPACE || line.charCodeAt(position + 1) !== QUOTE) {
    return `no quoted request after the date: ${excerpt(line, position, end)}`;
  }
  const requestEnd = closingQuote(line, position + 2, end);
  if (requestEnd === end) return `the request has no closing quote: ${excerpt(line, position + 1, end)}`;

  // status: three digits, then a space.
  position = requestEnd + 1;
  if (position >= end || line.charCodeAt(position) !== SPACE) return `no space after the quoted request: ${excerpt(line, position, end)}`;
  position++;
  const statusEnd = position + 3;
  let status = -1;
  if (statusEnd <= end && (statusEnd === end || line.charCodeAt(statusEnd) === SPACE)) {
    const hundreds = line.charCodeAt(position) - DIGIT_0, tens = line.charCodeAt(position + 1) - DIGIT_0, units = line.charCodeAt(position + 2) - DIGIT_0;
    // A digit d has d | (9 - d) >= 0; anything else makes one of them negative.
    if ((hundreds | (9 - hundreds) | tens | (9 - tens) | units | (9 - units)) >= 0) status = hundreds * 100 + tens * 10 + units;
  }
  if (status < 0) return `the status "${line.slice(position, Math.min(tokenEnd(line, position, end), position + 20))}" is not a three-digit number`;

  // bytes: digits or "-".
  if (statusEnd === end) return 'no bytes field after the status';
  position = statusEnd + 1;
  let bytes = 0;
  let bytesEnd = position;
  if (line.charCodeAt(position) === MINUS) {
    bytesEnd++; // Apache's %b: "-" means no bytes were sent
  } else {
    for (; bytesEnd < end; bytesEnd++) {
      const digit = line.charCodeAt(bytesEnd) - DIGIT_0;
      if (digit < 0 || digit > 9) break;
      bytes = bytes * 10 + digit;
    }
  }
  if (bytesEnd === position || bytesEnd - position > 15 || (bytesEnd < end && line.charCodeAt(bytesEnd) !== SPACE)) {
    return `the bytes "${line.slice(position, Math.min(tokenEnd(line, position, end), position + 20))}" are not a number or "-"`;
  }

  // Optional "referer" "user agent" follow; they never reject a line, so the record finds
  // them when first read.
  return new ParsedAccessLine(line, end, clientEnd, identEnd, userEnd, requestEnd, bytesEnd, status, bytes, timeMillis);
}

/** Not yet computed, for the lazily found positions. */
const UNKNOWN = -2;

/**
 * What a {@link ParsedAccessLine} makes on first read of a field other than `status`
 * and `bytes`: apart, so that a record read only for its status stays small.
 */
class Made {
  refererEnd = UNKNOWN;
  agentStart = UNKNOWN;
  agentEnd = UNKNOWN;
  methodEnd = UNKNOWN;
  pathEnd = UNKNOWN;
  method: string | null = null;
  protocol: string | null = null;
  time: Date | undefined = undefined;
  client: string | undefined = undefined;
  user: string | undefined = undefined;
  request: string | undefined = undefined;
  path: string | undefined = undefined;
  referer: string | undefined = undefined;
  userAgent: string | undefined = undefined;
}

/**
 * An {@link AccessLogRecord} that keeps its line and the positions of its fields, and
 * makes each string and the `Date` on first read (then keeps it). Reading only
 * `status`, as a per-status count does, costs no string and no `Date`.
 *
 * It behaves as a plain record where users look: the thirteen fields are enumerable
 * (so `for…in`, chai's deep equality and the like see them), `toJSON` gives the plain
 * record (so `JSON.stringify` writes what it wrote for a plain one) and `util.inspect`
 * shows the fields, not the positions.
 * @internal
 */
class ParsedAccessLine implements AccessLogRecord {
  readonly #line: string;
  readonly #end: number;
  readonly #clientEnd: number;
  readonly #identEnd: number;
  readonly #userEnd: number;
  readonly #requestEnd: number;
  readonly #bytesEnd: number;
  readonly #status: number;
  readonly #bytes: number;
  readonly #timeMillis: number;
  /** The strings, the `Date` and the positions made on first read, kept for the next reads. */
  #made: Made | undefined = undefined;

  constructor(line: string, end: number, clientEnd: number, identEnd: number, userEnd: number, requestEnd: number, bytesEnd: number,
    status: number, bytes: number, timeMillis: number) {
    this.#line = line;
    this.#end = end;
    this.#clientEnd = clientEnd;
    this.#identEnd = identEnd;
    this.#userEnd = userEnd;
    this.#requestEnd = requestEnd;
    this.#bytesEnd = bytesEnd;
    this.#status = status;
    this.#bytes = bytes;
    this.#timeMillis = timeMillis;
  }

  get client(): string {
    const made = this.#made ??= new Made();
    return made.client ??= this.#line.slice(0, this.#clientEnd);
  }

  get ident(): string {
    // Nearly always "-": a one-character slice is V8's shared single-character string,
    // so no cache is kept.
    return this.#line.slice(this.#clientEnd + 1, this.#identEnd);
  }

  get user(): string {
    const made = this.#made ??= new Made();
    return made.user ??= this.#line.slice(this.#identEnd + 1, this.#userEnd);
  }

  get time(): Date {
    const made = this.#made ??= new Made();
    return made.time ??= new Date(this.#timeMillis);
  }

  get timeMillis(): number {
    return this.#timeMillis;
  }

  get request(): string {
    const made = this.#made ??= new Made();
    return made.request ??= this.#line.slice(this.#userEnd + 31, this.#requestEnd);
  }

  get method(): string | null {
    const made = this.#made ??= new Made();
    if (made.methodEnd === UNKNOWN) this.#splitRequest();
    return made.method;
  }

  get path(): string | null {
    const made = this.#made ??= new Made();
    const methodEnd = made.methodEnd === UNKNOWN ? this.#splitRequest() : made.methodEnd;
    if (methodEnd === -1) return null;
    return made.path ??= this.#line.slice(methodEnd + 1, made.pathEnd);
  }

  get protocol(): string | null {
    const made = this.#made ??= new Made();
    if (made.methodEnd === UNKNOWN) this.#splitRequest();
    return made.protocol;
  }

  get status(): number {
    return this.#status;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get referer(): string | null {
    const made = this.#made ??= new Made();
    const refererEnd = made.refererEnd === UNKNOWN ? this.#findQuoted() : made.refererEnd;
    if (refererEnd === -1) return null;
    return made.referer ??= this.#line.slice(this.#bytesEnd + 2, refererEnd);
  }

  get userAgent(): string | null {
    const made = this.#made ??= new Made();
    if (made.refererEnd === UNKNOWN) this.#findQuoted();
    if (made.agentStart === -1) return null;
    return made.userAgent ??= this.#line.slice(made.agentStart, made.agentEnd);
  }

  get raw(): string {
    return this.#end === this.#line.length ? this.#line : this.#line.slice(0, this.#end);
  }

  /** The plain record, for `JSON.stringify` (which writes `time` as its ISO string). */
  toJSON(): AccessLogRecord {
    return {
      client: this.client, ident: this.ident, user: this.user, time: this.time, request: this.request,
      method: this.method, path: this.path, protocol: this.protocol, status: this.status, bytes: this.bytes,
      referer: this.referer, userAgent: this.userAgent, raw: this.raw,
    };
  }

  /**
   * `util.inspect` (and so `console.log`) shows the fields as for a plain record: it
   * formats what this returns in place of the record.
   */
  [Symbol.for('nodejs.util.inspect.custom')](): AccessLogRecord {
    return this.toJSON();
  }

  /**
   * Finds the quoted referer and user agent after the bytes: the referer's closing
   * quote (-1 when there is no referer) and the user agent's start and end (-1 when
   * there is none). A quoted field cut off by the end of the line runs to the end.
   * Returns the referer end.
   */
  #findQuoted(): number {
    const made = this.#made ??= new Made();
    const line = this.#line, end = this.#end;
    let refererEnd = -1;
    let agentStart = -1;
    let agentEnd = -1;
    let position = this.#bytesEnd + 1;
    if (position + 1 <= end && line.charCodeAt(position) === QUOTE) {
      refererEnd = quotedDash(line, position) ? position + 2 : closingQuote(line, position + 1, end);
      position = refererEnd + 2;
      if (refererEnd < end && position < end && line.charCodeAt(refererEnd + 1) === SPACE && line.charCodeAt(position) === QUOTE) {
        agentStart = position + 1;
        agentEnd = quotedDash(line, position) ? position + 2 : closingQuote(line, agentStart, end);
      }
    }
    made.agentStart = agentStart;
    made.agentEnd = agentEnd;
    made.refererEnd = refererEnd;
    return refererEnd;
  }

  /**
   * Splits the request into method, path and protocol when it is shaped
   * `METHOD target [protocol]`; returns where the method ends, or -1 when it is not.
   */
  #splitRequest(): number {
    const made = this.#made ??= new Made();
    const line = this.#line;
    const from = this.#userEnd + 31, requestEnd = this.#requestEnd;
    // The method: upper-case letters, _ or -. Its first four codes, packed, tell GET,
    // POST and HEAD (nearly every request) without reading them again.
    let i = from;
    let packed = 0;
    for (; i < requestEnd; i++) {
      const code = line.charCodeAt(i);
      if (!((code >= UPPER_A && code <= UPPER_Z) || code === UNDERSCORE || code === MINUS)) break;
      if (i - from < 4) packed = (packed << 8) | code;
    }
    let methodEnd = -1;
    let method: string | null = null;
    let pathEnd = requestEnd;
    let protocol: string | null = null;
    if (i !== from && i < requestEnd - 1 && line.charCodeAt(i) === SPACE && line.charCodeAt(i + 1) !== SPACE) {
      methodEnd = i;
      const length = i - from;
      method = length === 3 && packed === 0x474554 ? 'GET'
        : length === 4 && packed === 0x504f5354 ? 'POST'
        : length === 4 && packed === 0x48454144 ? 'HEAD'
        : line.slice(from, i);
      // The protocol is the last word. Nearly always it is " HTTP/1.1", " HTTP/1.0" or
      // " HTTP/2.0": checked in place, giving a shared string.
      const space = requestEnd - 9;
      protocol = space > methodEnd && line.charCodeAt(space) === SPACE ? knownProtocol(line, space + 1) : null;
      if (protocol !== null) {
        pathEnd = space;
      } else {
        // Otherwise walk back to the space before it (a few characters, cheaper here than a search call).
        let lastSpace = requestEnd - 1;
        while (lastSpace > methodEnd && line.charCodeAt(lastSpace) !== SPACE) lastSpace--;
        if (lastSpace > methodEnd) {
          pathEnd = lastSpace;
          // "GET /x " (a trailing space) has no protocol rather than an empty one.
          if (lastSpace + 1 < requestEnd) protocol = line.slice(lastSpace + 1, requestEnd);
        }
      }
    }
    made.method = method;
    made.pathEnd = pathEnd;
    made.protocol = protocol;
    made.methodEnd = methodEnd;
    return methodEnd;
  }
}

// The record's fields are prototype getters; make them enumerable so that code walking
// the record's properties (for…in, deep equality in tests) sees the fields.
for (const field of ['client', 'ident', 'user', 'time', 'request', 'method', 'path', 'protocol', 'status', 'bytes', 'referer', 'userAgent', 'raw']) {
  Object.defineProperty(ParsedAccessLine.prototype, field, { enumerable: true });
}

/**
 * Index of the quote closing a field that starts at `from`, or `end` when there is none.
 * A backslash escapes the next character, so a quote is escaped when an odd run of
 * backslashes precedes it. `indexOf` does the walking: in V8 it is several times
 * faster than a `charCodeAt` loop over the long request and user-agent fields.
 */
function closingQuote(line: string, from: number, end: number): number {
  let quote = line.indexOf('"', from);
  while (quote !== -1 && quote < end) {
    let backslashes = 0;
    while (quote - backslashes - 1 >= from && line.charCodeAt(quote - backslashes - 1) === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return quote;
    quote = line.indexOf('"', quote + 1);
  }
  return end;
}

/** Whether the quoted field opening at `quote` is `"-"`, the servers' "absent". */
function quotedDash(line: string, quote: number): boolean {
  return line.charCodeAt(quote + 1) === MINUS && line.charCodeAt(quote + 2) === QUOTE;
}

/** Index of the next space at or after `from`, or `end`. */
function tokenEnd(line: string, from: number, end: number): number {
  let i = from;
  while (i < end && line.charCodeAt(i) !== SPACE) i++;
  return i;
}

/** The decimal value of `line[from, to)`, or -1 when a character is not a digit. */
function readDigits(line: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = line.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Two digits at `at` as a number, or NaN. */
function twoDigits(line: string, at: number): number {
  const high = line.charCodeAt(at) - DIGIT_0, low = line.charCodeAt(at + 1) - DIGIT_0;
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : NaN;
}

/**
 * The last `dd/Mon/yyyy:HH` read (already checked) and its local milliseconds: log lines
 * come roughly in time order, so nearly every line shares it with the one before, and
 * one `indexOf` comparing the 14 characters at once replaces reading and checking them.
 * `lastDashesAndHour` is the same after `" - - ["` (a "-" ident and user), for the scanner.
 * They start as a valid hour, so a match always means a checked one.
 */
let lastHourText = '01/Jan/1970:00';
let lastDashesAndHour = ' - - [01/Jan/1970:00';
let lastHourMillis = 0;

/**
 * Epoch milliseconds of `dd/Mon/yyyy:HH:MM:SS ±hhmm` at `at` (the caller checked that
 * 26 characters and the `]` are there), or NaN when any part is not valid. With
 * `sameHour`, the caller found `lastHourText` at `at`.
 */
function readTime(line: string, at: number, sameHour: boolean): number {
  let local = lastHourMillis;
  if (!sameHour && line.indexOf(lastHourText, at) !== at) {
    if (line.charCodeAt(at + 2) !== SLASH || line.charCodeAt(at + 6) !== SLASH || line.charCodeAt(at + 11) !== COLON) return NaN;
    const day = twoDigits(line, at);
    const month = monthNumber(line.charCodeAt(at + 3), line.charCodeAt(at + 4), line.charCodeAt(at + 5));
    const year = twoDigits(line, at + 7) * 100 + twoDigits(line, at + 9);
    const hour = twoDigits(line, at + 12);
    if (!(day >= 1 && month >= 1 && day <= daysInMonth(year, month) && hour <= 23)) return NaN;
    local = daysFromCivil(year, month, day) * MS_PER_DAY + hour * MS_PER_HOUR;
    lastHourText = line.slice(at, at + 14);
    lastDashesAndHour = ` - - [${lastHourText}`;
    lastHourMillis = local;
  }
  // :MM:SS ±hhmm, read on every line. Each digit d is checked as d | (max - d) >= 0
  // (a non-digit or a digit above max makes one side negative), all in one test.
  const sign = line.charCodeAt(at + 21);
  if (line.charCodeAt(at + 14) !== COLON || line.charCodeAt(at + 17) !== COLON || line.charCodeAt(at + 20) !== SPACE ||
      (sign !== PLUS && sign !== MINUS)) return NaN;
  const minuteTens = line.charCodeAt(at + 15) - DIGIT_0, minuteUnits = line.charCodeAt(at + 16) - DIGIT_0;
  const secondTens = line.charCodeAt(at + 18) - DIGIT_0, secondUnits = line.charCodeAt(at + 19) - DIGIT_0;
  const offsetHourTens = line.charCodeAt(at + 22) - DIGIT_0, offsetHourUnits = line.charCodeAt(at + 23) - DIGIT_0;
  const offsetMinuteTens = line.charCodeAt(at + 24) - DIGIT_0, offsetMinuteUnits = line.charCodeAt(at + 25) - DIGIT_0;
  if ((minuteTens | (5 - minuteTens) | minuteUnits | (9 - minuteUnits) | secondTens | (5 - secondTens) | secondUnits | (9 - secondUnits) |
       offsetHourTens | (2 - offsetHourTens) | offsetHourUnits | (9 - offsetHourUnits) |
       offsetMinuteTens | (5 - offsetMinuteTens) | offsetMinuteUnits | (9 - offsetMinuteUnits)) < 0) return NaN;
  const offsetHours = offsetHourTens * 10 + offsetHourUnits;
  if (offsetHours > 23) return NaN;
  const offset = (offsetHours * 60 + offsetMinuteTens * 10 + offsetMinuteUnits) * MS_PER_MINUTE;
  local += (minuteTens * 10 + minuteUnits) * MS_PER_MINUTE + (secondTens * 10 + secondUnits) * 1000;
  return sign === PLUS ? local - offset : local + offset;
}

/** 1–12 for `Jan`…`Dec` as Apache and nginx write them, 0 otherwise; no string is built. */
function monthNumber(first: number, second: number, third: number): number {
  switch ((first << 16) | (second << 8) | third) {
    case 0x4a616e: return 1;  // Jan
    case 0x466562: return 2;  // Feb
    case 0x4d6172: return 3;  // Mar
    case 0x417072: return 4;  // Apr
    case 0x4d6179: return 5;  // May
    case 0x4a756e: return 6;  // Jun
    case 0x4a756c: return 7;  // Jul
    case 0x417567: return 8;  // Aug
    case 0x536570: return 9;  // Sep
    case 0x4f6374: return 10; // Oct
    case 0x4e6f76: return 11; // Nov
    case 0x446563: return 12; // Dec
    default: return 0;
  }
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), for years ≥ 0. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/**
 * `HTTP/1.1`, `HTTP/1.0` or `HTTP/2.0` (as shared strings) when the request ends with
 * one of them at `at`, else null. The caller checked that 8 characters are there.
 */
function knownProtocol(line: string, at: number): string | null {
  if (line.charCodeAt(at) !== 0x48 || line.charCodeAt(at + 1) !== 0x54 || line.charCodeAt(at + 2) !== 0x54 || line.charCodeAt(at + 3) !== 0x50 ||
      line.charCodeAt(at + 4) !== SLASH || line.charCodeAt(at + 6) !== 0x2e) return null;
  const major = line.charCodeAt(at + 5), minor = line.charCodeAt(at + 7);
  if (major === 0x31) return minor === 0x31 ? 'HTTP/1.1' : minor === 0x30 ? 'HTTP/1.0' : null;
  return major === 0x32 && minor === 0x30 ? 'HTTP/2.0' : null;
}

function badDate(line: string, dateStart: number, end: number): string {
  const close = line.indexOf(']', dateStart);
  const text = line.slice(dateStart, Math.min(close === -1 || close > end ? end : close, dateStart + 40));
  return `the date "${text}" is not a valid [dd/Mon/yyyy:HH:MM:SS ±hhmm]`;
}

function notALogLine(line: string, end: number, why: string): string {
  return `not an access-log line (${why}): ${excerpt(line, 0, end)}`;
}

/** A short quoted piece of the line for a reason, so a huge junk line does not flood the log. */
function excerpt(line: string, from: number, end: number): string {
  const to = Math.min(end, from + 60);
  return JSON.stringify(line.slice(from, to)) + (to < end ? '…' : '');
}
