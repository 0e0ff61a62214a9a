/**
 * The record {@link parseAccessLogLine} and {@link parseAccessLog} give: the line and
 * the positions of its fields, each string and the `Date` made on first read.
 * @module
 */
import { ACCESS_LOG_FIELDS, type AccessLogRecord } from './accessLogRecord.js';
import { closingQuote, quotedDash } from './quotedField.js';

// Character codes compared against. Declared here, not imported from one module: V8
// reads an imported constant from its module cell at every use, and the scanner
// measured about 5% slower that way.
const SPACE = 0x20,
  QUOTE = 0x22,
  MINUS = 0x2d,
  SLASH = 0x2f,
  UPPER_A = 0x41,
  UPPER_Z = 0x5a,
  UNDERSCORE = 0x5f;

/** Not yet computed, for the lazily found positions. */
const UNKNOWN = -2;

/** From the user's end to the request's first character: ` [`, the 26-character date, `] "`. */
const USER_END_TO_REQUEST = 31;

/**
 * What a {@link LazyAccessLogRecord} makes on first read of a field other than `status`
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
export class LazyAccessLogRecord implements AccessLogRecord {
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

  constructor(
    line: string,
    end: number,
    clientEnd: number,
    identEnd: number,
    userEnd: number,
    requestEnd: number,
    bytesEnd: number,
    status: number,
    bytes: number,
    timeMillis: number,
  ) {
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
    const made = (this.#made ??= new Made());
    return (made.client ??= this.#line.slice(0, this.#clientEnd));
  }

  get ident(): string {
    // Nearly always "-": a one-character slice is V8's shared single-character string,
    // so no cache is kept.
    return this.#line.slice(this.#clientEnd + 1, this.#identEnd);
  }

  get user(): string {
    const made = (this.#made ??= new Made());
    return (made.user ??= this.#line.slice(this.#identEnd + 1, this.#userEnd));
  }

  get time(): Date {
    const made = (this.#made ??= new Made());
    return (made.time ??= new Date(this.#timeMillis));
  }

  get timeMillis(): number {
    return this.#timeMillis;
  }

  get request(): string {
    const made = (this.#made ??= new Made());
    return (made.request ??= this.#line.slice(this.#userEnd + USER_END_TO_REQUEST, this.#requestEnd));
  }

  get method(): string | null {
    const made = (this.#made ??= new Made());
    if (made.methodEnd === UNKNOWN) this.#splitRequest();
    return made.method;
  }

  get path(): string | null {
    const made = (this.#made ??= new Made());
    const methodEnd = made.methodEnd === UNKNOWN ? this.#splitRequest() : made.methodEnd;
    if (methodEnd === -1) return null;
    return (made.path ??= this.#line.slice(methodEnd + 1, made.pathEnd));
  }

  get protocol(): string | null {
    const made = (this.#made ??= new Made());
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
    const made = (this.#made ??= new Made());
    const refererEnd = made.refererEnd === UNKNOWN ? this.#findQuoted() : made.refererEnd;
    if (refererEnd === -1) return null;
    return (made.referer ??= this.#line.slice(this.#bytesEnd + 2, refererEnd));
  }

  get userAgent(): string | null {
    const made = (this.#made ??= new Made());
    if (made.refererEnd === UNKNOWN) this.#findQuoted();
    if (made.agentStart === -1) return null;
    return (made.userAgent ??= this.#line.slice(made.agentStart, made.agentEnd));
  }

  get raw(): string {
    return this.#end === this.#line.length ? this.#line : this.#line.slice(0, this.#end);
  }

  /** The plain record, for `JSON.stringify` (which writes `time` as its ISO string). */
  toJSON(): AccessLogRecord {
    return {
      client: this.client,
      ident: this.ident,
      user: this.user,
      time: this.time,
      request: this.request,
      method: this.method,
      path: this.path,
      protocol: this.protocol,
      status: this.status,
      bytes: this.bytes,
      referer: this.referer,
      userAgent: this.userAgent,
      raw: this.raw,
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
    const made = (this.#made ??= new Made());
    const line = this.#line,
      end = this.#end;
    let refererEnd = -1;
    let agentStart = -1;
    let agentEnd = -1;
    let position = this.#bytesEnd + 1;
    if (position + 1 <= end && line.charCodeAt(position) === QUOTE) {
      refererEnd = quotedDash(line, position) ? position + 2 : closingQuote(line, position + 1, end);
      position = refererEnd + 2;
      if (
        refererEnd < end &&
        position < end &&
        line.charCodeAt(refererEnd + 1) === SPACE &&
        line.charCodeAt(position) === QUOTE
      ) {
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
    const made = (this.#made ??= new Made());
    const line = this.#line;
    const from = this.#userEnd + USER_END_TO_REQUEST,
      requestEnd = this.#requestEnd;
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
      method =
        length === 3 && packed === 0x474554
          ? 'GET'
          : length === 4 && packed === 0x504f5354
            ? 'POST'
            : length === 4 && packed === 0x48454144
              ? 'HEAD'
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
for (const field of ACCESS_LOG_FIELDS) {
  Object.defineProperty(LazyAccessLogRecord.prototype, field, { enumerable: true });
}

/**
 * `HTTP/1.1`, `HTTP/1.0` or `HTTP/2.0` (as shared strings) when the request ends with
 * one of them at `at`, else null. The caller checked that 8 characters are there.
 */
function knownProtocol(line: string, at: number): string | null {
  if (
    line.charCodeAt(at) !== 0x48 ||
    line.charCodeAt(at + 1) !== 0x54 ||
    line.charCodeAt(at + 2) !== 0x54 ||
    line.charCodeAt(at + 3) !== 0x50 ||
    line.charCodeAt(at + 4) !== SLASH ||
    line.charCodeAt(at + 6) !== 0x2e
  )
    return null;
  const major = line.charCodeAt(at + 5),
    minor = line.charCodeAt(at + 7);
  if (major === 0x31) return minor === 0x31 ? 'HTTP/1.1' : minor === 0x30 ? 'HTTP/1.0' : null;
  return major === 0x32 && minor === 0x30 ? 'HTTP/2.0' : null;
}
