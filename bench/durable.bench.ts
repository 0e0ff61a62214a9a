/**
 * The cost of the aggregator's durability (issue 10), on the bench's Mosquitto, QoS 1.
 *
 * Throughput: the non-durable pipeline `fromMqtt → decodeIotPayload → parseAccessLog →
 * windowedCount` (the baseline) against `durableWindowedCount` with durability
 * `'process'` (one write(2) per batch of messages before their PUBACKs) and `'power'`
 * (plus one fsync per batch), append mode, all in this process, in interleaved rounds. Each round, as
 * in mqtt-aggregate.bench.ts, the publisher child fills a persistent session's queue
 * with real-corpus payloads, then the pipeline under test resumes the session and
 * drains it; the rate is messages handled per second, first to last. The durable
 * pipeline's writer acknowledges every row at once, and its state directory is a
 * fresh temporary one per round.
 *
 * Restart: a child process fills a state directory until 3 windows are open and the
 * journal holds N records, and is SIGKILLed. Each round copies that directory, queues
 * one new message in a fresh persistent session, and times, in a fresh child
 * process, subscribing the durable pipeline until that message is counted (restore,
 * checkpoint, connect, resume, one message). Baseline: the same start on an empty
 * state directory.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { encodeIotPayload, LiveStatistics, makeIotPayload, registerStatistics, serveStatus } from '../src/index.js';
import {
  DrainClock,
  compare,
  interleave,
  median,
  pairedRatio,
  sleep,
  spreadNote,
  waitForDrain,
  type BenchContext,
  type BenchResult,
  type Benchmark,
  type Interleaved,
} from './harness.js';
import { allCorpusLines } from './corpus.js';
import { DurableChild, type RestartReport } from './durable-child.js';
import { durableAggregator, persistentSessionOptions, plainAggregator } from './durable-pipeline.js';
import { endSession, makeSession } from './sessions.js';
import { FIRST_EVENT_TIME } from './events.js';
import { PublisherControl } from './mqtt-publisher.js';

/**
 * `observed`: `process` with live statistics on, served at /metrics and scraped every
 * second. `kept`: `process` with the late table and the dead-letter topic on.
 */
type Pipeline = 'plain' | 'process' | 'power' | 'observed' | 'kept';

export const durableBench: Benchmark = {
  name: 'durable',
  async run(context): Promise<BenchResult[]> {
    const broker = await context.mosquitto();
    return [...(await throughput(context, broker.url)), ...(await restartTimes(context, broker.url))];
  },
};

async function throughput(context: BenchContext, url: string): Promise<BenchResult[]> {
  const full = context.mode === 'full';
  // One fsync (0.5–2 ms on this disk) per batch, not per message: 'power' drains as many
  // messages a round as the others.
  const counts: Record<Pipeline, number> = {
    plain: full ? 50_000 : 10_000,
    process: full ? 50_000 : 10_000,
    power: full ? 50_000 : 10_000,
    observed: full ? 50_000 : 10_000,
    kept: full ? 50_000 : 10_000,
  };
  const publisher = await PublisherControl.start(url);
  try {
    let serial = 0;
    const shortfall: Record<Pipeline, number> = { plain: 0, process: 0, power: 0, observed: 0, kept: 0 };
    const round = (pipeline: Pipeline) => async (): Promise<number> => {
      const outcome = await drainRound(
        context,
        url,
        publisher,
        pipeline,
        `${pipeline}-${process.pid}-${serial++}`,
        counts[pipeline],
      );
      shortfall[pipeline] += counts[pipeline] - outcome.handled;
      return outcome.rate;
    };
    // Every message is QoS 1 in a persistent session: none may be missing.
    const missing = (pipeline: Pipeline): string =>
      shortfall[pipeline] + shortfall.plain === 0
        ? ''
        : `; NOT SEEN: ${shortfall[pipeline]} messages (baseline ${shortfall.plain})`;
    const measured = await interleave(
      {
        plain: round('plain'),
        process: round('process'),
        power: round('power'),
        observed: round('observed'),
        kept: round('kept'),
      },
      { rounds: full ? 7 : 3, warmup: 1 },
    );
    const baselineName = 'windowedCount pipeline';
    return [
      compare(
        "durable aggregator 'process', QoS 1",
        measured.process,
        measured.plain,
        'msg/s',
        0.8,
        baselineName,
        `${counts.process} messages a round (baseline ${counts.plain}), a write(2) per batch${missing('process')}`,
      ),
      {
        ...compare(
          "durable aggregator 'power', QoS 1",
          measured.power,
          measured.plain,
          'msg/s',
          0,
          baselineName,
          `${counts.power} messages a round (baseline ${counts.plain}), an fsync per batch${missing('power')}`,
        ),
        target: 'reported',
        ok: undefined,
      },
      compare(
        "durable aggregator 'process' with the late table and dead letters on, QoS 1",
        measured.kept,
        measured.plain,
        'msg/s',
        0.8,
        baselineName,
        `${counts.kept} messages a round (baseline ${counts.plain}), late counts kept and rejected messages dead-lettered${missing('kept')}`,
      ),
      compare(
        "durable aggregator 'process' with /metrics scraped every second",
        measured.observed,
        measured.process,
        'msg/s',
        0.95,
        "durable 'process' without",
        `${counts.observed} messages a round, every stage's statistics on a prom-client registry with the default process metrics, served by serveStatus${missing('observed')}`,
      ),
    ];
  } finally {
    await publisher.stop();
  }
}

/**
 * One throughput round: a persistent session (fresh client id and topic) is made
 * with the subscription and left; the publisher child queues the burst at the broker;
 * the pipeline under test resumes the session and drains the queue.
 */
async function drainRound(
  context: BenchContext,
  url: string,
  publisher: PublisherControl,
  pipeline: Pipeline,
  name: string,
  count: number,
): Promise<{ rate: number; handled: number }> {
  const topic = `bench/durable/${name}`;
  const session = persistentSessionOptions(url, `bench-durable-${name}`);
  await makeSession(url, session.clientId, topic);
  await publisher.run({ kind: 'burst', topic, qos: 1, count, window: 100 });

  const stateDirectory = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-durable-')); // the durable pipelines' only
  const clock = new DrainClock();
  const onHandled = clock.tick;
  const ignore = (): void => undefined;
  let failure: unknown;
  const observer = { error: (error: unknown) => void (failure = error) };
  const scraped = pipeline === 'observed' ? await scrapedEverySecond() : undefined;
  const subscription =
    pipeline === 'plain'
      ? plainAggregator(session, topic, onHandled, ignore).subscribe(observer)
      : durableAggregator(session, topic, {
          stateDirectory,
          durability: pipeline === 'power' ? 'power' : 'process',
          onHandled,
          onReject: ignore,
          ...(scraped === undefined ? {} : { statistics: scraped.statistics }),
          ...(pipeline === 'kept' ? { keepRejected: { deadLetterTopic: `${topic}/dead-letters` } } : {}),
        }).subscribe(observer);
  try {
    await waitForDrain(context, topic, count, () => clock.handled, { failed: () => failure !== undefined });
  } finally {
    subscription.unsubscribe();
    await scraped?.stop();
    await sleep(50); // the owned client's DISCONNECT goes out asynchronously
    await endSession(url, session.clientId);
    rmSync(stateDirectory, { recursive: true, force: true });
  }
  if (failure !== undefined) throw failure;
  const rate = clock.rate();
  context.log(`${topic}: ${(rate / 1000).toFixed(1)} k msg/s`);
  return { rate, handled: clock.handled };
}

/**
 * What `aggregate --http` runs beside the pipeline: the statistics on a prom-client
 * registry with the default process metrics, served by serveStatus, and a scraper
 * reading /metrics every second as Prometheus would.
 */
async function scrapedEverySecond(): Promise<{ statistics: LiveStatistics; stop(): Promise<void> }> {
  const statistics = new LiveStatistics();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerStatistics(registry, statistics);
  const server = await serveStatus({ port: 0, statistics, metrics: registry });
  let scrapes = 0;
  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`);
    if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
    await response.text();
    scrapes++;
  };
  let failed: unknown;
  await scrape(); // one before the drain: a short quick-mode round may end before the first tick
  const timer = setInterval(() => void scrape().catch((error: unknown) => (failed ??= error)), 1_000);
  return {
    statistics,
    async stop() {
      clearInterval(timer);
      await server.close();
      registry.clear();
      if (failed !== undefined) throw failed;
      if (scrapes === 0) throw new Error('/metrics was never scraped');
    },
  };
}

/**
 * Journal lengths restarted from: a mid-way journal, and the longest the default
 * `checkpointEvery` (10,000) leaves. Quick mode restarts from the longest only: each
 * restart is a fresh process, and forking one through tsx takes a second or two.
 */
const JOURNAL_RECORDS = { full: [5_000, 9_999], quick: [9_999] } as const;
/** The filling messages' event times span 170 s from a minute boundary: 3 windows, all open under a 2-minute watermark. */
const FILL_SPAN_MS = 170_000;
/** The message the restart waits for: in the third window, so counted (not late) after a restore and on an empty state alike. */
const NEW_EVENT_TIME = FIRST_EVENT_TIME + 175_000;

interface FilledState {
  readonly directory: string;
  readonly records: number;
  readonly openWindows: number;
  readonly checkpointBytes: number;
}

async function restartTimes(context: BenchContext, url: string): Promise<BenchResult[]> {
  const full = context.mode === 'full';
  const scratch = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-durable-restart-'));
  try {
    const filled = new Map<number, FilledState>();
    for (const records of JOURNAL_RECORDS[context.mode])
      filled.set(records, await fillAndCrash(context, url, scratch, records));

    const warmup = full ? 1 : 0;
    const reports = new Map<string, RestartReport[]>();
    let serial = 0;
    const round = (variant: string, from: FilledState | undefined) => async (): Promise<number> => {
      const report = await restartRound(context, url, scratch, from, serial++);
      reports.set(variant, [...(reports.get(variant) ?? []), report]);
      return report.totalMs;
    };
    const variants: Record<string, () => Promise<number>> = { empty: round('empty', undefined) };
    for (const [records, state] of filled) variants[`journal ${records}`] = round(`journal ${records}`, state);
    const measured = await interleave(variants, { rounds: full ? 7 : 3, warmup });

    const measuredReports = (variant: string): RestartReport[] => (reports.get(variant) ?? []).slice(warmup);
    const restoreMs = (variant: string): number => median(measuredReports(variant).map((report) => report.restoreMs));
    const empty = measured['empty']!;
    return [...filled].map(([records, state]) => {
      const variant = `journal ${records}`;
      const ours = measured[variant]!;
      const replayed = measuredReports(variant).map((report) => report.replayedRecords);
      const open = measuredReports(variant).map((report) => report.openWindows);
      const note = [
        spreadNote(ours, empty),
        `restore ${restoreMs(variant).toFixed(1)} ms of it, ${restoreMs('empty').toFixed(1)} ms on an empty state`,
        `${state.records} journal records (replayed ${[...new Set(replayed)].join('/')}), ${[...new Set(open)].join('/')} open windows, checkpoint ${state.checkpointBytes} B`,
      ].join('; ');
      return restartResult(`restart → first message after SIGKILL, ${records} journal records`, ours, empty, note);
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A report-only line for times (lower is better): medians, and the median of the per-round ratios. */
function restartResult(name: string, ours: Interleaved, baseline: Interleaved, note: string): BenchResult {
  return {
    name,
    ours: { value: ours.median, unit: 'ms' },
    baseline: { value: baseline.median, unit: 'ms' },
    ratio: pairedRatio(ours, baseline),
    target: 'reported (vs empty state)',
    note,
  };
}

/**
 * Fills a state directory with `records` messages whose event times open 3 windows,
 * in a child process that is then SIGKILLed (no graceful stop: the journal is all
 * the restart has), and checks what the crash left.
 */
async function fillAndCrash(
  context: BenchContext,
  url: string,
  scratch: string,
  records: number,
): Promise<FilledState> {
  const directory = join(scratch, `filled-${records}`);
  const clientId = `bench-durable-fill-${process.pid}-${records}`;
  const topic = `bench/durable/fill/${process.pid}-${records}`;
  await makeSession(url, clientId, topic);
  await publishScripted(url, topic, records, (i) => FIRST_EVENT_TIME + Math.floor((i * FILL_SPAN_MS) / records));
  const child = await DurableChild.start('fill', url, clientId, topic, directory, records);
  try {
    const report = await child.filled();
    await child.kill();
    const journal = readFileSync(join(directory, 'journal.log'), 'utf8');
    const lines = journal.split('\n').length - 1;
    const checkpointBytes = statSync(join(directory, 'checkpoint.json')).size;
    context.log(
      `filled ${directory}: ${report.messages} messages, ${report.openWindows} open windows, ${lines} journal records, ${report.checkpoints} checkpoints, then SIGKILL`,
    );
    if (lines !== records || report.openWindows !== 3) {
      context.log(
        `warning: expected ${records} journal records and 3 open windows (a checkpoint came early, or the event times moved)`,
      );
    }
    return { directory, records: lines, openWindows: report.openWindows, checkpointBytes };
  } finally {
    await child.kill();
    await endSession(url, clientId);
  }
}

/** One restart: a copy of `from` (or an empty directory), one new message queued in a fresh session, a fresh child timing the start. */
async function restartRound(
  context: BenchContext,
  url: string,
  scratch: string,
  from: FilledState | undefined,
  serial: number,
): Promise<RestartReport> {
  const directory = join(scratch, `restart-${serial}`);
  mkdirSync(directory);
  // The crashed process's files as it left them, lock file with its dead pid included.
  if (from !== undefined)
    for (const file of readdirSync(from.directory)) copyFileSync(join(from.directory, file), join(directory, file));
  const clientId = `bench-durable-restart-${process.pid}-${serial}`;
  const topic = `bench/durable/restart/${process.pid}-${serial}`;
  await makeSession(url, clientId, topic);
  await publishScripted(url, topic, 1, () => NEW_EVENT_TIME);
  const child = await DurableChild.start('restart', url, clientId, topic, directory);
  try {
    const report = await child.restart();
    context.log(
      `restart ${from === undefined ? 'empty' : `journal ${from.records}`}: ${report.totalMs.toFixed(1)} ms (restore ${report.restoreMs.toFixed(1)} ms, ${report.replayedRecords} replayed, ${report.openWindows} open windows)`,
    );
    return report;
  } finally {
    await child.kill();
    await endSession(url, clientId);
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Publishes `count` corpus lines at QoS 1 with event times `timeOf(i)`, 100 in flight. */
async function publishScripted(
  url: string,
  topic: string,
  count: number,
  timeOf: (i: number) => number,
): Promise<void> {
  const { lines } = allCorpusLines();
  const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  try {
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        await client.publishAsync(
          topic,
          encodeIotPayload(makeIotPayload(lines[i % lines.length]!, new Date(timeOf(i)))),
          {
            qos: 1,
          },
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(100, count) }, sender));
  } finally {
    await client.endAsync();
  }
}
