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
// that the comparison sees the difference, and where.
// Session windows (session_window, windowedCount and windowedAggregate given sessionGap):
// hand-made readings where a reading joins two sessions, generated readings (four
// sensors, pauses, disorder, some minutes late), the elastic log by status with bytes as
// the value, the 'spark-3.4' rule against allowMultiple=true, complete mode, and update
// mode, which Spark refuses: our rows (start, end, key, count, sum, min, max, mean) are
// Spark's row for row, and the events we report late are those Spark dropped. All
// queries run in one Spark (one JVM start).
import { expect } from 'chai';
import {
  SessionAggregateState,
  SessionCountState,
  WindowedAggregateState,
  WindowedCountState,
  type AggregateRow,
  type LateRule,
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
  type SparkQuery,
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

const plan = <Q extends SparkQuery>(events: readonly SparkEvent[], query: Q, maxBatchSize: number): Q => ({
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

/**
 * Readings for sessions: four sensors, a tick every 0 to 8 s at which each reports with
 * probability 0.3, so a sensor's readings are often more than the gap apart; a pause of
 * 40 s to 2 min one tick in 16, after which a reading stamped before the pause often comes
 * in (late under 'spark-2.4', on time under 'spark-3.4'); most readings up to 2 s behind
 * the tick, one in 10 from 10 s to 75 s behind (late, or on time), one in 33 from 2 to 6
 * minutes behind. A sensor silent for 30 s to 58 s (its sessions apart) often sends, one
 * to three ticks later, a buffered reading from the middle of that silence, which joins
 * the two sessions.
 */
function sessionSensorReadings(seed: number, count: number): SparkEvent[] {
  const random = randomFrom(seed);
  const sensors = ['sensor-a', 'sensor-b', 'sensor-c', 'sensor-d'];
  const events: SparkEvent[] = [];
  const reading = (t: number, key: string) => {
    if (events.length < count) events.push({ t, key, value: Math.floor(random() * 10_000), client: '' });
  };
  const lastOnTime = new Map<string, number>();
  let buffered: { t: number; key: string; ticks: number }[] = [];
  let clock = Date.UTC(2024, 0, 1, 13, 0, 0);
  while (events.length < count) {
    const paused = random() < 0.06;
    const beforePause = clock;
    clock += paused ? 40 * SECOND + Math.floor(random() * 80 * SECOND) : Math.floor(random() * 8 * SECOND);
    for (const held of buffered) if (--held.ticks === 0) reading(held.t, held.key);
    buffered = buffered.filter((held) => held.ticks > 0);
    let reported = 0;
    for (const sensor of sensors) {
      if (random() < 0.7 || events.length >= count) continue;
      const draw = random();
      const behind =
        draw < 0.03
          ? 2 * MINUTE + Math.floor(random() * 4 * MINUTE)
          : draw < 0.13
            ? 10 * SECOND + Math.floor(random() * 65 * SECOND)
            : Math.floor(random() * 2 * SECOND);
      const t = clock - behind;
      const before = lastOnTime.get(sensor);
      if (behind < 2 * SECOND) {
        const silence = before === undefined ? 0 : t - before;
        if (silence > 30 * SECOND && silence < 58 * SECOND && random() < 0.8)
          buffered.push({ t: Math.floor((before! + t) / 2), key: sensor, ticks: 1 + Math.floor(random() * 3) });
        lastOnTime.set(sensor, t);
      }
      reading(t, sensor);
      reported++;
      if (paused && reported === 1 && random() < 0.7)
        reading(beforePause - Math.floor(random() * 5 * SECOND), sensors[Math.floor(random() * sensors.length)]!);
    }
  }
  return events;
}

interface SessionCase {
  readonly name: string;
  readonly events: readonly SparkEvent[];
  readonly query: SparkSessionQuery;
  readonly lateRule: LateRule;
}

const generatedSessionReadings = sessionSensorReadings(5, 120);
const sessionLog = accessLogEvents(150);
const sessionCases: SessionCase[] = [
  {
    name: 'the hand-made readings: a reading between two sessions joins them',
    events: sessionReadings,
    query: plan(sessionReadings, sessionQuery, Infinity),
    lateRule: 'spark-2.4',
  },
  {
    name: 'generated readings: four sensors, pauses, disorder, some minutes late (30 s gap, 20 s watermark)',
    events: generatedSessionReadings,
    query: plan(generatedSessionReadings, { sessionGap, watermarkDelay: 20 * SECOND }, Infinity),
    lateRule: 'spark-2.4',
  },
  {
    name: "the elastic log's first 150 requests by status, bytes as the value (30 s gap, 20 s watermark)",
    events: sessionLog,
    query: plan(sessionLog, { sessionGap, watermarkDelay: 20 * SECOND }, Infinity),
    lateRule: 'spark-2.4',
  },
  {
    name: "generated readings under lateRule 'spark-3.4' against allowMultiple=true, one event per micro-batch",
    events: generatedSessionReadings.slice(0, 40),
    query: { sessionGap, watermarkDelay: 20 * SECOND, allowMultiple: true },
    lateRule: 'spark-3.4',
  },
];
/** Complete mode on the first 60 generated readings: Spark's table after the last batch. */
const completeSessionEvents = generatedSessionReadings.slice(0, 60);
const completeSessionQuery: SparkSessionQuery = {
  ...plan(completeSessionEvents, { sessionGap, watermarkDelay: 20 * SECOND }, Infinity),
  outputMode: 'complete',
};
/** The generated readings in micro-batches of 10, cut nowhere else: breaks the condition. */
const unplannedSessionBatches = Array.from({ length: generatedSessionReadings.length / 10 }, () => 10);

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

/** A session row as both sides are compared: interval, key, count, sum, min, max, mean. */
const showSession = (start: number, end: number, key: string, values: readonly number[]) =>
  `${showRow(start, end, key, values[0]!)} sum ${values[1]} min ${values[2]} max ${values[3]} mean ${values[4]}`;
const showOurSession = ({ windowStart, windowEnd, key, aggregates: a }: AggregateRow<string>) =>
  showSession(windowStart.getTime(), windowEnd.getTime(), key, [a.count, a.sum!, a.min!, a.max!, a.mean!]);
const showSparkSession = (row: SparkResult['rows'][number]) =>
  showSession(row.windowStart, row.windowEnd, row.key, [row.count, row.sum, row.min, row.max, row.avg]);

/**
 * What SessionAggregateState and SessionCountState do with the same events one at a time,
 * then the closing event Spark got and the watermark advance of Spark's no-data batch
 * after it (which writes every session that watermark passed): the rows (in complete mode,
 * the ones the closing event emitted, its own left out) and the events reported late.
 */
function ourSessions(events: readonly SparkEvent[], query: SparkSessionQuery, lateRule: LateRule, closing: SparkEvent) {
  const outputMode = query.outputMode === 'complete' ? 'complete' : 'append';
  const options = {
    eventTime: (e: SparkEvent & { id: number }) => e.t,
    key: (e: SparkEvent & { id: number }) => e.key,
    sessionGap: query.sessionGap,
    watermarkDelay: query.watermarkDelay,
    outputMode,
    lateRule,
  } as const;
  const rows: AggregateRow<string>[] = [];
  const lateIds: number[] = [];
  const state = new SessionAggregateState<SparkEvent & { id: number }, string>(
    {
      ...options,
      aggregates: { value: (e) => e.value, sum: true, min: true, max: true, mean: true },
      onReject: (r) => lateIds.push(r.input.id),
    },
    (row) => rows.push(row),
  );
  const counted: WindowRow<string>[] = [];
  const counter = new SessionCountState<SparkEvent & { id: number }, string>(
    { ...options, onReject: () => {} },
    (row) => counted.push(row),
  );
  events.forEach((event, id) => {
    state.push({ ...event, id });
    counter.push({ ...event, id });
  });
  const before = [rows.length, counted.length] as const;
  state.push({ ...closing, id: -1 });
  counter.push({ ...closing, id: -1 });
  state.advanceWatermark(state.watermark!);
  counter.advanceWatermark(counter.watermark!);
  const last = <R extends WindowRow<string>>(all: readonly R[], from: number) =>
    (outputMode === 'complete' ? all.slice(from) : all).filter((row) => row.key !== closing.key);
  return { rows: last(rows, before[0]), counted: last(counted, before[1]), lateIds, state };
}

/** The events Spark counted in no row: the ones it dropped as late. */
function sparkDropped(events: readonly SparkEvent[], result: SparkResult): number[] {
  const counted = new Set(result.rows.flatMap((row) => row.eventIds));
  return events.map((_, id) => id).filter((id) => !counted.has(id));
}

/**
 * The events of Spark's rows that joined two or more sessions when they arrived: each row's
 * events replayed in arrival order, as intervals [t, t + gap] that merge when they meet.
 */
function bridgingEvents(events: readonly SparkEvent[], result: SparkResult, gap: number): number[] {
  const bridging: number[] = [];
  for (const row of result.rows) {
    let sessions: [number, number][] = [];
    for (const id of [...row.eventIds].sort((a, b) => a - b)) {
      const t = events[id]!.t;
      const met = sessions.filter(([start, end]) => start <= t + gap && t <= end);
      if (met.length >= 2) bridging.push(id);
      const merged: [number, number] = [
        Math.min(t, ...met.map(([start]) => start)),
        Math.max(t + gap, ...met.map(([, end]) => end)),
      ];
      sessions = [...sessions.filter((session) => !met.includes(session)), merged];
    }
  }
  return bridging.sort((a, b) => a - b);
}

describe('windowedCount and windowedAggregate equal Spark Structured Streaming 3.5 row for row (allowMultiple=false, append)', function () {
  let run: SparkRun;
  let unplanned: SparkResult;
  let sessionResults: SparkResult[];
  let completeSessions: SparkResult;
  let updateSessions: SparkResult;
  let unplannedSessions: SparkResult;

  before(async function () {
    this.timeout(600_000);
    run = await runSparkQueries(
      [
        ...cases.map(({ events, query }) => ({ events, query })),
        { events: slidingReadings, query: { ...sliding, batches: unplannedBatches } },
        ...sessionCases.map(({ events, query }) => ({ events, query })),
        { events: completeSessionEvents, query: completeSessionQuery },
        { events: sessionReadings, query: { ...sessionQuery, outputMode: 'update', expectRefusal: true } },
        {
          events: generatedSessionReadings,
          query: { sessionGap, watermarkDelay: 20 * SECOND, batches: unplannedSessionBatches },
        },
      ],
      // Side by side: the JVM uses about one core for one query at a time (28 s instead of 38 s
      // for the window queries alone; about 330 micro-batches with the session queries, which
      // took 180 s here at a load of 3 to 4). Stopped before the hook's timeout, so that a
      // stuck Spark fails the hook, not the leak check.
      { parallel: true, timeoutMs: 570_000 },
    );
    unplanned = run.results[cases.length]!;
    const sessionsFrom = cases.length + 1;
    sessionResults = run.results.slice(sessionsFrom, sessionsFrom + sessionCases.length);
    [completeSessions, updateSessions, unplannedSessions] = run.results.slice(sessionsFrom + sessionCases.length) as [
      SparkResult,
      SparkResult,
      SparkResult,
    ];
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

  describe('session windows', () => {
    sessionCases.forEach((sessionCase, index) => {
      it(`${sessionCase.name}: the same rows (start, end, key, count, sum, min, max, mean), and the same events late`, () => {
        const { events, query, lateRule } = sessionCase;
        const spark = sessionResults[index]!;
        expect(
          batchingDifferences(events, query, query.batches ?? events.map(() => 1)),
          'the batches meet the condition',
        ).to.deep.equal([]);
        expect(spark.dataBatches, 'Spark read every micro-batch, and the closing one').to.equal(
          (query.batches?.length ?? events.length) + 1,
        );
        expect(spark.inputRows.at(-1), "the no-data batch after the closing event's").to.equal(0);
        const ours = ourSessions(events, query, lateRule, spark.closingEvent);
        expect(ours.rows.map(showOurSession).sort()).to.deep.equal(spark.rows.map(showSparkSession).sort());
        expect(
          ours.counted.map((r) => showRow(r.windowStart.getTime(), r.windowEnd.getTime(), r.key, r.count)).sort(),
        ).to.deep.equal(spark.rows.map((r) => showRow(r.windowStart, r.windowEnd, r.key, r.count)).sort());
        const dropped = sparkDropped(events, spark);
        expect(ours.lateIds).to.deep.equal(dropped);
        if (dropped.length > 0) expect(spark.droppedByWatermark, 'Spark says it dropped rows').to.be.greaterThan(0);
        // Spark's sessions start at their first event and end gap after their last.
        for (const row of spark.rows) {
          const times = row.eventIds.map((id) => events[id]!.t);
          expect([row.windowStart, row.windowEnd]).to.deep.equal([
            Math.min(...times),
            Math.max(...times) + query.sessionGap,
          ]);
        }
      });
    });

    it('the cases cover what matters: readings that join sessions, late events, late under one rule and not the other', () => {
      const late = (index: number) => sparkDropped(sessionCases[index]!.events, sessionResults[index]!);
      const bridging = (index: number) =>
        bridgingEvents(sessionCases[index]!.events, sessionResults[index]!, sessionCases[index]!.query.sessionGap);
      expect(
        bridging(0),
        'the hand-made readings: 60 s joins 80 s, then 35 s joins [0, 40) and [60, 110)',
      ).to.deep.equal([5]);
      expect(sessionResults[0]!.rows.map((r) => [r.key, r.eventIds])).to.deep.equal([
        ['sensor-a', [0, 1, 3, 4, 5]],
        ['sensor-b', [2]],
        ['sensor-b', [6]],
      ]);
      for (const [index, joined, sessions] of [
        [1, 3, 20],
        [2, 1, 5],
      ] as const) {
        const name = sessionCases[index]!.name;
        expect(late(index).length, `${name}: late events`).to.be.at.least(5);
        expect(bridging(index).length, `${name}: readings that joined sessions`).to.be.at.least(joined);
        expect(sessionResults[index]!.rows.length, `${name}: sessions`).to.be.at.least(sessions);
      }
      // Under 'spark-3.4' Spark counts events that the 'spark-2.4' rule would drop.
      const { events, query } = sessionCases[3]!;
      const strict = ourSessions(events, query, 'spark-2.4', sessionResults[3]!.closingEvent);
      expect(strict.lateIds.length, "late under 'spark-2.4'").to.be.greaterThan(late(3).length);
    });

    it('complete mode: the table after the last batch is our last complete output, every session kept, the late events dropped all the same', () => {
      const ours = ourSessions(completeSessionEvents, completeSessionQuery, 'spark-2.4', completeSessions.closingEvent);
      expect(completeSessions.microBatches, 'no no-data batch in complete mode').to.equal(completeSessions.dataBatches);
      expect(ours.rows.map(showOurSession).sort()).to.deep.equal(completeSessions.rows.map(showSparkSession).sort());
      const dropped = sparkDropped(completeSessionEvents, completeSessions);
      expect(dropped.length, 'complete mode drops late events too').to.be.at.least(2);
      expect(ours.lateIds).to.deep.equal(dropped);
      expect(ours.state.openWindows - 1, 'every session kept, the closing one aside').to.equal(ours.rows.length);
    });

    it('update mode: Spark refuses it for session windows, and so do we, saying so', () => {
      expect(updateSessions.refused).to.match(/Update output mode not supported for session window/);
      expect(
        () =>
          new SessionCountState<SparkEvent, string>(
            { eventTime: (e) => e.t, key: (e) => e.key, sessionGap, watermarkDelay: MINUTE, outputMode: 'update' },
            () => {},
          ),
      ).to.throw(
        RangeError,
        /Spark refuses it for session windows \("Update output mode not supported for session window"\)/,
      );
    });

    it('batches that break the condition: Spark gives other rows or drops, so the comparison sees it', () => {
      const query: SparkSessionQuery = { sessionGap, watermarkDelay: 20 * SECOND, batches: unplannedSessionBatches };
      expect(batchingDifferences(generatedSessionReadings, query, unplannedSessionBatches).length).to.be.greaterThan(0);
      const ours = ourSessions(generatedSessionReadings, query, 'spark-2.4', unplannedSessions.closingEvent);
      const same =
        JSON.stringify(ours.rows.map(showOurSession).sort()) ===
          JSON.stringify(unplannedSessions.rows.map(showSparkSession).sort()) &&
        JSON.stringify(ours.lateIds) === JSON.stringify(sparkDropped(generatedSessionReadings, unplannedSessions));
      expect(same).to.equal(false);
    });
  });
});
