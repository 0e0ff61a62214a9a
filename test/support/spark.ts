// A real Spark Structured Streaming 3.5 as the windowed operators' test oracle: writes
// the events, runs test/spark/windowed_query.py (PySpark, local[2], allowMultiple=false,
// append mode) in the virtualenv scripts/install-test-deps made, and reads back Spark's
// output rows. What Spark does there and how its micro-batches relate to our one event
// at a time is written at the top of that script; planMicroBatches below picks batches
// for which the two must agree.
//
// What it costs, measured here (2 cores, other work running): the JVM starts in 3 to 4 s;
// the first micro-batches of a run take about 1.5 s each while the JIT warms up (10 s for
// the first 6), later ones 0.4 to 0.5 s, nearly all CPU. So a test file gives all its
// queries to one runSparkQueries call, with `parallel` (one query keeps about one core
// busy), and keeps the micro-batches few: planMicroBatches makes them as long as the
// condition allows. test/windowSparkOracle.test.ts: 14 queries, about 330 micro-batches (the
// session queries 270 of them), 158 s and 137 s of CPU at a load of 3 to 4; its 8 window
// queries alone took 28 s.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from './childProcess.js';

/** The Spark release line the oracle must be (scripts/install-test-deps pins the release). */
export const SPARK_LINE = '3.5.';

const script = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'spark', 'windowed_query.py');

/** One input event: its event time, the key it is grouped by, the value aggregated. */
export interface SparkEvent {
  /** Event time, epoch milliseconds (an integer). */
  readonly t: number;
  readonly key: string;
  /** Summed, min'd, max'd and averaged; an integer. 0 when only counts matter. */
  readonly value: number;
  readonly client?: string;
}

interface SparkQueryCommon {
  /** Names the query in errors and in the summary; default `q<index>`. */
  readonly name?: string;
  /** `withWatermark`'s delay, in milliseconds. */
  readonly watermarkDelay: number;
  /**
   * Micro-batch sizes in event order, adding up to the number of events; default one event
   * per micro-batch (always equivalent to our processing, and the slowest: see
   * {@link planMicroBatches}).
   */
  readonly batches?: readonly number[];
  /** Spark's output mode; default `'append'`. Complete mode's rows are its table after the last batch. */
  readonly outputMode?: 'append' | 'complete' | 'update';
  /** `spark.sql.streaming.statefulOperator.allowMultiple` for this query (our lateRule `'spark-3.4'`); default `false`. */
  readonly allowMultiple?: boolean;
  /** Spark refusing the query when it starts is its result ({@link SparkResult.refused}), not a failure of the run. */
  readonly expectRefusal?: boolean;
}

/** `groupBy(window(ts, window, slide, offset), key)`: tumbling or sliding windows, durations in ms. */
export interface SparkWindowQuery extends SparkQueryCommon {
  readonly window: number;
  /** Default: `window` (tumbling). */
  readonly slide?: number;
  /** Spark's `startTime`; default 0. */
  readonly offset?: number;
}

/** `groupBy(session_window(ts, sessionGap), key)`, the gap in ms. */
export interface SparkSessionQuery extends SparkQueryCommon {
  readonly sessionGap: number;
}

export type SparkQuery = SparkWindowQuery | SparkSessionQuery;

/** One row Spark appended: a (window or session, key) with its aggregates, final. */
export interface SparkRow {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly key: string;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  /** Spark's `avg` (a double). */
  readonly avg: number;
  /** The indexes (in the events given) of the events Spark counted in this row, ascending. */
  readonly eventIds: readonly number[];
}

/** What one query gave. */
export interface SparkResult {
  /** Why Spark refused to start the query (its AnalysisException), for a query that expected it; no rows then. */
  readonly refused?: string;
  /** Every row Spark appended, ordered by window start, window end, key. */
  readonly rows: readonly SparkRow[];
  /** Micro-batches Spark ran: the data batches, then the no-data ones it added. */
  readonly microBatches: number;
  /** Micro-batches with data: those asked for, plus the closing event's. */
  readonly dataBatches: number;
  /** Rows read per micro-batch. */
  readonly inputRows: readonly number[];
  /** The watermark each micro-batch ran with, epoch ms (0 before the first). */
  readonly watermarks: readonly number[];
  /** Spark's numRowsDroppedByWatermark, added up (rows after its partial aggregation, not events). */
  readonly droppedByWatermark: number;
  /** The event after the last one that moved Spark's watermark past every window: push it to compare. */
  readonly closingEvent: SparkEvent;
  /** Wall time of the query, from start to its end. */
  readonly seconds: number;
}

/** A query with its events, for {@link runSparkQueries}. */
export interface SparkJob {
  readonly events: readonly SparkEvent[];
  readonly query: SparkQuery;
}

/** All the queries of one Spark run. */
export interface SparkRun {
  readonly results: readonly SparkResult[];
  /** PySpark's version, e.g. `3.5.9`. */
  readonly sparkVersion: string;
  /** From the script's start to a ready SparkSession (the JVM's start). */
  readonly startupSeconds: number;
  /** From the script's start to the last query's rows. */
  readonly totalSeconds: number;
  /** CPU time the JVM used up to the last query's rows (all threads): the run's cost, whatever the machine's load. */
  readonly jvmCpuSeconds: number;
  /** The python process from its start to its exit (JVM start and stop included), measured here. */
  readonly processSeconds: number;
}

/** Where scripts/install-test-deps puts the virtualenv; MQTT_IOT_STREAM_SPARK_VENV overrides it there and here. */
export function sparkVirtualenv(): string {
  return (
    process.env.MQTT_IOT_STREAM_SPARK_VENV ??
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mqtt-iot-stream', 'spark')
  );
}

/** The virtualenv's python; throws, saying to run scripts/install-test-deps, when there is none. */
export function sparkPython(): string {
  const python = join(sparkVirtualenv(), 'bin', 'python');
  if (!existsSync(python)) {
    throw new Error(
      `no PySpark virtualenv at ${sparkVirtualenv()} (no ${python}): run scripts/install-test-deps, which installs ` +
        'pyspark there (or set MQTT_IOT_STREAM_SPARK_VENV to a virtualenv that has pyspark 3.5)',
    );
  }
  return python;
}

/**
 * Runs each job's query in one Spark (one JVM), one query after the other (or side by
 * side with `parallel`), each on its own source folder and checkpoint. Rejects when
 * PySpark is missing or not 3.5, or when Spark fails, with the end of what it printed.
 */
export async function runSparkQueries(
  jobs: readonly SparkJob[],
  options: { readonly parallel?: boolean; readonly timeoutMs?: number } = {},
): Promise<SparkRun> {
  const python = sparkPython();
  const dir = mkdtempSync(join(tmpdir(), 'spark-oracle-'));
  try {
    const queries = jobs.map(({ events, query }, index) => {
      const file = `events-${index}.jsonl`;
      writeFileSync(join(dir, file), events.map((event) => JSON.stringify(checkedEvent(event, index))).join('\n'));
      return { ...query, name: query.name ?? `q${index}`, events: file };
    });
    writeFileSync(join(dir, 'request.json'), JSON.stringify({ queries, parallel: options.parallel ?? false }));
    const output = join(dir, 'rows.jsonl');
    const started = performance.now();
    const spark = start(python, [script, join(dir, 'request.json'), '--output', output], {
      cwd: dir,
      env: { ...process.env, SPARK_LOCAL_IP: '127.0.0.1', PYTHONUNBUFFERED: '1' },
    });
    spark.child.stdin?.end();
    const ended = await spark.exit(options.timeoutMs ?? 600_000);
    if (ended.code !== 0) {
      const printed = `${spark.stdout()}${spark.stderr()}`.trim().split('\n').slice(-30).join('\n');
      throw new Error(`Spark (${python} ${script}) exited with ${ended.code ?? ended.signal}:\n${printed}`);
    }
    const processSeconds = (performance.now() - started) / 1000;
    return { ...parseRun(readFileSync(output, 'utf8'), jobs.length), processSeconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One query in a Spark run of its own. */
export async function runSparkQuery(events: readonly SparkEvent[], query: SparkQuery): Promise<SparkResult> {
  return (await runSparkQueries([{ events, query }])).results[0]!;
}

function checkedEvent(event: SparkEvent, job: number): SparkEvent {
  if (!Number.isSafeInteger(event.t) || !Number.isSafeInteger(event.value) || typeof event.key !== 'string') {
    throw new Error(`runSparkQueries: job ${job} has an event Spark cannot take as given: ${JSON.stringify(event)}`);
  }
  return { t: event.t, key: event.key, value: event.value, client: event.client ?? '' };
}

interface SummaryLine {
  readonly query: string;
  readonly summary: Omit<SparkResult, 'rows'>;
}

function parseRun(text: string, queries: number): Omit<SparkRun, 'processSeconds'> {
  const rows: SparkRow[] = [];
  const results: SparkResult[] = [];
  let run: Omit<SparkRun, 'results' | 'processSeconds'> | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const record = JSON.parse(line) as (SparkRow & { query: string }) | SummaryLine | Record<string, unknown>;
    if ('summary' in record) {
      const refusal = {
        microBatches: 0,
        dataBatches: 0,
        inputRows: [],
        watermarks: [],
        droppedByWatermark: 0,
        seconds: 0,
      };
      results.push({ ...refusal, ...(record as SummaryLine).summary, rows: rows.splice(0) });
    } else if ('spark' in record) {
      run = {
        sparkVersion: String(record.spark),
        startupSeconds: Number(record.startupSeconds),
        totalSeconds: Number(record.totalSeconds),
        jvmCpuSeconds: Number(record.jvmCpuSeconds),
      };
    } else {
      const { query: _query, ...row } = record as SparkRow & { query: string };
      rows.push(row);
    }
  }
  if (run === undefined || results.length !== queries) {
    throw new Error(`the Spark run ended without all its output (${results.length} of ${queries} queries):\n${text}`);
  }
  if (!run.sparkVersion.startsWith(SPARK_LINE)) {
    throw new Error(
      `the oracle must be Spark ${SPARK_LINE}x, the virtualenv ${sparkVirtualenv()} has pyspark ${run.sparkVersion}: ` +
        'run scripts/install-test-deps',
    );
  }
  return { ...run, results };
}

/** The windows Spark puts an event time in: `[start, end)` pairs, earliest first. */
export function sparkWindowsOf(t: number, query: SparkWindowQuery): [number, number][] {
  const slide = query.slide ?? query.window;
  const offset = query.offset ?? 0;
  const lastStart = t - ((((t - offset) % slide) + slide) % slide);
  const windows: [number, number][] = [];
  for (let start = lastStart; start > t - query.window; start -= slide) windows.unshift([start, start + query.window]);
  return windows;
}

/**
 * The events (indexes) that Spark, fed in `batches`, may judge otherwise than we do one
 * at a time: for a window query, an event in a window whose end lies between the
 * watermark its micro-batch started with and the watermark we hold when it arrives; for a
 * session query, an event after the first of its batch that arrives with another
 * watermark than the batch's, or that could touch a session ended by it (see
 * windowed_query.py for both conditions).
 */
export function batchingDifferences(
  events: readonly Pick<SparkEvent, 't'>[],
  query: SparkQuery,
  batches: readonly number[],
): number[] {
  const differing: number[] = [];
  let index = 0;
  let largestBefore = -Infinity; // the largest event time of the earlier micro-batches
  for (const size of batches) {
    let largest = largestBefore;
    for (let i = 0; i < size; i++, index++) {
      const event = events[index]!;
      if (i > 0 && differs(event.t, query, largestBefore, largest)) differing.push(index);
      largest = Math.max(largest, event.t);
    }
    largestBefore = largest;
  }
  return differing;
}

function differs(t: number, query: SparkQuery, largestBefore: number, largestSoFar: number): boolean {
  const sparkWatermark = Math.max(0, largestBefore - query.watermarkDelay);
  const ourWatermark = largestSoFar - query.watermarkDelay;
  if ('sessionGap' in query) {
    // With allowMultiple Spark judges a whole batch late by the watermark of the batch
    // before, and we each event by the previous event's: one event a batch.
    if (query.allowMultiple === true) return true;
    const lateForBoth = t + query.sessionGap <= sparkWatermark;
    return ourWatermark !== sparkWatermark || !(lateForBoth || t > sparkWatermark);
  }
  return (
    sparkWatermark < ourWatermark &&
    sparkWindowsOf(t, query).some(([, end]) => end > sparkWatermark && end <= ourWatermark)
  );
}

/**
 * Micro-batch sizes for `events` under which Spark must count what we count: each batch
 * as long as possible (at most `maxBatchSize`), cut just before an event that
 * {@link batchingDifferences} would name.
 */
export function planMicroBatches(
  events: readonly Pick<SparkEvent, 't'>[],
  query: SparkQuery,
  maxBatchSize = Infinity,
): number[] {
  const batches: number[] = [];
  let size = 0;
  let largestBefore = -Infinity;
  let largest = -Infinity;
  for (const event of events) {
    if (size > 0 && (size >= maxBatchSize || differs(event.t, query, largestBefore, largest))) {
      batches.push(size);
      size = 0;
      largestBefore = largest;
    }
    size++;
    largest = Math.max(largest, event.t);
  }
  if (size > 0) batches.push(size);
  return batches;
}
