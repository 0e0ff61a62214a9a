import { expect } from 'chai';
import fc from 'fast-check';
import { encodeJournalRecord } from '../src/durable/journalRecord.js';

describe('encodeJournalRecord', () => {
  it('writes, character for character, what JSON.stringify writes of the record', () => {
    const number = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.constantFrom(0, -0, 1e21, 1e-7, Number.MAX_SAFE_INTEGER, Number.NaN, Number.POSITIVE_INFINITY),
    );
    const text = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('"', '\\', '\n', '\u2028', '\ud800'),
    );
    const value = fc.oneof(number, text, fc.constant(null));
    const absent = fc.constant(undefined);
    const record = fc.record({
      m: fc.oneof(absent, fc.nat(65_535)),
      h: fc.oneof(absent, fc.nat()),
      n: fc.oneof(absent, number),
      t: fc.oneof(absent, number, fc.constant(null)),
      k: fc.oneof(absent, number, text),
      v: fc.oneof(absent, number, fc.constant(null)),
      d: fc.oneof(absent, value),
      a: fc.oneof(absent, number),
      p: fc.oneof(absent, text),
      s: fc.oneof(absent, fc.nat()),
    });
    fc.assert(
      fc.property(fc.nat(), record, (q, fields) => {
        const line = encodeJournalRecord(q, fields);
        expect(line).to.equal(JSON.stringify({ q, ...fields }));
        expect(JSON.parse(line)).to.deep.equal(JSON.parse(JSON.stringify({ q, ...fields })));
      }),
      { numRuns: 5000 },
    );
  });
});
