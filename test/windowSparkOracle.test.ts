// windowedCount and windowedAggregate against a real Spark Structured Streaming 3.5 (PySpark from
// scripts/install-test-deps, test/support/spark.ts), run by this file on the same events:
// generated ones (four sensors, jittered, some events minutes late, some late for one
// sliding window and on time for the next) and the elastic access log (window by the log
// time, key = status, value = bytes). Spark runs with allowMultiple=false in append mode,
// as our default lateRule 'spark-2.4'; its micro-batches are chosen (planMicroBatches) so
// that its once-per-batch watermark judges every event as ours, moved after each event,
// does (the condition is written at the top of test/spark/windowed_query.py). Then:
// - our final rows are Spark's, row for row;
// - Spark leaves out of its rows exactly the (event, window) pairs we report late, and
//   the events we hand to onReject (kind 'late') are exactly those it dropped from a window.
// windowedAggregate's count, sum, min, max and mean of the same rows are Spark's count,
// sum, min, max and avg. One case feeds Spark batches that break the condition, to show
// that the comparison sees the difference, and where. All queries run in one Spark (one
// JVM start).
import { expect } from 'chai';
import {
  WindowedAggregateState,
  WindowedCountState,
  type Rejection,
  type WindowedCountOptions,
  type WindowRow,
} from '../src/index.js';
import { corpusRecords } from './support/windowRows.js';
import {
  batchingDifferences,
  planMicroBatches,
  runSparkQueries,
  sparkWindowsOf,
  type SparkEvent,
  type SparkResult,
  type SparkRun,
  type SparkSessionQuery,
  type SparkWindowQuery,
} from './support/spark.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** Deterministic random numbers in [0, 1) (mulberry32), so a failure can be replayed. */
function randomFrom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Sensor readings about 1.5 s apart, each up to 4 s behind the clock (mostly in order);
 * one in 25 is 5 to 15 minutes late (far behind any micro-batch's span), one in 16 up to
 * 90 s late (around the watermark: late for some windows, on time for others).
 */
function sensorReadings(seed: number, count: number): SparkEvent[] {
  const random = randomFrom(seed);
  const sensors = ['sensor-a', 'sensor-b', 'sensor-c', 'sensor-d'];
  const events: SparkEvent[] = [];
  let clock = Date.UTC(2024, 0, 1, 12, 0, 0);
  for (let i = 0; i < count; i++) {
    clock += Math.floor(random() * 3 * SECOND);
    const draw = random();
    const behind =
      draw < 0.04
        ? 5 * MINUTE + Math.floor(random() * 10 * MINUTE)
        : draw < 0.1
          ? Math.floor(random() * 90 * SECOND)
          : Math.floor(random() * 4 * SECOND);
    const sensor = sensors[Math.floor(random() * sensors.length)]!;
    events.push({ t: clock - behind, key: sensor, value: Math.floor(random() * 10_000), client: `10.0.0.${i % 7}` });
  }
  return events;
}

/** The elastic access log's first `lines` requests: log time, status, bytes. */
function accessLogEvents(lines: number): SparkEvent[] {
  return corpusRecords('elastic')
    .slice(0, lines)
    .map((record) => ({
      t: record.timeMillis ?? record.time.getTime(),
      key: String(record.status),
      value: record.bytes,
      client: record.client,
    }));
}

interface Case {
  readonly name: string;
  readonly events: readonly SparkEvent[];
  readonly query: SparkWindowQuery;
}

const plan = (events: readonly SparkEvent[], query: SparkWindowQuery, maxBatchSize: number): SparkWindowQuery => ({
  ...query,
  batches: planMicroBatches(events, query, maxBatchSize),
});

const guideAt = (hhmm: string) => Date.parse(`2024-01-01T${hhmm}:00Z`);
/** The Spark guide's watermark example (test/windowSpark.test.ts), in its figure's four triggers. */
const guideWords: SparkEvent[] = (
  [
    ['12:07', 'dog'],
    ['12:08', 'owl'],
    ['12:14', 'dog'],
    ['12:09', 'cat'],
    ['12:15', 'cat'],
    ['12:08', 'dog'],
    ['12:13', 'owl'],
    ['12:21', 'owl'],
    ['12:04', 'donkey'],
    ['12:17', 'owl'],
  ] as const
).map(([hhmm, word]) => ({ t: guideAt(hhmm), key: word, value: 1 }));

const tumblingReadings = sensorReadings(11, 200);
const slidingReadings = sensorReadings(2023, 150);
const tumbling: SparkWindowQuery = { window: 30 * SECOND, watermarkDelay: 10 * SECOND };
const sliding: SparkWindowQuery = { window: MINUTE, slide: 20 * SECOND, watermarkDelay: 15 * SECOND };
const accessLog = accessLogEvents(300);
const wholeAccessLog = accessLogEvents(Infinity);

const cases: Case[] = [
  {
    name: "the Spark guide's example, in the figure's four triggers",
    events: guideWords,
    query: { window: 10 * MINUTE, slide: 5 * MINUTE, watermarkDelay: 10 * MINUTE, batches: [2, 2, 4, 2] },
  },
  {
    name: 'sensor readings, 30 s tumbling windows',
    events: tumblingReadings,
    query: plan(tumblingReadings, tumbling, 100),
  },
  {
    name: 'sensor readings, 1-minute windows sliding by 20 s',
    events: slidingReadings,
    query: plan(slidingReadings, sliding, 100),
  },
  {
    name: "the whole elastic log (10,000 requests), the original job's query (1-minute windows, 2-minute watermark)",
    events: wholeAccessLog,
    query: plan(wholeAccessLog, { window: MINUTE, watermarkDelay: 2 * MINUTE }, 5000),
  },
  {
    name: "the elastic log's first 300 requests, 20 s tumbling windows, 10 s watermark",
    events: accessLog,
    query: plan(accessLog, { window: 20 * SECOND, watermarkDelay: 10 * SECOND }, Infinity),
  },
  {
    name: "the elastic log's first 300 requests, 1-minute windows sliding by 20 s, 30 s watermark",
    events: accessLog,
    query: plan(accessLog, { window: MINUTE, slide: 20 * SECOND, watermarkDelay: 30 * SECOND }, Infinity),
  },
];

/** The sliding readings in micro-batches of 50, cut nowhere else: breaks the condition. */
const unplannedBatches = Array.from({ length: slidingReadings.length / 50 }, () => 50);

/** Two sessions of sensor-a, [0, 40) and [60, 110), then a reading at 35 s that overlaps both and joins them. */
const sessionGap = 30 * SECOND;
const at = (seconds: number) => Date.UTC(2024, 0, 1, 12, 0, 0) + seconds * SECOND;
const sessionReadings: SparkEvent[] = [
  { t: at(0), key: 'sensor-a', value: 5 },
  { t: at(10), key: 'sensor-a', value: 7 },
  { t: at(5), key: 'sensor-b', value: 1 },
  { t: at(80), key: 'sensor-a', value: 2 },
  { t: at(60), key: 'sensor-a', value: 9 }, // [60, 90) joins [80, 110): [60, 110)
  { t: at(35), key: 'sensor-a', value: 4 }, // [35, 65) overlaps [0, 40) and [60, 110): one session [0, 110)
  { t: at(200), key: 'sensor-b', value: 3 },
];
const sessionQuery: SparkSessionQuery = { sessionGap, watermarkDelay: MINUTE };

/** Spark's window query as our window options, on the events as this file numbers them. */
function sparkWindowOptions(query: SparkWindowQuery): WindowedCountOptions<SparkEvent & { id: number }, string> {
  return {
    eventTime: (e) => e.t,
    key: (e) => e.key,
    windowDuration: query.window,
    slideDuration: query.slide ?? query.window,
    offset: query.offset ?? 0,
    watermarkDelay: query.watermarkDelay,
  };
}

/** What we do with the same events, one at a time, then the closing event Spark got. */
function ourRun(events: readonly SparkEvent[], query: SparkWindowQuery, closing: SparkEvent) {
  const rows: WindowRow<string>[] = [];
  const rejections: Rejection<SparkEvent & { id: number }>[] = [];
  const latePairs = new Map<number, number>();
  const counter = new WindowedCountState<SparkEvent & { id: number }, string>(
    {
      ...sparkWindowOptions(query),
      outputMode: 'append',
      lateRule: 'spark-2.4', // the default; Spark with allowMultiple=false
      onReject: (r) => rejections.push(r),
    },
    (row) => rows.push(row),
  );
  events.forEach((event, id) => {
    const before = counter.latePairs;
    counter.push({ ...event, id });
    if (counter.latePairs > before) latePairs.set(id, counter.latePairs - before);
  });
  counter.push({ ...closing, id: -1 });
  return { rows, rejections, latePairs, openWindows: counter.openWindows };
}

const showRow = (start: number, end: number, key: string, count: number) =>
  `[${new Date(start).toISOString()}, ${new Date(end).toISOString()}) ${key} ×${count}`;

/** For each event Spark left out of some of its windows: how many. */
function sparkLatePairs(events: readonly SparkEvent[], query: SparkWindowQuery, result: SparkResult) {
  const countedIn = new Map<number, number>();
  for (const row of result.rows) for (const id of row.eventIds) countedIn.set(id, (countedIn.get(id) ?? 0) + 1);
  const late = new Map<number, number>();
  events.forEach((event, id) => {
    const missing = sparkWindowsOf(event.t, query).length - (countedIn.get(id) ?? 0);
    if (missing > 0) late.set(id, missing);
  });
  return late;
}

const sortedEntries = (map: ReadonlyMap<number, number>) => [...map.entries()].sort(([a], [b]) => a - b);

describe('windowedCount and windowedAggregate equal Spark Structured Streaming 3.5 row for row (allowMultiple=false, append)', function () {
  let run: SparkRun;
  let unplanned: SparkResult;
  let sessions: SparkResult;

  before(async function () {
    this.timeout(300_000);
    run = await runSparkQueries(
      [
        ...cases.map(({ events, query }) => ({ events, query })),
        { events: slidingReadings, query: { ...sliding, batches: unplannedBatches } },
        { events: sessionReadings, query: sessionQuery },
      ],
      // Side by side: the JVM uses about one core for one query at a time (28 s instead of 38 s
      // here). Stopped before the hook's timeout, so that a stuck Spark fails the hook, not the leak check.
      { parallel: true, timeoutMs: 280_000 },
    );
    unplanned = run.results[cases.length]!;
    sessions = run.results[cases.length + 1]!;
    const perQuery = run.results.map((r) => `${r.microBatches} batches ${r.seconds.toFixed(1)} s`).join(', ');
    console.log(
      `      Spark ${run.sparkVersion}: started in ${run.startupSeconds.toFixed(1)} s, ` +
        `${run.processSeconds.toFixed(1)} s in all, ${run.jvmCpuSeconds.toFixed(1)} s of CPU; queries: ${perQuery}`,
    );
  });

  cases.forEach((testCase, index) => {
    it(`${testCase.name}: the same final rows, and the same late (event, window) pairs`, () => {
      const { events, query } = testCase;
      const spark = run.results[index]!;
      expect(batchingDifferences(events, query, query.batches!), 'the batches meet the condition').to.deep.equal([]);
      expect(spark.dataBatches, 'Spark read every micro-batch, and the closing one').to.equal(
        query.batches!.length + 1,
      );
      // The closing event's batch moves the watermark; the no-data batch after it writes the last windows.
      expect(spark.microBatches).to.equal(spark.dataBatches + 1);
      expect(spark.inputRows.at(-1)).to.equal(0);

      const ours = ourRun(events, query, spark.closingEvent);
      expect(ours.openWindows, "only the closing event's windows are left open").to.equal(
        sparkWindowsOf(spark.closingEvent.t, query).length,
      );
      const sparkRows = spark.rows.map((r) => showRow(r.windowStart, r.windowEnd, r.key, r.count));
      const ourRows = ours.rows.map((r) => showRow(r.windowStart.getTime(), r.windowEnd.getTime(), r.key, r.count));
      expect(ourRows.sort()).to.deep.equal(sparkRows.sort());

      const sparkLate = sparkLatePairs(events, query, spark);
      expect(sortedEntries(ours.latePairs)).to.deep.equal(sortedEntries(sparkLate));
      expect(ours.rejections.every((r) => r.kind === 'late')).to.equal(true);
      expect(ours.rejections.map((r) => r.input.id)).to.deep.equal([...sparkLate.keys()].sort((a, b) => a - b));
      if (sparkLate.size > 0) expect(spark.droppedByWatermark, 'Spark says it dropped rows').to.be.greaterThan(0);
    });
  });

  it('the cases cover late events: minutes late, and late for one sliding window but on time for the next', () => {
    const lateIn = (index: number) => sparkLatePairs(cases[index]!.events, cases[index]!.query, run.results[index]!);
    expect([...lateIn(0).keys()], "the guide's (12:04, donkey)").to.deep.equal([8]);
    expect(lateIn(3).size, 'the original job on the elastic log drops nothing').to.equal(0);
    for (const index of [1, 2, 4, 5]) expect(lateIn(index).size, cases[index]!.name).to.be.at.least(10);
    // More than 5 minutes behind the largest event time before them: far more than a micro-batch's span.
    for (const index of [1, 2]) {
      const { events } = cases[index]!;
      const largestBefore = (id: number) => Math.max(...events.slice(0, id).map((e) => e.t));
      const farLate = [...lateIn(index).keys()].filter((id) => events[id]!.t < largestBefore(id) - 5 * MINUTE);
      expect(farLate.length, cases[index]!.name).to.be.at.least(3);
    }
    // Left out of some of their three windows, counted in the others.
    for (const index of [2, 5]) {
      const partly = [...lateIn(index).values()].filter((missing) => missing < 3);
      expect(partly.length, cases[index]!.name).to.be.at.least(3);
    }
  });

  it("Spark's sum, min, max and avg of each row are those of the events it lists (the columns windowedAggregate will compare)", () => {
    cases.forEach(({ events }, index) => {
      for (const row of run.results[index]!.rows) {
        const values = row.eventIds.map((id) => events[id]!.value);
        expect(row.count).to.equal(values.length);
        expect(row.sum).to.equal(values.reduce((a, b) => a + b, 0));
        expect(row.min).to.equal(Math.min(...values));
        expect(row.max).to.equal(Math.max(...values));
        expect(row.avg).to.be.closeTo(row.sum / row.count, 1e-9 * Math.abs(row.sum / row.count));
        for (const id of row.eventIds) {
          expect(events[id]!.key).to.equal(row.key);
          expect(events[id]!.t).to.be.within(row.windowStart, row.windowEnd - 1);
        }
      }
    });
  });

  it("windowedAggregate: count, sum, min, max and mean of every row are Spark's count, sum, min, max and avg, exactly", () => {
    cases.forEach(({ name, events, query }, index) => {
      const spark = run.results[index]!;
      const show = (start: number, end: number, key: string, values: readonly number[]) =>
        `${showRow(start, end, key, values[0]!)} sum ${values[1]} min ${values[2]} max ${values[3]} mean ${values[4]}`;
      const ours: string[] = [];
      const lateIds: number[] = [];
      const state = new WindowedAggregateState<SparkEvent & { id: number }, string>(
        {
          ...sparkWindowOptions(query),
          aggregates: { value: (e) => e.value, sum: true, min: true, max: true, mean: true },
          onReject: (r) => lateIds.push(r.input.id),
        },
        ({ windowStart, windowEnd, key, aggregates: a }) =>
          ours.push(show(windowStart.getTime(), windowEnd.getTime(), key, [a.count, a.sum!, a.min!, a.max!, a.mean!])),
      );
      events.forEach((event, id) => state.push({ ...event, id }));
      state.push({ ...spark.closingEvent, id: -1 });
      const theirs = spark.rows.map((r) =>
        show(r.windowStart, r.windowEnd, r.key, [r.count, r.sum, r.min, r.max, r.avg]),
      );
      expect(ours.sort(), name).to.deep.equal(theirs.sort());
      expect(lateIds, name).to.deep.equal([...sparkLatePairs(events, query, spark).keys()].sort((a, b) => a - b));
    });
  });

  it('batches that break the condition: Spark counts the pairs batchingDifferences names, which we drop, and nothing else differs', () => {
    const differing = batchingDifferences(slidingReadings, sliding, unplannedBatches);
    expect(differing.length, 'the unplanned batches break the condition somewhere').to.be.greaterThan(0);
    const ours = ourRun(slidingReadings, sliding, unplanned.closingEvent);
    const sparkLate = sparkLatePairs(slidingReadings, sliding, unplanned);
    const changed = [...new Set([...ours.latePairs.keys(), ...sparkLate.keys()])].filter(
      (id) => ours.latePairs.get(id) !== sparkLate.get(id),
    );
    expect(changed.sort((a, b) => a - b)).to.deep.equal(differing);
    for (const id of changed) expect(sparkLate.get(id) ?? 0).to.be.lessThan(ours.latePairs.get(id)!);
    const sparkRows = unplanned.rows.map((r) => showRow(r.windowStart, r.windowEnd, r.key, r.count));
    const ourRows = ours.rows.map((r) => showRow(r.windowStart.getTime(), r.windowEnd.getTime(), r.key, r.count));
    expect(ourRows.sort()).not.to.deep.equal(sparkRows.sort());
  });

  it('session_window: one event per micro-batch; a reading between two sessions joins them (rows printed)', () => {
    for (const row of sessions.rows) {
      console.log(
        `      session ${showRow(row.windowStart, row.windowEnd, row.key, row.count)} sum ${row.sum} ` +
          `min ${row.min} max ${row.max} events ${row.eventIds.join(' ')}`,
      );
    }
    expect(sessions.microBatches).to.equal(sessionReadings.length + 2);
    // Spark's docs: a session starts at its first event and ends `gap` after its last.
    for (const row of sessions.rows) {
      const times = row.eventIds.map((id) => sessionReadings[id]!.t);
      expect(row.windowStart).to.equal(Math.min(...times));
      expect(row.windowEnd).to.equal(Math.max(...times) + sessionGap);
      expect(row.count).to.equal(row.eventIds.length);
    }
    expect(sessions.rows.map((r) => [r.key, r.eventIds])).to.deep.equal([
      ['sensor-a', [0, 1, 3, 4, 5]],
      ['sensor-b', [2]],
      ['sensor-b', [6]],
    ]);
  });
});
