/**
 * What a parsed access-log line is: the record type every parser of this folder gives.
 * @module
 */

/**
 * One access-log line, typed.
 *
 * Text fields are kept exactly as the server wrote them: escapes such as `\"` or
 * `\xE0` are not decoded (nothing is lost and no character encoding is guessed), and
 * `-` (the servers' "absent") stays `-` in `ident`, `user`, `referer` and `userAgent`.
 * Only `time`, `status` and `bytes` are converted.
 *
 * Records from {@link parseAccessLogLine} and {@link parseAccessLog} make their text
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
   * {@link parseAccessLogLine} and {@link parseAccessLog} give; optional so that records
   * built by hand need not have it. Not written by `JSON.stringify` (`time` is).
   */
  readonly timeMillis?: number;
}

/** Why a line was not read as an access-log line: a sentence naming the field and the problem. */
export type AccessLineFailure = string;

/**
 * The record's fields, in the order the line holds them (`raw`, the whole line, last).
 * @internal
 */
export const ACCESS_LOG_FIELDS = [
  'client',
  'ident',
  'user',
  'time',
  'request',
  'method',
  'path',
  'protocol',
  'status',
  'bytes',
  'referer',
  'userAgent',
  'raw',
] as const satisfies readonly (keyof AccessLogRecord)[];
