import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { PathReporter } from 'io-ts/lib/PathReporter.js';
import {
  decodeIotPayloadBytes,
  encodeIotPayload,
  formatEventTime,
  IotPayloadCodec,
  makeIotPayload,
  parseEventTime,
} from '../src/index.js';

describe('parseEventTime', () => {
  it('reads the Python publisher format as UTC, with and without microseconds', () => {
    expect(parseEventTime('2020-07-01 12:34:56.789012')).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56, 789));
    expect(parseEventTime('2020-07-01 12:34:56')).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56));
  });

  it('applies ISO 8601 zones', () => {
    expect(parseEventTime('2020-07-01T12:34:56Z')).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56));
    expect(parseEventTime('2020-07-01T14:34:56.5+02:00')).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56, 500));
    expect(parseEventTime('2020-07-01T08:34:56-0400')).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56));
  });

  it('refuses impossible dates and non-timestamps', () => {
    for (const text of [
      '2020-02-30 00:00:00',
      '2021-02-29 00:00:00',
      '2020-07-01 24:00:00',
      '2020-13-01 00:00:00',
      '2020-07-01',
      'yesterday',
      '',
      '2020-07-01 12:34:56 UTC',
      '1593606896',
    ])
      expect(parseEventTime(text), text).to.equal(undefined);
    expect(parseEventTime('2020-02-29 00:00:00')).to.equal(Date.UTC(2020, 1, 29));
  });

  it('reads the years 0–99 as written, not as 1900–1999 (what Date.UTC makes of them)', () => {
    expect(parseEventTime('0050-03-01 12:00:00')).to.equal(new Date(0).setUTCFullYear(50, 2, 1) + 12 * 3_600_000);
    expect(parseEventTime('0000-02-29T00:00:00Z')).to.equal(new Date(0).setUTCFullYear(0, 1, 29));
  });

  it('reads the plain form without a zone exactly as the full ISO 8601 pattern does, mistakes included', () => {
    // The plain form is read without the RegExp; this pattern and Date are the reference.
    // A change can make a zone of the fraction's end ("00:00:00.0-0000"): the pattern
    // takes zones as parseEventTime does, and their offset is applied below.
    const full =
      /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:[Zz]|([+-])(\d{2}):?(\d{2}))?$/;
    const reference = (text: string): number | undefined => {
      const match = full.exec(text);
      if (match === null) return undefined;
      const [sign, offsetHours, offsetMinutes] = [match[8], Number(match[9]), Number(match[10])];
      if (sign !== undefined && (offsetHours > 23 || offsetMinutes > 59)) return undefined;
      const offset = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
      const [y, mo, d, h, mi, s] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
      const millis = match[7] === undefined ? 0 : Number(match[7].slice(0, 3).padEnd(3, '0'));
      const date = new Date(0);
      date.setUTCFullYear(y, mo - 1, d);
      date.setUTCHours(h, mi, s, millis);
      const same =
        date.getUTCFullYear() === y &&
        date.getUTCMonth() === mo - 1 &&
        date.getUTCDate() === d &&
        date.getUTCHours() === h &&
        date.getUTCMinutes() === mi &&
        date.getUTCSeconds() === s;
      return same ? date.getTime() - offset : undefined;
    };
    const base = fc
      .tuple(
        fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }),
        fc.constantFrom(' ', 'T'),
        fc.constantFrom('', '.', ','),
        fc.stringMatching(/^[0-9]{0,10}$/),
      )
      .map(([epoch, separator, point, fraction]) => {
        const iso = new Date(epoch).toISOString();
        return `${iso.slice(0, 10)}${separator}${iso.slice(11, 19)}${point === '' ? '' : point + fraction}`;
      });
    const text = fc
      .tuple(
        base,
        fc.array(fc.tuple(fc.nat(40), fc.constantFrom('0', '1', '2', '3', '4', '9', 'x', ' ', '-', ':', '.', 'T')), {
          maxLength: 3,
        }),
        fc.option(fc.nat(30)),
      )
      .map(([start, changes, cut]) => {
        const chars = [...start];
        for (const [at, char] of changes) if (at < chars.length) chars[at] = char;
        return chars.join('').slice(0, cut ?? undefined);
      });
    let read = 0;
    fc.assert(
      fc.property(text, (candidate) => {
        const expected = reference(candidate);
        if (expected !== undefined) read++;
        expect(parseEventTime(candidate), candidate).to.equal(expected);
      }),
      { numRuns: 5000 },
    );
    expect(read, 'timestamps read').to.be.greaterThan(1000);
  });

  it('round-trips every millisecond instant through formatEventTime', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31) }), (epoch) => {
        expect(parseEventTime(formatEventTime(epoch))).to.equal(epoch);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('formatEventTime', () => {
  it('writes exactly what Python str(datetime) writes for the same instant', () => {
    const instants = [
      Date.UTC(2020, 6, 1, 12, 34, 56, 789),
      Date.UTC(2020, 6, 1, 12, 34, 56),
      Date.UTC(1999, 11, 31, 23, 59, 59, 1),
    ];
    const script =
      'import sys, datetime\nfor ms in sys.argv[1:]:\n    print(str(datetime.datetime(1970,1,1) + datetime.timedelta(milliseconds=int(ms))))';
    const python = execFileSync('python3', ['-c', script, ...instants.map(String)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(instants.map(formatEventTime)).to.deep.equal(python);
  });
});

describe('decodeIotPayloadBytes', () => {
  it('decodes the original publisher message, keeping the trailing newline of the line', () => {
    const result = decodeIotPayloadBytes(
      Buffer.from('{"iottimestamp": "2020-07-01 12:34:56.789012", "accesslogs": "line\\n"}'),
    );
    expect(result._tag).to.equal('Right');
    if (result._tag === 'Right') {
      expect(result.right.iottimestamp.getTime()).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56, 789));
      expect(result.right.accesslogs).to.equal('line\n');
    }
  });

  it('names the field and the problem when it rejects', () => {
    const reasons = (text: string) => {
      const r = decodeIotPayloadBytes(text);
      return r._tag === 'Left' ? r.left : 'decoded';
    };
    expect(reasons('not json')).to.match(/^payload is not JSON/);
    expect(reasons('{"iottimestamp": 5, "accesslogs": "x"}')).to.match(
      /iottimestamp: expected a timestamp string, got 5/,
    );
    expect(reasons('{"iottimestamp": "soon", "accesslogs": "x"}')).to.match(/iottimestamp: "soon" is not a timestamp/);
    expect(reasons('{"iottimestamp": "2020-07-01 12:34:56"}')).to.match(/accesslogs/);
    expect(reasons('[]')).to.equal(
      'payload is not a JSON object {"iottimestamp": …, "accesslogs": …}: got an array of 0 items',
    );
    expect(reasons('{"iottimestamp": "2020-07-01 12:34:56", "accesslogs": 5}')).to.equal(
      'accesslogs: expected a string (one access-log line), got 5',
    );
  });

  it('decodes, and refuses with the same words, exactly what the io-ts codec does', () => {
    const timestamp = fc.oneof(
      fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }).map((epoch) => formatEventTime(epoch)),
      fc.constantFrom('2020-07-01T14:34:56.5+02:00', '2020-02-30 00:00:00', '2020-07-01 12:34:56 UTC', 'soon', ''),
    );
    const field = <T>(valid: fc.Arbitrary<T>) =>
      fc.oneof(
        { arbitrary: valid, weight: 8 },
        fc.constant(undefined),
        fc.constant(null),
        fc.integer(),
        fc.array(fc.string(), { maxLength: 2 }),
      );
    const payload = fc.record(
      { iottimestamp: field(timestamp), accesslogs: field(fc.string()), extra: fc.jsonValue() },
      { requiredKeys: ['iottimestamp', 'accesslogs'] },
    );
    let decoded = 0;
    fc.assert(
      fc.property(payload, (object) => {
        const text = JSON.stringify(object);
        const ours = decodeIotPayloadBytes(Buffer.from(text));
        const theirs = IotPayloadCodec.decode(JSON.parse(text));
        if (theirs._tag === 'Right') {
          decoded++;
          expect(ours._tag, text).to.equal('Right');
          if (ours._tag === 'Right') {
            expect(ours.right.iottimestamp.getTime(), text).to.equal(theirs.right.iottimestamp.getTime());
            expect(ours.right.accesslogs, text).to.equal(theirs.right.accesslogs);
            expect(Object.keys(ours.right), text).to.deep.equal(['iottimestamp', 'accesslogs']);
          }
        } else {
          expect(ours, text).to.deep.equal({ _tag: 'Left', left: PathReporter.report(theirs).join('; ') });
        }
      }),
      { numRuns: 3000 },
    );
    expect(decoded, 'payloads decoded').to.be.greaterThan(500);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.json().map((s) => Buffer.from(s)),
        ),
        (bytes) => {
          const result = decodeIotPayloadBytes(bytes);
          expect(['Left', 'Right']).to.include(result._tag);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('encodeIotPayload', () => {
  it('writes the field names and timestamp format the original Spark job and Python side read', () => {
    const text = encodeIotPayload(makeIotPayload('x y', new Date(Date.UTC(2020, 6, 1, 12, 34, 56, 789))));
    expect(text).to.equal('{"iottimestamp":"2020-07-01 12:34:56.789000","accesslogs":"x y"}');
    const python = execFileSync(
      'python3',
      [
        '-c',
        'import json, sys, datetime\np = json.loads(sys.argv[1])\nprint(datetime.datetime.fromisoformat(p["iottimestamp"]).isoformat(), p["accesslogs"])',
        text,
      ],
      { encoding: 'utf8' },
    );
    expect(python.trim()).to.equal('2020-07-01T12:34:56.789000 x y');
  });
});
