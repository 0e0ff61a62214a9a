// Property tests of the window state machine: fast-check generates streams, window
// grids and delays; each property is checked against a plain reference written here,
// without the state machine's shortcuts (brute-force window enumeration, batch group-by).
import { expect } from 'chai';
import fc from 'fast-check';
import {
  WindowedCountState,
  type LateRule,
  type OutputMode,
  type Rejection,
  type WindowedCountSnapshot,
  type WindowedCountOptions,
  type WindowRow,
} from '../src/index.js';

interface Ev {
  readonly t: number;
  readonly k: string;
}
interface Grid {
  readonly length: number;
  readonly slide: number;
  readonly offset: number;
}

/** What every property's counter is built from: the events' accessors and the window grid. */
function gridOptions(grid: Grid, watermarkDelay: number) {
  return {
    eventTime: (e: Ev) => e.t,
    key: (e: Ev) => e.k,
    windowDuration: grid.length,
    slideDuration: grid.slide,
    offset: grid.offset,
    watermarkDelay,
  };
}

/** Every window start s on the grid with s ≤ t < s + length, ascending, by trying every grid point near t. */
function bruteForceStarts(t: number, { length, slide, offset }: Grid): number[] {
  const starts: number[] = [];
  const from = Math.floor((t - length - offset) / slide) - 2;
  const to = Math.ceil((t - offset) / slide) + 2;
  for (let n = from; n <= to; n++) {
    const start = offset + n * slide;
    if (start <= t && t < start + length) starts.push(start);
  }
  return starts;
}

/**
 * Spark's rule replayed naively: watermark = max − delay after each event; late iff
 * window end ≤ the watermark the event arrived with (spark-2.4) or the one the previous
 * event arrived with (spark-3.4).
 */
function referenceReplay(events: readonly Ev[], grid: Grid, delay: number, lateRule: LateRule = 'spark-2.4') {
  const counts = new Map<string, number>();
  let watermark = Number.NEGATIVE_INFINITY;
  let previousArrivalWatermark = Number.NEGATIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  let latePairs = 0;
  let lateEvents = 0;
  for (const { t, k } of events) {
    const lateUpTo = lateRule === 'spark-2.4' ? watermark : previousArrivalWatermark;
    let late = 0;
    for (const start of bruteForceStarts(t, grid)) {
      if (start + grid.length <= lateUpTo) late++;
      else counts.set(`${start}|${k}`, (counts.get(`${start}|${k}`) ?? 0) + 1);
    }
    latePairs += late;
    if (late > 0) lateEvents++;
    previousArrivalWatermark = watermark;
    maxTime = Math.max(maxTime, t);
    watermark = Math.max(watermark, maxTime - delay);
  }
  return { counts, latePairs, lateEvents };
}

function batchGroupBy(events: readonly Ev[], grid: Grid): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { t, k } of events)
    for (const start of bruteForceStarts(t, grid)) counts.set(`${start}|${k}`, (counts.get(`${start}|${k}`) ?? 0) + 1);
  return counts;
}

/** The largest amount by which an event is behind the largest time before it. */
function disorder(events: readonly Ev[]): number {
  let maxTime = Number.NEGATIVE_INFINITY;
  let behind = 0;
  for (const { t } of events) {
    behind = Math.max(behind, maxTime - t);
    maxTime = Math.max(maxTime, t);
  }
  return behind;
}

function run(
  events: readonly Ev[],
  grid: Grid,
  delay: number,
  outputMode: OutputMode,
  flush = true,
  lateRule: LateRule = 'spark-2.4',
) {
  const rows: WindowRow<string>[] = [];
  const rejections: Rejection<Ev>[] = [];
  const counter = new WindowedCountState<Ev, string>(
    {
      ...gridOptions(grid, delay),
      outputMode,
      lateRule,
      onReject: (r) => rejections.push(r),
    },
    (row) => rows.push(row),
  );
  for (const event of events) counter.push(event);
  if (flush) counter.flush();
  return { rows, rejections, counter };
}

const rowKey = (row: WindowRow<string>) => `${row.windowStart.getTime()}|${row.key}`;

function lastPerRow(rows: readonly WindowRow<string>[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const row of rows) last.set(rowKey(row), row.count);
  return last;
}

const sorted = (map: Map<string, number>) => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

const gridArb: fc.Arbitrary<Grid> = fc
  .record({
    length: fc.integer({ min: 1, max: 40 }),
    slideDivisor: fc.integer({ min: 1, max: 40 }),
    offset: fc.integer({ min: -50, max: 50 }),
  })
  .map(({ length, slideDivisor, offset }) => ({
    length,
    slide: Math.max(1, Math.floor(length / Math.min(slideDivisor, length))),
    offset,
  }))
  .chain((grid) =>
    fc.oneof(
      fc.constant(grid),
      fc.integer({ min: 1, max: grid.length }).map((slide) => ({ ...grid, slide })),
    ),
  );
const eventsArb = fc.array(
  fc.record({ t: fc.integer({ min: -200, max: 400 }), k: fc.constantFrom('200', '301', '404', '500') }),
  { maxLength: 80 },
);
const delayArb = fc.integer({ min: 0, max: 120 });
const modeArb = fc.constantFrom<OutputMode>('append', 'update', 'complete');
const ruleArb = fc.constantFrom<LateRule>('spark-2.4', 'spark-3.4');

describe('windowedCount state machine properties', () => {
  it('assigns an event to exactly the windows a brute-force search of the grid finds, before the epoch too', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2e12, max: 2e12 }),
        fc
          .integer({ min: 1, max: 5_000 })
          .chain((length) =>
            fc.tuple(
              fc.constant(length),
              fc.integer({ min: 1, max: length }),
              fc.integer({ min: -10_000, max: 10_000 }),
            ),
          ),
        (t, [length, slide, offset]) => {
          const { rows } = run([{ t, k: 'x' }], { length, slide, offset }, 0, 'update', false);
          const expected = bruteForceStarts(t, { length, slide, offset });
          expect(rows.map((row) => row.windowStart.getTime())).to.deep.equal(expected);
          for (const row of rows) expect(row.windowEnd.getTime() - row.windowStart.getTime()).to.equal(length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("with a delay at least the stream's disorder, nothing is late and append totals equal a batch group-by", () => {
    fc.assert(
      fc.property(eventsArb, gridArb, fc.integer({ min: 0, max: 50 }), (events, grid, extra) => {
        const { rows, rejections, counter } = run(events, grid, disorder(events) + extra, 'append');
        expect(rejections).to.deep.equal([]);
        expect(counter.latePairs).to.equal(0);
        const appended = new Map(rows.map((row) => [rowKey(row), row.count]));
        expect(sorted(appended)).to.deep.equal(sorted(batchGroupBy(events, grid)));
      }),
      { numRuns: 300 },
    );
  });

  it("counts and late reports equal a naive replay of Spark's rule, whatever the delay, under either late rule", () => {
    fc.assert(
      fc.property(eventsArb, gridArb, delayArb, ruleArb, (events, grid, delay, lateRule) => {
        const { rows, rejections, counter } = run(events, grid, delay, 'append', true, lateRule);
        const reference = referenceReplay(events, grid, delay, lateRule);
        expect(sorted(new Map(rows.map((row) => [rowKey(row), row.count])))).to.deep.equal(sorted(reference.counts));
        expect(counter.latePairs).to.equal(reference.latePairs);
        expect(counter.lateEvents).to.equal(reference.lateEvents);
        expect(rejections.length).to.equal(reference.lateEvents);
        expect(rejections.every((r) => r.kind === 'late')).to.equal(true);
      }),
      { numRuns: 300 },
    );
  });

  it('append never emits a (window, key) twice, even with watermark advances in between, under either late rule', () => {
    const step = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({ t: fc.integer({ min: -200, max: 400 }), k: fc.constantFrom('a', 'b', 'c') }),
      },
      { weight: 1, arbitrary: fc.integer({ min: -200, max: 500 }).map((advanceTo) => ({ advanceTo })) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), gridArb, delayArb, ruleArb, (steps, grid, delay, lateRule) => {
        const rows: WindowRow<string>[] = [];
        const counter = new WindowedCountState<Ev, string>(
          {
            ...gridOptions(grid, delay),
            lateRule,
            onReject: () => {},
          },
          (row) => rows.push(row),
        );
        for (const s of steps) {
          if ('advanceTo' in s) counter.advanceWatermark(s.advanceTo);
          else counter.push(s);
        }
        counter.flush();
        const keys = rows.map(rowKey);
        expect(new Set(keys).size).to.equal(keys.length);
        // a row is only emitted once its window is final (or flushed), so at most once
        expect(counter.stateSize).to.equal(0);
        expect(counter.openWindows).to.equal(0);
      }),
      { numRuns: 300 },
    );
  });

  it('the last update value of each row equals the append row, and the rows are the same, under either late rule', () => {
    fc.assert(
      fc.property(eventsArb, gridArb, delayArb, ruleArb, (events, grid, delay, lateRule) => {
        const append = new Map(
          run(events, grid, delay, 'append', true, lateRule).rows.map((row) => [rowKey(row), row.count]),
        );
        expect(sorted(lastPerRow(run(events, grid, delay, 'update', true, lateRule).rows))).to.deep.equal(
          sorted(append),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('complete mode emits after each event a batch group-by of every event so far, with no late rule, in window then key order', () => {
    fc.assert(
      fc.property(eventsArb, gridArb, delayArb, ruleArb, (events, grid, delay, lateRule) => {
        const rows: WindowRow<string>[] = [];
        const counter = new WindowedCountState<Ev, string>(
          {
            ...gridOptions(grid, delay),
            outputMode: 'complete',
            lateRule,
            onReject: () => {},
          },
          (row) => rows.push(row),
        );
        for (let i = 0; i < events.length; i++) {
          rows.length = 0;
          counter.push(events[i]!);
          const table = new Map(rows.map((row) => [rowKey(row), row.count]));
          expect(table.size).to.equal(rows.length); // each (window, key) once per table
          expect(sorted(table)).to.deep.equal(sorted(batchGroupBy(events.slice(0, i + 1), grid)));
          const starts = rows.map((row) => row.windowStart.getTime());
          expect(starts).to.deep.equal([...starts].sort((a, b) => a - b));
        }
        expect(counter.lateEvents).to.equal(0);
      }),
      { numRuns: 200 },
    );
  });

  it('in append and update mode, state never exceeds the open windows × keys, and open windows stay within (delay + length) / slide + 1', () => {
    fc.assert(
      fc.property(
        eventsArb,
        gridArb,
        delayArb,
        fc.constantFrom<OutputMode>('append', 'update'),
        (events, grid, delay, outputMode) => {
          const keys = new Set<string>();
          const counter = new WindowedCountState<Ev, string>(
            {
              ...gridOptions(grid, delay),
              outputMode,
              onReject: () => {},
            },
            () => {},
          );
          let maxTime = Number.NEGATIVE_INFINITY;
          for (const event of events) {
            counter.push(event);
            keys.add(event.k);
            maxTime = Math.max(maxTime, event.t);
            expect(counter.stateSize).to.be.at.most(counter.openWindows * keys.size);
            expect(counter.openWindows).to.be.at.most(Math.floor((delay + grid.length) / grid.slide) + 1);
            // watermark: max event time − delay, set after the event
            expect(counter.watermark).to.equal(maxTime - delay);
            const earliestEnd = counter.earliestOpenWindowEnd;
            if (earliestEnd !== undefined) expect(earliestEnd).to.be.greaterThan(maxTime - delay);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  describe('snapshot and restore', () => {
    type Step = Ev | { readonly advanceTo: number };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 10,
        arbitrary: fc.record({
          t: fc.integer({ min: -200, max: 400 }),
          k: fc.constantFrom('200', '301', '404', '500'),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ t: Number.NaN, k: 'bad' }) },
      { weight: 2, arbitrary: fc.integer({ min: -200, max: 500 }).map((advanceTo) => ({ advanceTo })) },
    );
    // The clock stands at 300, so with the guard on, some events are from the future.
    const aheadArb = fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined });
    const clock = () => 300;

    function counterFor(
      grid: Grid,
      delay: number,
      outputMode: OutputMode,
      lateRule: LateRule,
      maxEventTimeAhead: number | undefined,
    ) {
      const rows: WindowRow<string>[] = [];
      const rejections: Rejection<Ev>[] = [];
      const options: WindowedCountOptions<Ev, string> = {
        ...gridOptions(grid, delay),
        outputMode,
        lateRule,
        now: clock,
        onReject: (r) => rejections.push(r),
        ...(maxEventTimeAhead === undefined ? {} : { maxEventTimeAhead }),
      };
      const counter = new WindowedCountState<Ev, string>(options, (row) => rows.push(row));
      const apply = (steps: readonly Step[]) => {
        for (const step of steps) {
          if ('advanceTo' in step) counter.advanceWatermark(step.advanceTo);
          else counter.push(step);
        }
      };
      return { counter, rows, rejections, apply };
    }

    const stats = (counter: WindowedCountState<Ev, string>) => ({
      eventsSeen: counter.eventsSeen,
      eventsCounted: counter.eventsCounted,
      timestampRejects: counter.timestampRejects,
      futureRejects: counter.futureRejects,
      lateEvents: counter.lateEvents,
      latePairs: counter.latePairs,
      rowsEmitted: counter.rowsEmitted,
      openWindows: counter.openWindows,
      stateSize: counter.stateSize,
      watermark: counter.watermark,
      maxEventTime: counter.maxEventTime,
      earliestOpenWindowEnd: counter.earliestOpenWindowEnd,
    });
    const shown = (rows: readonly WindowRow<string>[]) =>
      rows.map((row) => `${row.windowStart.getTime()}-${row.windowEnd.getTime()} ${row.key}=${row.count}`);

    it('a counter restored from a JSON copy of a snapshot taken at any point emits what the uninterrupted counter emits from there, with the same stats', () => {
      fc.assert(
        fc.property(
          fc.array(stepArb, { maxLength: 80 }),
          fc.nat(),
          gridArb,
          delayArb,
          modeArb,
          ruleArb,
          aheadArb,
          (steps, at, grid, delay, outputMode, lateRule, ahead) => {
            const split = at % (steps.length + 1);
            const whole = counterFor(grid, delay, outputMode, lateRule, ahead);
            whole.apply(steps.slice(0, split));
            const [rowsBefore, rejectionsBefore] = [whole.rows.length, whole.rejections.length];
            whole.apply(steps.slice(split));

            const prefix = counterFor(grid, delay, outputMode, lateRule, ahead);
            prefix.apply(steps.slice(0, split));
            const resumed = counterFor(grid, delay, outputMode, lateRule, ahead);
            resumed.counter.restore(
              JSON.parse(JSON.stringify(prefix.counter.snapshot())) as WindowedCountSnapshot<string>,
            );
            expect(stats(resumed.counter)).to.deep.equal(stats(prefix.counter));
            resumed.apply(steps.slice(split));

            expect(shown(resumed.rows)).to.deep.equal(shown(whole.rows.slice(rowsBefore)));
            expect(resumed.rejections.map((r) => [r.kind, r.reason])).to.deep.equal(
              whole.rejections.slice(rejectionsBefore).map((r) => [r.kind, r.reason]),
            );
            expect(stats(resumed.counter)).to.deep.equal(stats(whole.counter));
            expect(resumed.counter.snapshot()).to.deep.equal(whole.counter.snapshot());
            whole.counter.flush();
            resumed.counter.flush();
            expect(shown(resumed.rows)).to.deep.equal(shown(whole.rows.slice(rowsBefore)));
          },
        ),
        { numRuns: 400 },
      );
    });

    it('in append and update mode a snapshot holds the open windows × their keys, nothing that grows with the stream', () => {
      fc.assert(
        fc.property(
          fc.array(stepArb, { maxLength: 80 }),
          gridArb,
          delayArb,
          fc.constantFrom<OutputMode>('append', 'update'),
          ruleArb,
          (steps, grid, delay, outputMode, lateRule) => {
            const { counter, apply } = counterFor(grid, delay, outputMode, lateRule, undefined);
            const keys = new Set<string>();
            // spark-3.4 holds the windows of the last event on top (they close at the next one)
            const windowsAtMost =
              Math.floor((delay + grid.length) / grid.slide) +
              1 +
              (lateRule === 'spark-3.4' ? Math.ceil(grid.length / grid.slide) : 0);
            for (const step of steps) {
              apply([step]);
              if (!('advanceTo' in step)) keys.add(step.k);
              const snapshot = counter.snapshot();
              const pairs = snapshot.windows.reduce((sum, window) => sum + window.counts.length, 0);
              expect(snapshot.windows.length).to.equal(counter.openWindows);
              expect(snapshot.windows.length).to.be.at.most(windowsAtMost);
              expect(pairs).to.equal(counter.stateSize);
              expect(pairs).to.be.at.most(counter.openWindows * keys.size);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('keeps a snapshot of a 200,000-event stream as small as after its first 10,000 events (1-minute windows, 11 statuses)', () => {
      const statuses = ['200', '206', '301', '302', '304', '400', '403', '404', '408', '500', '503'];
      for (const lateRule of ['spark-2.4', 'spark-3.4'] as const) {
        const counter = new WindowedCountState<Ev, string>(
          {
            eventTime: (e) => e.t,
            key: (e) => e.k,
            windowDuration: '1 minute',
            watermarkDelay: '2 minutes',
            lateRule,
            onReject: () => {},
          },
          () => {},
        );
        const sizes: number[] = [];
        for (let i = 0; i < 200_000; i++) {
          // one event every 100 ms, up to 59 s out of order: about 3,300 windows in all
          counter.push({ t: i * 100 - ((i * 7_919) % 59_000), k: statuses[(i * 31) % statuses.length]! });
          if ((i + 1) % 10_000 === 0) sizes.push(JSON.stringify(counter.snapshot()).length);
        }
        expect(counter.eventsSeen).to.equal(200_000);
        expect(Math.max(...sizes)).to.be.at.most(sizes[0]! + 20); // a few more digits in the stats
        expect(Math.max(...sizes)).to.be.below(1_500);
      }
    });
  });
});
