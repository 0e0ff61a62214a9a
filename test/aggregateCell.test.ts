// The per-(window, key) accumulator of windowedAggregate (src/aggregate/): exact statistics,
// partials that merge into exactly the whole stream's cell (also through JSON), quantiles
// within DDSketch's relative accuracy and distinct counts within HyperLogLog's error, on
// generated data and on the bytes and client addresses of the real access-log corpora.
import { expect } from 'chai';
import fc from 'fast-check';
import { AggregateCell, type AggregatePartial } from '../src/aggregate/AggregateCell.js';
import {
  quantileName,
  resolveAggregateSpec,
  type AggregateOptions,
  type AggregateSpec,
} from '../src/aggregate/aggregateSpec.js';
import { parseAccessLogLine, type AccessLogRecord } from '../src/index.js';
import { corpora, corpusLines, type CorpusName } from './support/corpora.js';

interface Hit {
  readonly value: number;
  readonly client: string | number;
}

/** Every aggregate, over Hit. */
function fullSpec(extra: Partial<AggregateOptions<Hit>> = {}): AggregateSpec<Hit> {
  return resolveAggregateSpec<Hit>({
    value: (hit) => hit.value,
    sum: true,
    min: true,
    max: true,
    mean: true,
    quantiles: [0, 0.25, 0.5, 0.9, 0.99, 1],
    distinct: (hit) => hit.client,
    ...extra,
  });
}

function cellOf<E>(spec: AggregateSpec<E>, events: readonly E[]): AggregateCell<E> {
  const cell = new AggregateCell(spec);
  for (const event of events) cell.add(spec.value?.(event) ?? 0, spec.distinct?.(event));
  return cell;
}

/** Through JSON and back, as a partial stored by one aggregator and read by another. */
function viaJson<E>(cell: AggregateCell<E>, spec: AggregateSpec<E>): AggregateCell<E> {
  return AggregateCell.fromPartial(JSON.parse(JSON.stringify(cell.toPartial())), spec);
}

/** The value DDSketch's estimate of quantile q approximates: rank ⌊q × (n − 1)⌋ of the sorted values. */
function exactQuantile(sorted: readonly number[], quantile: number): number {
  return sorted[Math.floor(quantile * (sorted.length - 1))]!;
}

function expectWithinRelative(estimate: number | undefined, exact: number, accuracy: number, label: string): void {
  expect(estimate, label).to.be.a('number');
  // 1e-9: the sketch's own floating-point rounding, far below the accuracy itself.
  expect(Math.abs(estimate! - exact), `${label}: ${estimate} for ${exact}`).to.be.at.most(
    accuracy * Math.abs(exact) * (1 + 1e-9),
  );
}

/** A small seeded generator (mulberry32), so generated data is the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function normal(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

describe('resolveAggregateSpec', function () {
  it('computes the count alone when nothing is asked, with the documented defaults', function () {
    const spec = resolveAggregateSpec({});
    expect(spec).to.include({ sum: false, min: false, max: false, mean: false, usesValue: false });
    expect(spec).to.include({ quantileAccuracy: 0.01, distinctPrecision: 12 });
    expect(spec.quantiles).to.deep.equal([]);
    expect(cellOf(spec, [{}, {}]).values()).to.deep.equal({ count: 2 });
  });

  it('names quantiles p and the percentage, without binary noise', function () {
    expect([0, 0.07, 0.5, 0.99, 0.999, 1].map(quantileName)).to.deep.equal(['p0', 'p7', 'p50', 'p99', 'p99.9', 'p100']);
    expect(
      resolveAggregateSpec<Hit>({ value: (hit) => hit.value, quantiles: [0.99, 0.5] }).quantileNames,
    ).to.deep.equal(['p99', 'p50']);
  });

  it('refuses options of the wrong type with a TypeError naming the operator, the option and the value', function () {
    const cases: [AggregateOptions<Hit>, RegExp][] = [
      [{ value: 3 as never, sum: true }, /^windowedAggregate: value must be a function \(event\) => number, got 3$/],
      [
        { distinct: 'client' as never },
        /^windowedAggregate: distinct must be a function \(event\) => string \| number, got "client"$/,
      ],
      [{ value: (hit) => hit.value, sum: 'yes' as never }, /^windowedAggregate: sum must be true or false, got "yes"$/],
      [{ value: (hit) => hit.value, mean: 1 as never }, /^windowedAggregate: mean must be true or false, got 1$/],
      [
        { value: (hit) => hit.value, quantiles: 0.5 as never },
        /^windowedAggregate: quantiles must be an array of numbers in \[0, 1\], got 0\.5$/,
      ],
      [
        { value: (hit) => hit.value, quantiles: ['0.5'] as never },
        /^windowedAggregate: quantiles must be numbers in \[0, 1\], got "0\.5"$/,
      ],
      [
        { value: (hit) => hit.value, quantiles: [0.5], quantileAccuracy: '1%' as never },
        /^windowedAggregate: quantileAccuracy must be a number from 0\.001 to less than 1 \(finer ones overflow the sketch\), got "1%"$/,
      ],
      [
        { distinct: (hit) => hit.client, distinctPrecision: '12' as never },
        /^windowedAggregate: distinctPrecision must be an integer from 4 to 12 \(hyperlolo's 32-bit hash allows 12 at most\), got "12"$/,
      ],
    ];
    for (const [options, message] of cases) expect(() => resolveAggregateSpec(options)).to.throw(TypeError, message);
    expect(() => resolveAggregateSpec(null as never)).to.throw(
      TypeError,
      /^windowedAggregate: the aggregate options must be an object, got null$/,
    );
  });

  it('refuses values out of range with a RangeError naming the operator, the option and the value', function () {
    const value = (hit: Hit) => hit.value;
    const cases: [AggregateOptions<Hit>, RegExp][] = [
      [{ value, quantiles: [0.5, 1.5] }, /^windowedAggregate: quantiles must be numbers in \[0, 1\], got 1\.5$/],
      [{ value, quantiles: [-0.1] }, /^windowedAggregate: quantiles must be numbers in \[0, 1\], got -0\.1$/],
      [{ value, quantiles: [NaN] }, /^windowedAggregate: quantiles must be numbers in \[0, 1\], got NaN$/],
      [
        { value, quantiles: [0.5, 0.99, 0.5] },
        /^windowedAggregate: quantiles must be different numbers, got 0\.5 twice$/,
      ],
      [
        { value, quantiles: [0.5, 0.5000000000000001] },
        /^windowedAggregate: quantiles must be different numbers, got 0\.5 and 0\.5000000000000001, which are both p50$/,
      ],
      [
        { value, quantiles: [0.5], quantileAccuracy: 0 },
        /^windowedAggregate: quantileAccuracy must be a number from 0\.001 to less than 1 \(finer ones overflow the sketch\), got 0$/,
      ],
      [
        { value, quantiles: [0.5], quantileAccuracy: 1 },
        /quantileAccuracy must be a number from 0\.001 to less than 1 \(finer ones overflow the sketch\), got 1$/,
      ],
      [
        { value, quantiles: [0.5], quantileAccuracy: 0.0005 },
        /quantileAccuracy must be a number from 0\.001 to less than 1 \(finer ones overflow the sketch\), got 0\.0005$/,
      ],
      [
        { value, quantiles: [0.5], quantileAccuracy: NaN },
        /quantileAccuracy must be a number from 0\.001 to less than 1 \(finer ones overflow the sketch\), got NaN$/,
      ],
      [
        { distinct: (hit) => hit.client, distinctPrecision: 3 },
        /^windowedAggregate: distinctPrecision must be an integer from 4 to 12 .*, got 3$/,
      ],
      [
        { distinct: (hit) => hit.client, distinctPrecision: 14 },
        /distinctPrecision must be an integer from 4 to 12 .*, got 14$/,
      ],
      [
        { distinct: (hit) => hit.client, distinctPrecision: 10.5 },
        /distinctPrecision must be an integer from 4 to 12 .*, got 10\.5$/,
      ],
    ];
    for (const [options, message] of cases) expect(() => resolveAggregateSpec(options)).to.throw(RangeError, message);
  });

  it('requires value when a statistic of values is asked, and refuses options nothing uses', function () {
    for (const asked of [{ sum: true }, { min: true }, { max: true }, { mean: true }, { quantiles: [0.5] }])
      expect(() => resolveAggregateSpec<Hit>(asked)).to.throw(
        TypeError,
        /^windowedAggregate: value is required \(\(event\) => number, read for sum, min, max, mean and quantiles\)$/,
      );
    expect(() => resolveAggregateSpec<Hit>({ value: (hit) => hit.value })).to.throw(
      TypeError,
      /^windowedAggregate: value is given but nothing asked for uses it; ask for sum, min, max, mean or quantiles too, or leave value out$/,
    );
    expect(() => resolveAggregateSpec<Hit>({ value: (hit) => hit.value, sum: true, quantileAccuracy: 0.01 })).to.throw(
      TypeError,
      /^windowedAggregate: quantileAccuracy is given but nothing asked for uses it; ask for quantiles too/,
    );
    expect(() => resolveAggregateSpec<Hit>({ distinctPrecision: 12 })).to.throw(
      TypeError,
      /^windowedAggregate: distinctPrecision is given but nothing asked for uses it; ask for distinct too/,
    );
  });

  it('names the operator it is given', function () {
    expect(() => resolveAggregateSpec({ quantiles: [2] }, 'durableWindowedAggregate')).to.throw(
      RangeError,
      /^durableWindowedAggregate: quantiles must be numbers in \[0, 1\], got 2$/,
    );
  });
});

describe('AggregateCell', function () {
  it('computes count, sum, min, max and mean exactly and reports only what is asked', function () {
    const hits = [3, 1, 4, 1, 5, 9, 2, 6].map((value, i) => ({ value, client: `10.0.0.${i % 3}` }));
    const cell = cellOf(fullSpec(), hits);
    expect([cell.count, cell.sum, cell.min, cell.max]).to.deep.equal([8, 31, 1, 9]);
    const values = cell.values();
    expect(values).to.include({ count: 8, sum: 31, min: 1, max: 9, mean: 31 / 8, distinct: 3 });
    expect(Object.keys(values)).to.deep.equal(['count', 'sum', 'min', 'max', 'mean', 'distinct', 'quantiles']);

    const onlyMax = cellOf(resolveAggregateSpec<Hit>({ value: (hit) => hit.value, max: true }), hits);
    expect(onlyMax.values()).to.deep.equal({ count: 8, max: 9 });
  });

  it('gives p0 and p100 as the exact min and max, and the others within the accuracy and within [min, max]', function () {
    const values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
    const cell = cellOf(
      fullSpec(),
      values.map((value) => ({ value, client: 'a' })),
    );
    const sorted = [...values].sort((a, b) => a - b);
    const { quantiles } = cell.values();
    expect(Object.keys(quantiles!)).to.deep.equal(['p0', 'p25', 'p50', 'p90', 'p99', 'p100']);
    expect(quantiles!.p0).to.equal(1);
    expect(quantiles!.p100).to.equal(9);
    for (const quantile of [0.25, 0.5, 0.9, 0.99])
      expectWithinRelative(
        quantiles![quantileName(quantile)],
        exactQuantile(sorted, quantile),
        0.01,
        quantileName(quantile),
      );
    // One value: every quantile is that value, exactly (the estimate is brought back into [min, max]).
    expect(cellOf(fullSpec(), [{ value: 1234, client: 'a' }]).values().quantiles).to.deep.equal({
      p0: 1234,
      p25: 1234,
      p50: 1234,
      p90: 1234,
      p99: 1234,
      p100: 1234,
    });
  });

  it('counts a number and its text as one distinct value, and never more distinct values than events', function () {
    const cell = cellOf(fullSpec(), [
      { value: 1, client: 1 },
      { value: 2, client: '1' },
      { value: 3, client: 'x' },
    ]);
    expect(cell.values().distinct).to.equal(2);
    const tenDistinct = Array.from({ length: 10 }, (_, i) => ({ value: i, client: `client-${i}` }));
    expect(cellOf(fullSpec(), tenDistinct).values().distinct).to.equal(10);
  });

  it('reports an empty cell as count 0, sum 0 and NaN for what has no value, through a partial too', function () {
    const spec = fullSpec();
    const empty = new AggregateCell(spec);
    const expected = {
      count: 0,
      sum: 0,
      min: NaN,
      max: NaN,
      mean: NaN,
      distinct: 0,
      quantiles: { p0: NaN, p25: NaN, p50: NaN, p90: NaN, p99: NaN, p100: NaN },
    };
    expect(empty.values()).to.deep.equal(expected);
    expect(empty.toPartial()).to.include({ count: 0, sum: 0, min: null, max: null });
    expect(viaJson(empty, spec).values()).to.deep.equal(expected);
    // Merging an empty cell changes nothing.
    const cell = cellOf(spec, [{ value: 5, client: 'a' }]);
    const before = cell.toPartial();
    cell.merge(empty);
    expect(cell.toPartial()).to.deep.equal(before);
  });

  it('refuses a value that is not a finite number, and a missing distinct value, leaving the cell unchanged', function () {
    const cell = cellOf(fullSpec(), [{ value: 5, client: 'a' }]);
    const before = cell.toPartial();
    expect(() => cell.add(NaN, 'b')).to.throw(
      RangeError,
      /^AggregateCell\.add: the value must be a finite number, got NaN$/,
    );
    expect(() => cell.add(Infinity, 'b')).to.throw(RangeError, /got Infinity$/);
    expect(() => cell.add('12' as never, 'b')).to.throw(
      TypeError,
      /^AggregateCell\.add: the value must be a finite number, got "12"$/,
    );
    expect(() => cell.add(7, undefined)).to.throw(
      TypeError,
      /^AggregateCell\.add: the distinct value must be a string or a number, got undefined$/,
    );
    expect(() => cell.add(7, null as never)).to.throw(TypeError, /got null$/);
    expect(cell.toPartial()).to.deep.equal(before);
    // A count-only cell reads no value: whatever is passed is ignored.
    const counter = new AggregateCell(resolveAggregateSpec({}));
    counter.add(NaN, undefined);
    expect(counter.values()).to.deep.equal({ count: 1 });
  });

  it('merges negative values as the whole stream has them (DataDog/sketches-js#22 drops them)', function () {
    const spec = fullSpec({ quantiles: [0.1, 0.5, 0.9] });
    const temperatures = [-10, -8.5, -7, -5, -3, -1.5, 0, 2, 4.5, 6];
    const whole = cellOf(
      spec,
      temperatures.map((value) => ({ value, client: 'sensor' })),
    );
    const colder = cellOf(
      spec,
      temperatures.slice(0, 5).map((value) => ({ value, client: 'sensor' })),
    );
    colder.merge(
      cellOf(
        spec,
        temperatures.slice(5).map((value) => ({ value, client: 'sensor' })),
      ),
    );
    expect(colder.toPartial()).to.deep.equal(whole.toPartial());
    expectWithinRelative(colder.values().quantiles!.p50, -3, 0.01, 'p50');
  });

  it('merges a sketch whose largest value is near 1 into one of smaller values (DenseStore.merge would lose it)', function () {
    const spec = fullSpec({ quantiles: [0.5, 0.99] });
    const seconds = [1e-6, 2e-6, 0.001, 1, 1];
    const small = cellOf(
      spec,
      seconds.slice(0, 2).map((value) => ({ value, client: 'a' })),
    );
    small.merge(
      cellOf(
        spec,
        seconds.slice(2).map((value) => ({ value, client: 'a' })),
      ),
    );
    const whole = cellOf(
      spec,
      seconds.map((value) => ({ value, client: 'a' })),
    );
    expect(small.toPartial()).to.deep.equal(whole.toPartial());
    expectWithinRelative(small.values().quantiles!.p99, 1, 0.01, 'p99');
  });

  it('keeps a sketch small and working whatever the magnitudes, pinning them to 1e-9 to 1e15', function () {
    const spec = fullSpec({ quantileAccuracy: 0.001, quantiles: [0.2, 0.5, 0.8] });
    // Unpinned, these took 69,000 bins a sign at 1%, and threw RangeError at 0.1%.
    const values = [1e-300, 1e300, -1e300, -1e-300, 5, 0];
    const cell = cellOf(
      spec,
      values.map((value) => ({ value, client: 'a' })),
    );
    const { quantiles } = cell.toPartial();
    expect(quantiles!.positive.counts.length).to.be.at.most(28_000);
    expect(quantiles!.negative.counts.length).to.be.at.most(28_000);
    const reported = cell.values();
    expect(reported).to.include({ count: 6, sum: 5, min: -1e300, max: 1e300 });
    // Sorted: -1e300, -1e-300, 0, 1e-300, 5, 1e300; rank ⌊q × 5⌋. Beyond the pinned
    // magnitudes the estimate is the edge; 0 stays 0.
    expect(reported.quantiles).to.deep.include({ p50: 0 });
    expectWithinRelative(reported.quantiles!.p20, -1e-9, 0.001, 'p20');
    expectWithinRelative(reported.quantiles!.p80, 5, 0.001, 'p80');
  });

  it('refuses to merge cells that compute different aggregates', function () {
    const cell = cellOf(fullSpec(), [{ value: 1, client: 'a' }]);
    const before = cell.toPartial();
    expect(() => cell.merge(cellOf(fullSpec({ quantileAccuracy: 0.02 }), []))).to.throw(
      /^AggregateCell\.merge: the cells compute different aggregates: quantileAccuracy 0\.01 here, 0\.02 there$/,
    );
    expect(() => cell.merge(cellOf(fullSpec({ distinctPrecision: 10 }), []))).to.throw(
      /distinctPrecision 12 here, 10 there$/,
    );
    expect(() => cell.merge(cellOf(fullSpec({ mean: false }), []))).to.throw(/mean asked here, not asked there$/);
    expect(() => cell.merge(cellOf(fullSpec({ quantiles: [0.5] }), []))).to.throw(
      /quantiles \[0, 0\.25, 0\.5, 0\.9, 0\.99, 1\] here, \[0\.5\] there$/,
    );
    expect(cell.toPartial()).to.deep.equal(before);
    // An equal spec made separately merges.
    cell.merge(cellOf(fullSpec(), [{ value: 2, client: 'b' }]));
    expect(cell.values()).to.include({ count: 2, sum: 3 });
  });

  describe('merging partials', function () {
    const parts = 6;

    /** Splits events among `parts` cells as the tuples say, as N aggregators on a shared subscription would see them. */
    function mergedParts<E>(spec: AggregateSpec<E>, events: readonly (readonly [E, number])[]) {
      const cells = Array.from({ length: parts }, () => new AggregateCell(spec));
      for (const [event, part] of events) cells[part]!.add(spec.value?.(event) ?? 0, spec.distinct?.(event));
      const inOrder = new AggregateCell(spec);
      for (const cell of cells) inOrder.merge(cell);
      // Another order, each partial through JSON, as stored rows read back elsewhere.
      const stored = cells.map((cell) => JSON.stringify(cell.toPartial())).reverse();
      const readBack = AggregateCell.fromPartial(JSON.parse(stored[0]!), spec);
      for (const text of stored.slice(1)) readBack.merge(AggregateCell.fromPartial(JSON.parse(text), spec));
      return { inOrder, readBack };
    }

    it('equals the whole stream exactly for integer values: statistics, sketch bins and registers', function () {
      const spec = fullSpec({ quantileAccuracy: 0.02, distinctPrecision: 8 });
      const hit = fc.record({
        value: fc.integer({ min: -1_000_000, max: 1_000_000_000 }),
        client: fc.oneof(fc.string({ maxLength: 4 }), fc.integer({ min: 0, max: 300 })),
      });
      fc.assert(
        fc.property(fc.array(fc.tuple(hit, fc.nat({ max: parts - 1 })), { maxLength: 200 }), (events) => {
          const whole = cellOf(
            spec,
            events.map(([event]) => event),
          );
          const { inOrder, readBack } = mergedParts(spec, events);
          expect(inOrder.toPartial()).to.deep.equal(whole.toPartial());
          expect(readBack.toPartial()).to.deep.equal(whole.toPartial());
          expect(readBack.values()).to.deep.equal(whole.values());
        }),
        { numRuns: 150 },
      );
    });

    it('equals the whole stream for any finite values: min, max, bins and registers exactly, the sum to rounding', function () {
      const spec = fullSpec();
      const hit = fc.record({
        // + 0 turns -0 into 0 (JSON has no -0); values within 1e-6 of 0 become 0, so a
        // run does not spend its time on bins down to 5e-324.
        value: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((value) => (Math.abs(value) < 1e-6 ? 0 : value + 0)),
        client: fc.string({ maxLength: 3 }),
      });
      fc.assert(
        fc.property(fc.array(fc.tuple(hit, fc.nat({ max: parts - 1 })), { maxLength: 200 }), (events) => {
          const whole = cellOf(
            spec,
            events.map(([event]) => event),
          );
          const { readBack } = mergedParts(spec, events);
          const { sum, ...exact } = readBack.toPartial();
          const { sum: wholeSum, ...wholeExact } = whole.toPartial();
          expect(exact).to.deep.equal(wholeExact);
          const magnitude = events.reduce((total, [event]) => total + Math.abs(event.value), 0);
          expect(Math.abs(sum! - wholeSum!)).to.be.at.most(magnitude * 1e-12);
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('quantiles on generated data', function () {
    const size = 20_000;
    const next = random(2026);
    const data: Record<string, number[]> = {
      'latencies (log-normal, ms)': Array.from({ length: size }, () => Math.exp(3 + 1.5 * normal(next))),
      'sizes (uniform integers with zeros)': Array.from({ length: size }, () =>
        next() < 0.05 ? 0 : Math.floor(next() * 1_000_000),
      ),
      'temperatures (normal around 5 °C)': Array.from({ length: size }, () => 5 + 10 * normal(next)),
    };
    const quantiles = [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999];

    for (const [name, values] of Object.entries(data)) {
      for (const accuracy of [0.05, 0.01, 0.001]) {
        it(`estimates ${name} within relative accuracy ${accuracy}, also merged from 4 parts`, function () {
          const spec = resolveAggregateSpec<number>({ value: (value) => value, quantiles, quantileAccuracy: accuracy });
          const whole = cellOf(spec, values);
          const merged = new AggregateCell(spec);
          for (let part = 0; part < 4; part++)
            merged.merge(
              viaJson(
                cellOf(
                  spec,
                  values.filter((_, i) => i % 4 === part),
                ),
                spec,
              ),
            );
          const sorted = [...values].sort((a, b) => a - b);
          for (const cell of [whole, merged]) {
            const estimates = cell.values().quantiles!;
            for (const quantile of quantiles)
              expectWithinRelative(
                estimates[quantileName(quantile)],
                exactQuantile(sorted, quantile),
                accuracy,
                quantileName(quantile),
              );
          }
        });
      }
    }
  });

  describe('distinct counts on generated data', function () {
    for (const precision of [12, 10]) {
      // Three standard errors of a HyperLogLog of 2^precision registers.
      const bound = (3 * 1.04) / Math.sqrt(2 ** precision);
      for (const distinct of [1, 10, 1000, 100_000]) {
        it(`counts ${distinct} distinct addresses within ${(bound * 100).toFixed(1)}% (or one) at precision ${precision}`, function () {
          const spec = resolveAggregateSpec<string>({ distinct: (address) => address, distinctPrecision: precision });
          const next = random(distinct);
          const addresses = new Set<string>();
          while (addresses.size < distinct)
            addresses.add(Array.from({ length: 4 }, () => Math.floor(next() * 256)).join('.'));
          const cell = new AggregateCell(spec);
          // Each address twice: a repeat is not a new value.
          for (const address of [...addresses, ...addresses]) cell.add(0, address);
          const estimate = cell.values().distinct!;
          // Or one value: of 10 values, two share a register 4% of the time at precision 10.
          expect(Math.abs(estimate - distinct), `estimate ${estimate}`).to.be.at.most(Math.max(bound * distinct, 1));
        });
      }
    }
  });

  describe('on the real access-log corpora', function () {
    const names = Object.keys(corpora) as CorpusName[];
    const records = new Map<CorpusName, AccessLogRecord[]>();
    before(function () {
      for (const name of names) {
        const parsed: AccessLogRecord[] = [];
        for (const line of corpusLines(name)) {
          const result = parseAccessLogLine(line);
          if (result._tag === 'Right') parsed.push(result.right);
        }
        records.set(name, parsed);
      }
    });

    const spec = resolveAggregateSpec<AccessLogRecord>({
      value: (hit) => hit.bytes,
      sum: true,
      min: true,
      max: true,
      mean: true,
      quantiles: [0.5, 0.75, 0.9, 0.95, 0.99, 0.999],
      distinct: (hit) => hit.client,
    });
    // Three standard errors at the default precision, 12.
    const distinctBound = (3 * 1.04) / Math.sqrt(4096);

    for (const name of names) {
      it(`${name}: bytes quantiles within 1%, clients within ${(distinctBound * 100).toFixed(1)}%, and 3 aggregators' partials equal to one`, function () {
        const hits = records.get(name)!;
        expect(hits.length).to.be.greaterThan(corpora[name].lines * 0.9);
        const whole = cellOf(spec, hits);
        const bytes = hits.map((hit) => hit.bytes).sort((a, b) => a - b);
        const values = whole.values();
        expect(values).to.include({
          count: hits.length,
          sum: bytes.reduce((total, size) => total + size, 0),
          min: bytes[0],
          max: bytes.at(-1),
        });
        for (const quantile of spec.quantiles)
          expectWithinRelative(
            values.quantiles![quantileName(quantile)],
            exactQuantile(bytes, quantile),
            0.01,
            quantileName(quantile),
          );
        const clients = new Set(hits.map((hit) => hit.client)).size;
        expect(Math.abs(values.distinct! - clients), `${values.distinct} for ${clients}`).to.be.at.most(
          distinctBound * clients,
        );

        // Three aggregators sharing the subscription, each message to one of them.
        const next = random(clients);
        const shares: AccessLogRecord[][] = [[], [], []];
        for (const hit of hits) shares[Math.floor(next() * 3)]!.push(hit);
        const stored = shares.map((share) => JSON.stringify(cellOf(spec, share).toPartial()));
        const total = new AggregateCell(spec);
        for (const text of stored) total.merge(AggregateCell.fromPartial(JSON.parse(text), spec));
        expect(total.toPartial()).to.deep.equal(whole.toPartial());
      });
    }

    it('all four corpora together: clients within the same error', function () {
      const hits = names.flatMap((name) => records.get(name)!);
      const clients = new Set(hits.map((hit) => hit.client)).size;
      const estimate = cellOf(spec, hits).values().distinct!;
      expect(Math.abs(estimate - clients), `${estimate} for ${clients}`).to.be.at.most(distinctBound * clients);
    });
  });

  describe('fromPartial', function () {
    const spec = fullSpec();
    const cell = cellOf(spec, [
      { value: -2, client: 'a' },
      { value: 10, client: 'b' },
      { value: 300, client: 'c' },
    ]);
    const good = (): Record<string, unknown> => JSON.parse(JSON.stringify(cell.toPartial())) as Record<string, unknown>;
    const quantilesOf = (partial: Record<string, unknown>) => partial.quantiles as Record<string, unknown>;
    const positiveOf = (partial: Record<string, unknown>) => quantilesOf(partial).positive as Record<string, unknown>;

    it('reads back exactly what toPartial wrote', function () {
      expect(AggregateCell.fromPartial(good(), spec).toPartial()).to.deep.equal(cell.toPartial());
    });

    const malformed: [string, (partial: Record<string, unknown>) => unknown, RegExp][] = [
      [
        'not an object',
        () => 'count: 3',
        /^AggregateCell\.fromPartial: the partial must be an object, got "count: 3"$/,
      ],
      ['an unknown field', (p) => ({ ...p, extra: 1 }), /the partial has an unknown field extra$/],
      ['another format', (p) => ({ ...p, format: 2 }), /format must be 1, got 2$/],
      ['a negative count', (p) => ({ ...p, count: -1 }), /count must be an integer ≥ 0, got -1$/],
      ['a fractional count', (p) => ({ ...p, count: 2.5 }), /count must be an integer ≥ 0, got 2\.5$/],
      ['no sum', (p) => ({ ...p, sum: undefined }), /the partial has no sum, but the aggregate options ask for values/],
      ['a sum that is text', (p) => ({ ...p, sum: '306' }), /sum must be a finite number, got "306"$/],
      ['min above max', (p) => ({ ...p, min: 400 }), /min and max must be finite numbers, min ≤ max, got 400 and 300$/],
      [
        'a null max with events',
        (p) => ({ ...p, max: null }),
        /min and max must be finite numbers, min ≤ max, got -2 and null$/,
      ],
      [
        'no distinct',
        (p) => ({ ...p, distinct: undefined }),
        /the partial has no distinct, but the aggregate options ask for distinct/,
      ],
      [
        'distinct that is not base64',
        (p) => ({ ...p, distinct: `${p.distinct as string}!` }),
        /distinct is not base64/,
      ],
      [
        'distinct of another precision',
        () => cellOf(fullSpec({ distinctPrecision: 10 }), [{ value: 1, client: 'a' }]).toPartial(),
        /distinct is not a hyperlolo HyperLogLog of precision 12 \(\d+ bytes, \d+ expected\)$/,
      ],
      [
        'a register no hash can set',
        (p) => {
          const bytes = Buffer.from(p.distinct as string, 'base64');
          bytes[bytes.length - 1] = 30;
          return { ...p, distinct: bytes.toString('base64') };
        },
        /distinct has register 4095 at 30, above the 21 of precision 12$/,
      ],
      [
        'quantiles of another accuracy',
        (p) => ({ ...p, quantiles: { ...quantilesOf(p), accuracy: 0.02 } }),
        /quantiles were sketched with accuracy 0\.02, not the 0\.01 asked for$/,
      ],
      [
        'a negative bin count',
        (p) => ({ ...p, quantiles: { ...quantilesOf(p), positive: { ...positiveOf(p), counts: [1, -1] } } }),
        /quantiles: positive\.counts must hold integers ≥ 0, got -1 at 1$/,
      ],
      [
        'a bin key no sketched magnitude has',
        (p) => ({ ...p, quantiles: { ...quantilesOf(p), positive: { firstKey: 1e9, counts: [2] } } }),
        /quantiles: positive has keys 1000000000 to 1000000000, outside the -\d+ to \d+ of magnitudes 1e-9 to 1000000000000000$/,
      ],
      ['bins that do not add up to the count', (p) => ({ ...p, count: 4 }), /quantiles hold 3 values, but count is 4$/],
    ];
    for (const [what, change, message] of malformed)
      it(`refuses ${what}, saying what is wrong`, function () {
        expect(() => AggregateCell.fromPartial(change(good()), spec)).to.throw(Error, message);
      });

    it('refuses a partial taken under options that ask for other aggregates', function () {
      const countOnly: AggregatePartial = new AggregateCell(resolveAggregateSpec({})).toPartial();
      expect(() => AggregateCell.fromPartial(good(), resolveAggregateSpec({}))).to.throw(
        /^AggregateCell\.fromPartial: the partial has sum, but the aggregate options read no values \(sum, min, max, mean or quantiles\): it was taken under other options$/,
      );
      expect(() => AggregateCell.fromPartial(countOnly, spec)).to.throw(/the partial has no sum/);
      expect(AggregateCell.fromPartial(countOnly, resolveAggregateSpec({})).values()).to.deep.equal({ count: 0 });
    });
  });
});
