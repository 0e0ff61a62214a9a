// windowedAggregate and its state machine: the windows are windowedCount's (checked by
// running both on the same generated streams, every mode and late rule), the aggregates
// are exact against a batch group-by, the partials of any split of a stream over N
// aggregators merge to the one aggregator's cells, and snapshots resume exactly.
import { expect } from 'chai';
import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  AggregateCell,
  WindowedAggregateState,
  WindowedCountState,
  resolveAggregateSpec,
  windowedAggregate,
  type AggregateOptions,
  type AggregateRow,
  type LateRule,
  type OutputMode,
  type Rejection,
  type WindowedAggregateOptions,
  type WindowRow,
} from '../src/index.js';

interface Reading {
  readonly t: number;
  readonly k: string;
  readonly v: number;
  readonly c: string;
}

const readingsArb = fc.array(
  fc.record({
    t: fc.integer({ min: -200, max: 400 }),
    k: fc.constantFrom('200', '301', '404'),
    v: fc.integer({ min: -1_000, max: 100_000 }),
    c: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  }),
  { maxLength: 80 },
);
const gridArb = fc.integer({ min: 1, max: 40 }).chain((length) =>
  fc.record({
    length: fc.constant(length),
    slide: fc.integer({ min: 1, max: length }),
    delay: fc.integer({ min: 0, max: 120 }),
  }),
);
const modeArb = fc.constantFrom<OutputMode>('append', 'update', 'complete');
const ruleArb = fc.constantFrom<LateRule>('spark-2.4', 'spark-3.4');

const everything: AggregateOptions<Reading> = {
  value: (r) => r.v,
  sum: true,
  min: true,
  max: true,
  mean: true,
  quantiles: [0, 0.5, 0.99, 1],
  distinct: (r) => r.c,
};
const everythingSpec = resolveAggregateSpec(everything);

function options(
  grid: { length: number; slide: number; delay: number },
  outputMode: OutputMode,
  lateRule: LateRule,
  aggregates: AggregateOptions<Reading>,
  onReject?: (rejection: Rejection<Reading>) => void,
): WindowedAggregateOptions<Reading, string> {
  return {
    eventTime: (r) => r.t,
    key: (r) => r.k,
    windowDuration: grid.length,
    slideDuration: grid.slide,
    watermarkDelay: grid.delay,
    outputMode,
    lateRule,
    aggregates,
    partials: true,
    ...(onReject && { onReject }),
  };
}

function aggregate(readings: readonly Reading[], windowOptions: WindowedAggregateOptions<Reading, string>) {
  const rows: AggregateRow<string>[] = [];
  const state = new WindowedAggregateState(windowOptions, (row) => rows.push(row));
  for (const reading of readings) state.push(reading);
  state.flush();
  return { rows, state };
}

const cellId = (row: WindowRow<string>) => `${row.windowStart.getTime()}|${row.key}`;

describe('windowedAggregate state machine', () => {
  it("emits windowedCount's rows, at the same moments, with the same rejections, in every mode and under either late rule", () => {
    fc.assert(
      fc.property(readingsArb, gridArb, modeArb, ruleArb, (readings, grid, mode, rule) => {
        const countRejections: string[] = [];
        const aggregateRejections: string[] = [];
        const counted: WindowRow<string>[] = [];
        const counter = new WindowedCountState<Reading, string>(
          { ...options(grid, mode, rule, {}), onReject: (r) => countRejections.push(r.reason) },
          (row) => counted.push(row),
        );
        for (const reading of readings) counter.push(reading);
        counter.flush();
        const { rows, state } = aggregate(
          readings,
          options(grid, mode, rule, everything, (r) => aggregateRejections.push(r.reason)),
        );
        const shape = (row: WindowRow<string>) => [cellId(row), row.count, row.final];
        expect(rows.map(shape)).to.deep.equal(counted.map(shape));
        expect(aggregateRejections).to.deep.equal(countRejections);
        expect(state.latePairs).to.equal(counter.latePairs);
        expect(state.watermark).to.equal(counter.watermark);
      }),
      { numRuns: 300 },
    );
  });

  it('gives exact count, sum, min, max and mean, and quantiles 0 and 1, against a batch group-by when nothing is late', () => {
    fc.assert(
      fc.property(readingsArb, gridArb, (readings, grid) => {
        const wide = { ...grid, delay: 1_000 }; // more than the readings' disorder: nothing late
        const { rows } = aggregate(readings, options(wide, 'append', 'spark-2.4', everything));
        const expected = new Map<string, number[]>();
        for (const reading of readings)
          for (let start = reading.t - mod(reading.t, wide.slide); start > reading.t - wide.length; start -= wide.slide)
            expected.set(`${start}|${reading.k}`, [...(expected.get(`${start}|${reading.k}`) ?? []), reading.v]);
        expect(rows.length).to.equal(expected.size);
        for (const row of rows) {
          const values = expected.get(cellId(row)) as number[];
          const sum = values.reduce((a, b) => a + b, 0);
          expect(row.aggregates).to.include({
            count: values.length,
            sum,
            min: Math.min(...values),
            max: Math.max(...values),
            mean: sum / values.length,
          });
          expect(row.aggregates.quantiles).to.include({ p0: Math.min(...values), p100: Math.max(...values) });
          expect(row.aggregates.distinct).to.be.at.most(new Set(readings.map((r) => r.c)).size);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("merges the partials of any split of a stream over N aggregators into the one aggregator's cells, sketches included", () => {
    fc.assert(
      fc.property(
        readingsArb,
        gridArb,
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.nat(), { minLength: 80, maxLength: 80 }),
        (readings, grid, n, assignment) => {
          // Nothing late for any aggregator: the count rule's condition for exact totals.
          const wide = { ...grid, delay: 1_000 };
          const settings = options(wide, 'append', 'spark-2.4', everything);
          const whole = new Map(aggregate(readings, settings).rows.map((row) => [cellId(row), row]));
          const merged = new Map<string, AggregateCell<Reading>>();
          for (let part = 0; part < n; part++) {
            const mine = readings.filter((_, i) => (assignment[i] as number) % n === part);
            for (const row of aggregate(mine, settings).rows) {
              const cell = AggregateCell.fromPartial(JSON.parse(JSON.stringify(row.partial)), everythingSpec);
              const sofar = merged.get(cellId(row));
              if (sofar === undefined) merged.set(cellId(row), cell);
              else sofar.merge(cell);
            }
          }
          expect([...merged.keys()].sort()).to.deep.equal([...whole.keys()].sort());
          for (const [id, cell] of merged) {
            expect(cell.values(), id).to.deep.equal(whole.get(id)?.aggregates);
            expect(cell.toPartial(), id).to.deep.equal(whole.get(id)?.partial);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reports an event whose value or distinct value cannot be read (kind value), counts it nowhere and leaves the watermark', () => {
    const rejections: Rejection<Reading>[] = [];
    const { rows, state } = aggregate(
      [
        { t: 1, k: 'a', v: 5, c: 'x' },
        { t: 500, k: 'a', v: Number.NaN, c: 'x' },
        { t: 600, k: 'a', v: 7, c: undefined as unknown as string },
        { t: 2, k: 'a', v: 9, c: 'y' },
      ],
      options({ length: 10, slide: 10, delay: 5 }, 'append', 'spark-2.4', everything, (r) => rejections.push(r)),
    );
    expect(rejections.map((r) => [r.kind, r.operator, r.reason])).to.deep.equal([
      ['value', 'windowedAggregate', 'value is NaN, not a finite number; not counted'],
      ['value', 'windowedAggregate', 'distinct value is undefined, not a string or a number; not counted'],
    ]);
    expect(state.valueRejects).to.equal(2);
    expect(state.eventsSeen).to.equal(4);
    expect(rows.map((row) => [cellId(row), row.aggregates.count, row.aggregates.sum])).to.deep.equal([['0|a', 2, 14]]);
  });

  it('resumes from a snapshot through JSON exactly as if it had never stopped, and refuses one taken with other aggregates', () => {
    fc.assert(
      fc.property(readingsArb, gridArb, modeArb, fc.nat(), (readings, grid, mode, cut) => {
        const settings = options(grid, mode, 'spark-2.4', everything, () => {});
        const straight = aggregate(readings, settings).rows;
        const at = readings.length === 0 ? 0 : cut % readings.length;
        const rows: AggregateRow<string>[] = [];
        const first = new WindowedAggregateState(settings, (row) => rows.push(row));
        for (const reading of readings.slice(0, at)) first.push(reading);
        const second = new WindowedAggregateState(settings, (row) => rows.push(row));
        second.restore(JSON.parse(JSON.stringify(first.snapshot())));
        for (const reading of readings.slice(at)) second.push(reading);
        second.flush();
        expect(rows).to.deep.equal(straight);
      }),
      { numRuns: 100 },
    );
    const settings = options({ length: 10, slide: 10, delay: 5 }, 'append', 'spark-2.4', everything);
    const state = new WindowedAggregateState(settings, () => {});
    state.push({ t: 1, k: 'a', v: 5, c: 'x' });
    const other = new WindowedAggregateState(
      { ...settings, aggregates: { ...everything, quantiles: [0.5] } },
      () => {},
    );
    expect(() => other.restore(state.snapshot())).to.throw(
      /^WindowedAggregateState\.restore: the snapshot was taken with other aggregates: /,
    );
  });

  it('holds one cell per open (window, key): state does not grow with the length of the stream', () => {
    const state = new WindowedAggregateState<Reading, string>(
      {
        eventTime: (r) => r.t,
        key: (r) => r.k,
        windowDuration: '1 minute',
        watermarkDelay: '2 minutes',
        aggregates: everything,
      },
      () => {},
    );
    let most = 0;
    for (let i = 0; i < 200_000; i++) {
      state.push({ t: i * 100, k: String(200 + (i % 5)), v: i % 1_000, c: `10.0.0.${i % 50}` });
      most = Math.max(most, state.stateSize);
    }
    expect(state.openWindows).to.be.at.most(4);
    expect(most).to.be.at.most(4 * 5);
  });
});

describe('windowedAggregate operator', () => {
  it('emits the rows of its state machine and flushes the open windows when the source completes', async () => {
    const readings: Reading[] = [
      { t: 1_000, k: '200', v: 5, c: 'x' },
      { t: 4_000, k: '200', v: 7, c: 'y' },
      { t: 12_000, k: '200', v: 1, c: 'x' },
      { t: 17_000, k: '404', v: 2, c: 'x' },
    ];
    const rows = await lastValueFrom(
      from(readings).pipe(
        windowedAggregate<Reading, string>({
          eventTime: (r) => r.t,
          key: (r) => r.k,
          windowDuration: 10_000,
          watermarkDelay: 5_000,
          aggregates: { value: (r) => r.v, sum: true, max: true },
        }),
        toArray(),
      ),
    );
    expect(rows.map((row) => [row.windowStart.getTime(), row.key, row.final, row.aggregates])).to.deep.equal([
      [0, '200', true, { count: 2, sum: 12, max: 7 }],
      [10_000, '200', false, { count: 1, sum: 1, max: 1 }],
      [10_000, '404', false, { count: 1, sum: 2, max: 2 }],
    ]);
    expect(rows[0]).to.not.have.property('partial');
  });

  it('checks its options when it is made, naming itself', () => {
    const base = { eventTime: (r: Reading) => r.t, key: (r: Reading) => r.k, windowDuration: 10, watermarkDelay: 0 };
    expect(() => windowedAggregate(base as never)).to.throw(TypeError, /^windowedAggregate: aggregates is required/);
    expect(() => windowedAggregate({ ...base, windowDuration: 0, aggregates: {} })).to.throw(
      RangeError,
      /^windowedAggregate: windowDuration/,
    );
    expect(() => windowedAggregate({ ...base, aggregates: { sum: true } })).to.throw(
      TypeError,
      /^windowedAggregate: value/,
    );
  });
});

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}
