import { expect } from 'chai';
import fc from 'fast-check';
import { JournalBatch } from '../src/durable/journalBatch.js';
import { writeJournalRecord } from '../src/durable/journalRecord.js';

describe('writeJournalRecord', () => {
  it('writes, byte for byte, what JSON.stringify writes of the record, and a newline', () => {
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
    // One batch for all runs, as the journal keeps one: what came before must not leak in.
    const batch = new JournalBatch();
    fc.assert(
      fc.property(fc.nat(), record, (q, fields) => {
        batch.clear();
        writeJournalRecord(batch, q, fields);
        const expected = `${JSON.stringify({ q, ...fields })}\n`;
        expect(batch.bytes().equals(Buffer.from(expected))).to.equal(true, `${batch.bytes().toString()} ≠ ${expected}`);
      }),
      { numRuns: 5000 },
    );
  });

  it('grows past its first buffer, and drops what came after a length it is cut back to', () => {
    const batch = new JournalBatch();
    const lines: string[] = [];
    for (let q = 1; q <= 2_000; q++) {
      const fields = {
        m: q % 65_536,
        h: 2 ** 52 + q,
        n: 1_765_000_000_000 + q,
        t: 1_765_000_000_000 - q,
        k: `key ${q} ✓`,
      };
      writeJournalRecord(batch, q, fields);
      lines.push(JSON.stringify({ q, ...fields }));
    }
    expect(batch.length).to.be.above(64 * 1024);
    expect(batch.bytes().toString()).to.equal(`${lines.join('\n')}\n`);
    const cut = Buffer.byteLength(`${lines.slice(0, 1_000).join('\n')}\n`);
    batch.truncate(cut);
    writeJournalRecord(batch, 1_001, { m: 7 });
    expect(batch.bytes().toString()).to.equal(`${[...lines.slice(0, 1_000), '{"q":1001,"m":7}'].join('\n')}\n`);
  });
});
