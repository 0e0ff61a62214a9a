/**
 * The access-log scanner: one walk over a line that decides between record and
 * reason. What it accepts is documented on {@link parseAccessLogLine}.
 * @module
 */
import type { AccessLineFailure, AccessLogRecord } from './accessLogRecord.js';
import { LazyAccessLogRecord } from './lazyAccessLogRecord.js';
import { readLogTime, type LastHour } from './logTime.js';
import { closingQuote } from './quotedField.js';

// Character codes compared against. Declared here, not imported from one module: V8
// reads an imported constant from its module cell at every use, and the scanner
// measured about 5% slower that way.
const CR = 0x0d,
  SPACE = 0x20,
  QUOTE = 0x22,
  MINUS = 0x2d,
  DIGIT_0 = 0x30,
  OPEN_BRACKET = 0x5b,
  CLOSE_BRACKET = 0x5d;

/**
 * The scanner behind {@link parseAccessLogLine} and {@link parseAccessLog}: a record, or
 * the reason as a string, so that the operator's hot path allocates no `Either`.
 *
 * It checks everything that decides between record and reason (structure, date,
 * status, bytes) and keeps the rest as positions in the line: the strings and the
 * `Date` are made by {@link LazyAccessLogRecord} when first read.
 *
 * @param lastHour - the memo of the last hour read (see {@link LastHour}): it makes
 *   lines of the same hour cheaper, and never changes a result.
 * @internal
 */
export function scanAccessLine(line: string, lastHour: LastHour): AccessLogRecord | AccessLineFailure {
  // One search finds a trailing LF and any line break before it.
  let end = line.length;
  const lineBreak = line.indexOf('\n');
  if (lineBreak !== -1 && lineBreak === end - 1) end--;
  if (end > 0 && line.charCodeAt(end - 1) === CR) end--;
  if (end === 0) return 'the line is empty';
  if (lineBreak !== -1 && lineBreak < end)
    return 'the text holds more than one line (a line break before its end): pass one line at a time';

  // client, ident: single tokens, each followed by one space.
  const clientEnd = line.indexOf(' ');
  if (clientEnd <= 0 || clientEnd >= end)
    return notALogLine(line, end, 'it does not start with a client followed by a space');
  let identEnd = clientEnd + 2;
  let userEnd = clientEnd + 4;
  // Nearly every line goes on with " - - [" and the hour of the line before: one search
  // checks the "-" ident and user, the bracket and the date up to the hour at once.
  const sameHour = line.indexOf(lastHour.afterDashes, clientEnd) === clientEnd;
  if (!sameHour) {
    // A "-" ident or user is still recognised in place: no search.
    if (line.charCodeAt(clientEnd + 1) !== MINUS || line.charCodeAt(identEnd) !== SPACE) {
      identEnd = line.indexOf(' ', clientEnd + 1);
      if (identEnd === -1 || identEnd >= end || identEnd === clientEnd + 1)
        return notALogLine(line, end, 'no ident field after the client');
    }
    // user: up to " [" so that a user token is taken whole.
    userEnd = identEnd + 2;
    if (
      line.charCodeAt(identEnd + 1) !== MINUS ||
      line.charCodeAt(userEnd) !== SPACE ||
      line.charCodeAt(userEnd + 1) !== OPEN_BRACKET
    ) {
      userEnd = line.indexOf(' [', identEnd + 1);
      if (userEnd === -1 || userEnd >= end) return notALogLine(line, end, 'no " [date]" after client, ident and user');
      if (userEnd === identEnd + 1) return notALogLine(line, end, 'the user field is empty');
    }
  }

  // [dd/Mon/yyyy:HH:MM:SS ±hhmm]
  const dateStart = userEnd + 2;
  if (dateStart + 27 > end || line.charCodeAt(dateStart + 26) !== CLOSE_BRACKET) return badDate(line, dateStart, end);
  const timeMillis = readLogTime(line, dateStart, sameHour, lastHour);
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
  if (position >= end || line.charCodeAt(position) !== SPACE)
    return `no space after the quoted request: ${excerpt(line, position, end)}`;
  position++;
  const statusEnd = position + 3;
  let status = -1;
  if (statusEnd <= end && (statusEnd === end || line.charCodeAt(statusEnd) === SPACE)) {
    const hundreds = line.charCodeAt(position) - DIGIT_0,
      tens = line.charCodeAt(position + 1) - DIGIT_0,
      units = line.charCodeAt(position + 2) - DIGIT_0;
    // A digit d has d | (9 - d) >= 0; anything else makes one of them negative.
    if ((hundreds | (9 - hundreds) | tens | (9 - tens) | units | (9 - units)) >= 0)
      status = hundreds * 100 + tens * 10 + units;
  }
  if (status < 0)
    return `the status "${line.slice(position, Math.min(tokenEnd(line, position, end), position + 20))}" is not a three-digit number`;

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
  return new LazyAccessLogRecord(
    line,
    end,
    clientEnd,
    identEnd,
    userEnd,
    requestEnd,
    bytesEnd,
    status,
    bytes,
    timeMillis,
  );
}

/** Index of the next space at or after `from`, or `end`. */
function tokenEnd(line: string, from: number, end: number): number {
  let i = from;
  while (i < end && line.charCodeAt(i) !== SPACE) i++;
  return i;
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
