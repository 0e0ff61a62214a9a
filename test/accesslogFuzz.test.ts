// Properties of parseAccessLogLine: it never throws, every input is a record or a reason,
// a record never holds a field that is not in the line, and what a server would write
// for a request comes back field for field.
import { expect } from 'chai';
import fc from 'fast-check';
import { parseAccessLogLine, type AccessLogRecord } from '../src/index.js';
import { corpora, corpusLines, type CorpusName } from './support/corpora.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Asserts the result is a well-formed record of `line` or a rejection with a reason; returns the record. */
function checkResult(line: string): AccessLogRecord | undefined {
  const result = parseAccessLogLine(line);
  if (result._tag === 'Left') {
    expect(result.left).to.be.a('string').and.not.equal('');
    return undefined;
  }
  const record = result.right;
  const withoutEnding = line.replace(/\r?\n$|\r$/, '');
  expect(record.raw).to.equal(withoutEnding);
  expect(record.raw.startsWith(`${record.client} ${record.ident} ${record.user} [`)).to.equal(true);
  expect(record.raw).to.include(`] "${record.request}" `);
  for (const field of [record.referer, record.userAgent, record.method, record.path, record.protocol]) {
    if (field !== null) expect(record.raw).to.include(field);
  }
  expect(Number.isInteger(record.status) && record.status >= 0 && record.status <= 999).to.equal(true);
  expect(Number.isSafeInteger(record.bytes) && record.bytes >= 0).to.equal(true);
  expect(Number.isNaN(record.time.getTime())).to.equal(false);
  return record;
}

/** A sample of real lines from every corpus, for mutation. */
const realLines = (Object.keys(corpora) as CorpusName[]).flatMap((name) => {
  const lines = corpusLines(name);
  return Array.from({ length: 50 }, (_, index) => lines[Math.floor((index * lines.length) / 50)]!);
});
// The lines with the rare quirks, so mutations reach them too.
realLines.push(
  '46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html',
  '76.72.172.0 - - [03/Sep/2022:02:43:16 +0000] "" 400 0 "-" "-"',
  String.raw`10.0.0.1 - - [01/Jan/2020:00:00:00 +0000] "GET /say?q=\"hi\" HTTP/1.1" 200 5 "http://x/?a=\"b\"" "Agent \"quoted\" \\"`,
);

/** One edit of a line: delete, insert, replace a character, cut the line, or repeat a piece of it. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(' ', '"', '\\', '[', ']', '-', '\n', '\r', ':', '/', '0', '9'),
      fc.string({ unit: 'binary', maxLength: 3 }),
    ),
  }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    text: fc.constantFrom(' ', '"', '\\', '[', ']', '-', 'x', '0', '9', '\u0000', '\u00e9'),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.nat({ max: 40 }) }),
);

interface Edit {
  kind: string;
  at: number;
  text?: string;
  length?: number;
}

function mutate(line: string, edits: Edit[]): string {
  let text = line;
  for (const edit of edits) {
    const at = text.length === 0 ? 0 : edit.at % (text.length + 1);
    if (edit.kind === 'delete') text = text.slice(0, at) + text.slice(at + 1);
    else if (edit.kind === 'insert') text = text.slice(0, at) + edit.text + text.slice(at);
    else if (edit.kind === 'replace') text = text.slice(0, at) + edit.text + text.slice(at + 1);
    else if (edit.kind === 'cut') text = text.slice(0, at);
    else text = text.slice(0, at) + text.slice(at, at + edit.length!) + text.slice(at);
  }
  return text;
}

/** What Apache and nginx do to text they put between quotes: escape \ and " and control bytes. */
function escapeQuoted(text: string): string {
  // eslint-disable-next-line no-control-regex -- control bytes are what this escapes
  return text.replace(/[\\"\u0000-\u001f\u007f]/g, (character) =>
    character === '\\' || character === '"'
      ? `\\${character}`
      : `\\x${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

function two(value: number): string {
  return String(value).padStart(2, '0');
}

/** `dd/Mon/yyyy:HH:MM:SS ±hhmm` of an instant as seen from a zone `offsetMinutes` east of UTC. */
function formatLogTime(epochSeconds: number, offsetMinutes: number): string {
  const local = new Date((epochSeconds + offsetMinutes * 60) * 1000);
  const offset = Math.abs(offsetMinutes);
  return (
    `${two(local.getUTCDate())}/${MONTHS[local.getUTCMonth()]}/${local.getUTCFullYear()}:` +
    `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} ` +
    `${offsetMinutes < 0 ? '-' : '+'}${two(Math.floor(offset / 60))}${two(offset % 60)}`
  );
}

const token = fc.stringMatching(/^[!-~]{1,30}$/); // printable ASCII, no space
const userToken = token.filter((text) => !text.includes('['));
const requestToken = fc.stringMatching(/^[!#-[\]-~]{1,30}$/); // no space, no " and no \ (a server would escape those)
const freeText = fc.string({ unit: 'binary', maxLength: 60 });

describe('parseAccessLogLine fuzzing', () => {
  it('never throws on random text, and gives a record or a reason', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        checkResult(text);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(' ', '"', '\\', '[', ']', '-', '/', ':', '+', '1', '2', '0', 'J', 'a', 'n', '\n', '\r'),
          maxLength: 120,
        }),
        (text) => {
          checkResult(text);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never throws on mutated real lines, and gives a well-formed record or a reason', () => {
    let records = 0,
      reasons = 0;
    fc.assert(
      fc.property(fc.constantFrom(...realLines), fc.array(mutation, { minLength: 1, maxLength: 4 }), (line, edits) => {
        if (checkResult(mutate(line, edits)) === undefined) reasons++;
        else records++;
      }),
      { numRuns: 5000 },
    );
    // Both outcomes must be exercised, or the property says little.
    expect(records).to.be.greaterThan(100);
    expect(reasons).to.be.greaterThan(100);
  });

  it('reads back, field for field, any line a server would write (CLF and combined, any zone, any year 1000–9999)', () => {
    const logLine = fc.record({
      client: token,
      ident: token,
      user: userToken,
      epochSeconds: fc.integer({ min: Date.UTC(1000, 0, 2) / 1000, max: Date.UTC(9999, 11, 30) / 1000 }),
      offsetMinutes: fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      request: fc.oneof(
        fc.record({
          method: fc.stringMatching(/^[A-Z][A-Z_-]{0,11}$/),
          path: requestToken,
          protocol: fc.option(requestToken, { nil: undefined }),
        }),
        freeText,
      ),
      status: fc.integer({ min: 100, max: 999 }),
      bytes: fc.option(fc.nat(), { nil: undefined }),
      combined: fc.option(fc.record({ referer: freeText, userAgent: freeText }), { nil: undefined }),
      ending: fc.constantFrom('', '\n', '\r\n'),
    });
    fc.assert(
      fc.property(logLine, (generated) => {
        const request =
          typeof generated.request === 'string'
            ? escapeQuoted(generated.request)
            : [generated.request.method, generated.request.path, generated.request.protocol]
                .filter((part) => part !== undefined)
                .join(' ');
        const referer = generated.combined && escapeQuoted(generated.combined.referer);
        const userAgent = generated.combined && escapeQuoted(generated.combined.userAgent);
        const line =
          `${generated.client} ${generated.ident} ${generated.user} [${formatLogTime(generated.epochSeconds, generated.offsetMinutes)}] ` +
          `"${request}" ${generated.status} ${generated.bytes ?? '-'}` +
          (generated.combined ? ` "${referer}" "${userAgent}"` : '') +
          generated.ending;
        const record = checkResult(line);
        expect(record, line).to.not.equal(undefined);
        expect(record).to.deep.include({
          client: generated.client,
          ident: generated.ident,
          user: generated.user,
          time: new Date(generated.epochSeconds * 1000),
          request,
          status: generated.status,
          bytes: generated.bytes ?? 0,
          referer: referer ?? null,
          userAgent: userAgent ?? null,
        });
        if (typeof generated.request !== 'string') {
          expect(record).to.deep.include({
            method: generated.request.method,
            path: generated.request.path,
            protocol: generated.request.protocol ?? null,
          });
        }
      }),
      { numRuns: 3000 },
    );
  });
});
