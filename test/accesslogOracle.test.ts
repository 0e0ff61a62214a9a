// The lazy records of parseAccessLogLine against the eager parser they replaced: the
// same accept/reject decision, the same reason, and every field equal, whatever the
// input, the order the fields are read in and the lines read before (the hour cache).
// The eager parser is kept below, verbatim from before the change, as the oracle only.
import { ACCESS_LOG_FIELDS } from '../src/accesslog/accessLogRecord.js';
import { expect } from 'chai';
import fc from 'fast-check';
import { inspect } from 'node:util';
import { parseAccessLogLine, type AccessLogRecord } from '../src/index.js';
import { corpora, corpusLines, type CorpusName } from './support/corpora.js';

const FIELDS = ACCESS_LOG_FIELDS;
type Field = (typeof FIELDS)[number];

/** What the eager parser returned: a plain object with every field. */
type EagerRecord = { -readonly [K in Field]: AccessLogRecord[K] };

/** Parses `line` with both parsers, reading the lazy record's fields in `order` (twice), and asserts they agree. */
function agree(line: string, order: readonly Field[] = FIELDS): AccessLogRecord | undefined {
  const expected = eagerScan(line);
  const result = parseAccessLogLine(line);
  if (typeof expected === 'string') {
    expect(result, JSON.stringify(line)).to.deep.equal({ _tag: 'Left', left: expected });
    return undefined;
  }
  if (result._tag === 'Left')
    expect.fail(`${JSON.stringify(line)}: the eager parser accepts it, the lazy one says ${result.left}`);
  const record = result.right;
  for (const pass of [1, 2]) {
    for (const field of order) {
      const value = record[field],
        wanted = expected[field];
      // A cheap check first (this runs on every corpus line); chai to say what differs.
      const same =
        value instanceof Date && wanted instanceof Date ? value.getTime() === wanted.getTime() : value === wanted;
      if (!same) expect(value, `${JSON.stringify(line)} ${field} (read ${pass})`).to.deep.equal(wanted);
    }
  }
  // Reading again gives the same objects, not new ones (the Date in particular).
  expect(record.time).to.equal(record.time);
  expect(record.timeMillis).to.equal(expected.time.getTime());
  return record;
}

const realLines = (Object.keys(corpora) as CorpusName[]).flatMap((name) => {
  const lines = corpusLines(name);
  return Array.from({ length: 40 }, (_, index) => lines[Math.floor((index * lines.length) / 40)]!);
});
realLines.push(
  '46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html',
  '76.72.172.0 - - [03/Sep/2022:02:43:16 +0000] "" 400 0 "-" "-"',
  String.raw`10.0.0.1 - - [01/Jan/2020:00:00:00 +0000] "GET /say?q=\"hi\" HTTP/1.1" 200 5 "http://x/?a=\"b\"" "Agent \"quoted\" \\"`,
  'h - - [01/Jan/2020:00:00:00 +0000] "GET /x " 400 0',
  'h -x -y [01/Jan/2020:00:00:00 +0000] "GET /a b c HTTP/2.0" 200 1 "-x" "-"',
);

/** One edit of a line: replace, insert or delete a character, or cut the line. */
const edit = fc.record({
  kind: fc.constantFrom('replace', 'insert', 'delete', 'cut'),
  at: fc.nat(),
  text: fc.constantFrom(' ', '"', '\\', '[', ']', '-', ':', '/', '+', '0', '1', '2', '9', 'x', '\n', '\r', 'J', 'F'),
});

function mutate(line: string, edits: readonly { kind: string; at: number; text: string }[]): string {
  let text = line;
  for (const { kind, at: rawAt, text: piece } of edits) {
    const at = rawAt % (text.length + 1);
    if (kind === 'replace') text = text.slice(0, at) + piece + text.slice(at + 1);
    else if (kind === 'insert') text = text.slice(0, at) + piece + text.slice(at);
    else if (kind === 'delete') text = text.slice(0, at) + text.slice(at + 1);
    else text = text.slice(0, at);
  }
  return text;
}

describe('parseAccessLogLine: lazy records equal the eager parser', () => {
  it('on every line of the four corpora, every field', () => {
    for (const name of Object.keys(corpora) as CorpusName[]) {
      for (const line of corpusLines(name)) agree(line);
    }
  });

  it('on mutated real lines, read in any order, after any other lines (the hour cache)', () => {
    const fields = fc.shuffledSubarray([...FIELDS], { minLength: 1 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...realLines), fc.array(edit, { maxLength: 3 }), fields), {
          minLength: 1,
          maxLength: 8,
        }),
        (steps) => {
          for (const [line, edits, order] of steps) agree(mutate(line, edits), order);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('on random text, including text shaped like dates', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        agree(text);
      }),
      { numRuns: 2000 },
    );
    const dateChars = fc.constantFrom(
      '0',
      '1',
      '2',
      '3',
      '9',
      '/',
      ':',
      ' ',
      '+',
      '-',
      'J',
      'a',
      'n',
      'F',
      'e',
      'b',
      ']',
      '"',
    );
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: dateChars, minLength: 20, maxLength: 30 }), { minLength: 1, maxLength: 6 }),
        (dates) => {
          for (const date of dates) agree(`h - - [${date}] "GET / HTTP/1.1" 200 1`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('on lines sharing the hour with the line before but not the rest of the date, nor its validity', () => {
    const lines = [
      'h - - [28/Feb/2019:23:59:59 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23:00:00 -0130] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23:60:00 -0130] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23:00:00 -2400] "GET / HTTP/1.1" 200 1',
      'h - - [29/Feb/2019:23:00:00 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23:00:00 +0000 "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23:0:00 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23;00:00 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:2300:00 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23:00:00 +0000] "GET / HTTP/1.1" 200 1 x 28/Feb/2019:23',
      'h - alice [28/Feb/2019:23:00:00 +0000] "GET / HTTP/1.1" 200 1',
      'h - - - [28/Feb/2019:23:00:00 +0000] "GET / HTTP/1.1" 200 1',
      'h x - [28/Feb/2019:23:00:00 +0000] "GET / HTTP/1.1" 200 1',
      'h - - [28/Feb/2019:23:00:00 +0000]',
      'h  - - [28/Feb/2019:23:00:00 +0000] "GET / HTTP/1.1" 200 1',
    ];
    let records = 0;
    for (const line of [...lines, ...lines.reverse()]) if (agree(line) !== undefined) records++;
    expect(records).to.equal(12);
  });
});

describe('parseAccessLogLine records as plain values', () => {
  const line =
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"';
  let plain: EagerRecord;
  before(() => {
    plain = eagerScan(line) as EagerRecord;
  });

  function record(): AccessLogRecord {
    const result = parseAccessLogLine(line);
    if (result._tag === 'Left') return expect.fail(result.left);
    return result.right;
  }

  it('JSON.stringify writes what it wrote for the eager plain record, fields in the same order', () => {
    expect(JSON.stringify(record())).to.equal(JSON.stringify(plain));
    expect(JSON.parse(JSON.stringify(record()))).to.deep.equal(JSON.parse(JSON.stringify(plain)));
  });

  it('toJSON gives a plain object with every field, the Date included', () => {
    const json = (record() as AccessLogRecord & { toJSON(): unknown }).toJSON();
    expect(Object.getPrototypeOf(json)).to.equal(Object.prototype);
    expect(Object.keys(json as object)).to.deep.equal([...FIELDS]);
    expect(json).to.deep.equal(plain);
  });

  it('util.inspect (console.log) shows the fields as for the plain record, not the positions', () => {
    expect(inspect(record())).to.equal(inspect(plain));
    expect(inspect([record()], { depth: 0 })).to.equal(inspect([plain], { depth: 0 }));
    expect(inspect({ nested: { record: record() } }, { depth: 1 })).to.equal(
      inspect({ nested: { record: plain } }, { depth: 1 }),
    );
  });

  it('for…in lists exactly the thirteen fields, and deep equality with the plain record holds', () => {
    const keys: string[] = [];
    for (const key in record()) keys.push(key);
    expect(keys).to.deep.equal([...FIELDS]);
    expect(record()).to.deep.equal(plain);
  });

  it('gives timeMillis, the instant without making a Date', () => {
    expect((record() as AccessLogRecord & { timeMillis: number }).timeMillis).to.equal(
      Date.UTC(2000, 9, 10, 20, 55, 36),
    );
  });
});

// ---------------------------------------------------------------------------------
// The oracle: the eager parser as it was before the records became lazy (comments
// removed, otherwise unchanged). Not exported; used only by the tests above.

// Character codes the scanner compares against.
const SPACE = 0x20,
  QUOTE = 0x22,
  BACKSLASH = 0x5c,
  OPEN_BRACKET = 0x5b,
  CLOSE_BRACKET = 0x5d;
const SLASH = 0x2f,
  COLON = 0x3a,
  PLUS = 0x2b,
  MINUS = 0x2d,
  LF = 0x0a,
  CR = 0x0d;
const UNDERSCORE = 0x5f,
  UPPER_A = 0x41,
  UPPER_Z = 0x5a,
  DIGIT_0 = 0x30;

const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = 86_400_000;

function eagerScan(line: string): EagerRecord | string {
  let end = line.length;
  if (end > 0 && line.charCodeAt(end - 1) === LF) end--;
  if (end > 0 && line.charCodeAt(end - 1) === CR) end--;
  if (end === 0) return 'the line is empty';
  const lineBreak = line.indexOf('\n');
  if (lineBreak !== -1 && lineBreak < end)
    return 'the text holds more than one line (a line break before its end): pass one line at a time';

  // client, ident: single tokens, each followed by one space. A "-" ident or user (nearly
  // every line) is recognised in place and shared: no search, no new string.
  const clientEnd = line.indexOf(' ');
  if (clientEnd <= 0 || clientEnd >= end)
    return notALogLine(line, end, 'it does not start with a client followed by a space');
  let ident = '-';
  let identEnd = clientEnd + 2;
  if (line.charCodeAt(clientEnd + 1) !== MINUS || line.charCodeAt(identEnd) !== SPACE) {
    identEnd = line.indexOf(' ', clientEnd + 1);
    if (identEnd === -1 || identEnd >= end || identEnd === clientEnd + 1)
      return notALogLine(line, end, 'no ident field after the client');
    ident = line.slice(clientEnd + 1, identEnd);
  }
  // user: up to " [" so that a user token is taken whole.
  let user = '-';
  let userEnd = identEnd + 2;
  if (
    line.charCodeAt(identEnd + 1) !== MINUS ||
    line.charCodeAt(userEnd) !== SPACE ||
    line.charCodeAt(userEnd + 1) !== OPEN_BRACKET
  ) {
    userEnd = line.indexOf(' [', identEnd + 1);
    if (userEnd === -1 || userEnd >= end) return notALogLine(line, end, 'no " [date]" after client, ident and user');
    if (userEnd === identEnd + 1) return notALogLine(line, end, 'the user field is empty');
    user = line.slice(identEnd + 1, userEnd);
  }

  // [dd/Mon/yyyy:HH:MM:SS ±hhmm]
  const dateStart = userEnd + 2;
  if (dateStart + 27 > end || line.charCodeAt(dateStart + 26) !== CLOSE_BRACKET) return badDate(line, dateStart, end);
  const epoch = readTime(line, dateStart);
  if (epoch !== epoch) return badDate(line, dateStart, end); // NaN: a field out of range

  // "request"
  let position = dateStart + 27;
  if (position + 1 >= end || line.charCodeAt(position) !== SPACE || line.charCodeAt(position + 1) !== QUOTE) {
    return `no quoted request after the date: ${excerpt(line, position, end)}`;
  }
  const requestStart = position + 2;
  const requestEnd = closingQuote(line, requestStart, end);
  if (requestEnd === end) return `the request has no closing quote: ${excerpt(line, requestStart - 1, end)}`;

  // status: three digits, then a space.
  position = requestEnd + 1;
  if (position >= end || line.charCodeAt(position) !== SPACE)
    return `no space after the quoted request: ${excerpt(line, position, end)}`;
  position++;
  const statusEnd = position + 3;
  const status =
    statusEnd <= end && (statusEnd === end || line.charCodeAt(statusEnd) === SPACE)
      ? readDigits(line, position, statusEnd)
      : -1;
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

  // Optional "referer" "user agent"; anything after them is ignored.
  let referer: string | null = null;
  let userAgent: string | null = null;
  position = bytesEnd + 1;
  if (position + 1 <= end && line.charCodeAt(position) === QUOTE) {
    let refererEnd = position + 2;
    if (quotedDash(line, position)) {
      referer = '-';
    } else {
      refererEnd = closingQuote(line, position + 1, end);
      referer = line.slice(position + 1, refererEnd);
    }
    position = refererEnd + 2;
    if (
      refererEnd < end &&
      position < end &&
      line.charCodeAt(refererEnd + 1) === SPACE &&
      line.charCodeAt(position) === QUOTE
    ) {
      userAgent = quotedDash(line, position) ? '-' : line.slice(position + 1, closingQuote(line, position + 1, end));
    }
  }

  let method: string | null = null;
  let path: string | null = null;
  let protocol: string | null = null;
  const methodEnd = requestMethodEnd(line, requestStart, requestEnd);
  if (methodEnd !== -1) {
    // The protocol is the last word: walk back to the space before it (a few characters,
    // cheaper here than a search call).
    let lastSpace = requestEnd - 1;
    while (lastSpace > methodEnd && line.charCodeAt(lastSpace) !== SPACE) lastSpace--;
    method = methodText(line, requestStart, methodEnd);
    if (lastSpace > methodEnd) {
      path = line.slice(methodEnd + 1, lastSpace);
      // "GET /x " (a trailing space) has no protocol rather than an empty one.
      protocol = lastSpace + 1 < requestEnd ? line.slice(lastSpace + 1, requestEnd) : null;
    } else {
      path = line.slice(methodEnd + 1, requestEnd);
    }
  }

  return {
    client: line.slice(0, clientEnd),
    ident,
    user,
    time: new Date(epoch),
    request: line.slice(requestStart, requestEnd),
    method,
    path,
    protocol,
    status,
    bytes,
    referer,
    userAgent,
    raw: end === line.length ? line : line.slice(0, end),
  };
}

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

function quotedDash(line: string, quote: number): boolean {
  return line.charCodeAt(quote + 1) === MINUS && line.charCodeAt(quote + 2) === QUOTE;
}

function tokenEnd(line: string, from: number, end: number): number {
  let i = from;
  while (i < end && line.charCodeAt(i) !== SPACE) i++;
  return i;
}

function readDigits(line: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = line.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function twoDigits(line: string, at: number): number {
  const high = line.charCodeAt(at) - DIGIT_0,
    low = line.charCodeAt(at + 1) - DIGIT_0;
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : NaN;
}

function readTime(line: string, at: number): number {
  if (
    line.charCodeAt(at + 2) !== SLASH ||
    line.charCodeAt(at + 6) !== SLASH ||
    line.charCodeAt(at + 11) !== COLON ||
    line.charCodeAt(at + 14) !== COLON ||
    line.charCodeAt(at + 17) !== COLON ||
    line.charCodeAt(at + 20) !== SPACE
  )
    return NaN;
  const day = twoDigits(line, at);
  const month = monthNumber(line.charCodeAt(at + 3), line.charCodeAt(at + 4), line.charCodeAt(at + 5));
  const year = twoDigits(line, at + 7) * 100 + twoDigits(line, at + 9);
  const hour = twoDigits(line, at + 12),
    minute = twoDigits(line, at + 15),
    second = twoDigits(line, at + 18);
  const sign = line.charCodeAt(at + 21);
  const offsetHours = twoDigits(line, at + 22),
    offsetMinutes = twoDigits(line, at + 24);
  if (!(
    day >= 1 &&
    month >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59 &&
    (sign === PLUS || sign === MINUS)
  ))
    return NaN;
  const offset = (offsetHours * 60 + offsetMinutes) * MS_PER_MINUTE;
  const local = daysFromCivil(year, month, day) * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000;
  return sign === PLUS ? local - offset : local + offset;
}

function monthNumber(first: number, second: number, third: number): number {
  switch ((first << 16) | (second << 8) | third) {
    case 0x4a616e:
      return 1; // Jan
    case 0x466562:
      return 2; // Feb
    case 0x4d6172:
      return 3; // Mar
    case 0x417072:
      return 4; // Apr
    case 0x4d6179:
      return 5; // May
    case 0x4a756e:
      return 6; // Jun
    case 0x4a756c:
      return 7; // Jul
    case 0x417567:
      return 8; // Aug
    case 0x536570:
      return 9; // Sep
    case 0x4f6374:
      return 10; // Oct
    case 0x4e6f76:
      return 11; // Nov
    case 0x446563:
      return 12; // Dec
    default:
      return 0;
  }
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function requestMethodEnd(line: string, from: number, to: number): number {
  let i = from;
  for (; i < to; i++) {
    const code = line.charCodeAt(i);
    if ((code >= UPPER_A && code <= UPPER_Z) || code === UNDERSCORE || code === MINUS) continue;
    break;
  }
  if (i === from || i >= to - 1 || line.charCodeAt(i) !== SPACE || line.charCodeAt(i + 1) === SPACE) return -1;
  return i;
}

function methodText(line: string, from: number, to: number): string {
  const length = to - from;
  const first = line.charCodeAt(from);
  if (length === 3 && first === 0x47 && line.charCodeAt(from + 1) === 0x45 && line.charCodeAt(from + 2) === 0x54)
    return 'GET';
  if (
    length === 4 &&
    line.charCodeAt(from + 3) === 0x54 &&
    line.charCodeAt(from + 2) === 0x53 &&
    line.charCodeAt(from + 1) === 0x4f &&
    first === 0x50
  )
    return 'POST';
  if (
    length === 4 &&
    line.charCodeAt(from + 3) === 0x44 &&
    line.charCodeAt(from + 2) === 0x41 &&
    line.charCodeAt(from + 1) === 0x45 &&
    first === 0x48
  )
    return 'HEAD';
  return line.slice(from, to);
}

function badDate(line: string, dateStart: number, end: number): string {
  const close = line.indexOf(']', dateStart);
  const text = line.slice(dateStart, Math.min(close === -1 || close > end ? end : close, dateStart + 40));
  return `the date "${text}" is not a valid [dd/Mon/yyyy:HH:MM:SS ±hhmm]`;
}

function notALogLine(line: string, end: number, why: string): string {
  return `not an access-log line (${why}): ${excerpt(line, 0, end)}`;
}

function excerpt(line: string, from: number, end: number): string {
  const to = Math.min(end, from + 60);
  return JSON.stringify(line.slice(from, to)) + (to < end ? '…' : '');
}
