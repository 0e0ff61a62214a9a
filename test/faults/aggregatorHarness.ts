// The fault-injection harness: the real `mqtt-iot-stream aggregate` command as a child
// process, a QoS 1 publisher sending corpus lines with scripted event times, and the
// final table compared cell by cell with what was sent.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { policies, type Client } from 'cassandra-driver';
import type { MqttClient } from 'mqtt';
import {
  encodeIotPayload,
  ensureWindowCountTable,
  makeIotPayload,
  parseAccessLogLine,
  readWindowAggregates,
  readWindowTotals,
} from '../../src/index.js';
import { cliPath as cli } from '../support/cli.js';
import { corpusLines } from '../support/corpora.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { closeClients, testClient } from '../support/mqttHelpers.js';
import { waitFor } from '../support/waitFor.js';

/** Client options that try a node again within 5 s once it is back (the driver's default waits up to 10 minutes). */
export const quickReconnection = {
  policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(500, 5_000) },
};

export const TOPIC = 'faults/gpiotopic';
export const MINUTE = 60_000;

/** One message the publisher sends: its event time and its access-log line. */
export interface SentEvent {
  readonly time: number;
  readonly line: string;
  readonly status: number;
}

/** Events with event times spread over `minutes`, jittered by up to ±20 s (under the 2-minute watermark: none late). */
export function scriptedEvents(lines: readonly string[], count: number, start: number, minutes: number): SentEvent[] {
  const step = (minutes * MINUTE) / count;
  return Array.from({ length: count }, (_, i) => {
    const line = lines[i % lines.length] as string;
    const jitter = (((i * 7919) % 41) - 20) * 1000;
    return {
      time: Math.max(start, Math.round(start + i * step + jitter)),
      line,
      status: Number(/" (\d{3}) /.exec(line)?.[1]),
    };
  });
}

/** Expected counts per `windowStart/status`, 1-minute windows. */
export function expectedCounts(events: readonly SentEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { time, status } of events) {
    const id = `${time - (time % MINUTE)}/${status}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** What the table holds against what was sent: events lost and events counted twice, separately. */
export interface Comparison {
  readonly expected: number;
  readonly counted: number;
  readonly lost: number;
  readonly doubled: number;
  /** Cells that differ, for the failure message. */
  readonly differences: string[];
}

export async function compareTable(
  cassandra: Client,
  table: string,
  expected: Map<string, number>,
  before: number,
): Promise<Comparison> {
  const actual = new Map<string, number>();
  for (const total of await readWindowTotals(cassandra, { keyspace: 'hyper', table })) {
    if (total.windowStart.getTime() >= before) continue; // the closing event's window
    actual.set(`${total.windowStart.getTime()}/${total.status}`, total.count);
  }
  return compareCounts(expected, actual);
}

/** Counts per `windowStart/status` against the expected ones: lost and counted twice, separately. */
export function compareCounts(expected: Map<string, number>, actual: Map<string, number>): Comparison {
  let lost = 0;
  let doubled = 0;
  let counted = 0;
  const differences: string[] = [];
  for (const id of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(id) ?? 0;
    const got = actual.get(id) ?? 0;
    counted += got;
    if (got < want) lost += want - got;
    if (got > want) doubled += got - want;
    if (got !== want)
      differences.push(
        `${new Date(Number(id.split('/')[0])).toISOString()} status ${id.split('/')[1]}: ${got} (sent ${want})`,
      );
  }
  return { expected: [...expected.values()].reduce((a, b) => a + b, 0), counted, lost, doubled, differences };
}

/** Polls the table until it matches, or until it stopped changing for `quietMs` (then returns what it holds). */
export function settledComparison(
  cassandra: Client,
  table: string,
  expected: Map<string, number>,
  before: number,
  quietMs = 15_000,
  deadlineMs = 180_000,
): Promise<Comparison> {
  return settled(() => compareTable(cassandra, table, expected, before), quietMs, deadlineMs);
}

/** Runs `compare` until nothing is lost or doubled, or until its result stopped changing for `quietMs`. */
async function settled<C extends Comparison>(
  compare: () => Promise<C>,
  quietMs = 15_000,
  deadlineMs = 180_000,
): Promise<C> {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  let lastChange = Date.now();
  for (;;) {
    let comparison: C;
    try {
      comparison = await compare();
    } catch (error) {
      // The test's own client may still be reconnecting to a node that came back.
      if (Date.now() > deadline) throw error;
      await sleep(1_000);
      continue;
    }
    if (comparison.differences.length === 0) return comparison;
    const signature = `${comparison.counted}/${comparison.differences.join('|')}`;
    if (signature !== last) {
      last = signature;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange > quietMs || Date.now() > deadline) return comparison;
    await sleep(500);
  }
}

/** The sum and the largest of the bytes per `windowStart/status`, 1-minute windows, beside the count. */
interface BytesCell {
  count: number;
  sum: number;
  max: number;
}

/** Events' bytes per `windowStart/status`, 1-minute windows. */
export function expectedBytes(events: readonly SentEvent[]): Map<string, BytesCell> {
  const cells = new Map<string, BytesCell>();
  for (const { time, status, line } of events) {
    const parsed = parseAccessLogLine(line);
    if (parsed._tag === 'Left') throw new Error(`not an access-log line: ${line}`);
    const bytes = parsed.right.bytes;
    const id = `${time - (time % MINUTE)}/${status}`;
    const cell = cells.get(id);
    if (cell === undefined) cells.set(id, { count: 1, sum: bytes, max: bytes });
    else {
      cell.count++;
      cell.sum += bytes;
      cell.max = Math.max(cell.max, bytes);
    }
  }
  return cells;
}

/**
 * The aggregate table's merged rows against the events sent: lost and counted twice from
 * the counts, separately, and every cell whose sum or max of bytes differs (a value folded
 * in twice or not at all shows there even when counts happen to balance).
 */
export async function settledAggregateComparison(
  cassandra: Client,
  table: string,
  events: readonly SentEvent[],
  before: number,
): Promise<Comparison & { readonly valueDifferences: number }> {
  const expected = expectedBytes(events);
  return settled(async () => {
    const actual = new Map<string, BytesCell>();
    for (const total of await readWindowAggregates(cassandra, { keyspace: 'hyper', table })) {
      if (total.windowStart.getTime() >= before) continue; // the closing event's window
      const { count, sum, max } = total.aggregates;
      actual.set(`${total.windowStart.getTime()}/${total.status}`, { count, sum: sum ?? NaN, max: max ?? NaN });
    }
    const counts = (cells: Map<string, BytesCell>) => new Map([...cells].map(([id, cell]) => [id, cell.count]));
    const comparison = compareCounts(counts(expected), counts(actual));
    const valueDifferences: string[] = [];
    for (const [id, want] of expected) {
      const got = actual.get(id);
      if (got !== undefined && got.count === want.count && (got.sum !== want.sum || got.max !== want.max))
        valueDifferences.push(
          `${new Date(Number(id.split('/')[0])).toISOString()} status ${id.split('/')[1]}: sum ${got.sum} max ${got.max} (sent sum ${want.sum} max ${want.max})`,
        );
    }
    return {
      ...comparison,
      differences: [...comparison.differences, ...valueDifferences],
      valueDifferences: valueDifferences.length,
    };
  });
}

/** A comparison's failure message: the counts, the first 20 cells that differ, then `output` (what the aggregators printed). */
export function describeDifferences(comparison: Comparison, output: string): string {
  return `lost ${comparison.lost}, double-counted ${comparison.doubled}:\n${comparison.differences.slice(0, 20).join('\n')}\n${output}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Publishes each event at QoS 1, at most `rate` a second, and resolves when the broker acknowledged every one. */
export async function publishEvents(
  client: MqttClient,
  events: readonly SentEvent[],
  rate: number,
  onProgress?: (sent: number) => void,
): Promise<void> {
  const started = Date.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < events.length; i++) {
    const { time, line } = events[i] as SentEvent;
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    const publish = client.publishAsync(TOPIC, encodeIotPayload(makeIotPayload(line, new Date(time))), { qos: 1 });
    inFlight.add(publish);
    void publish.finally(() => inFlight.delete(publish));
    if (inFlight.size >= 100) await Promise.race(inFlight);
    onProgress?.(i + 1);
  }
  await Promise.all(inFlight);
}

/** {@link publishEvents} under way: what it has published so far, and its end. */
export interface Publishing {
  /** Resolves when the broker acknowledged every event. */
  readonly done: Promise<void>;
  /** How many were published so far. */
  sent(): number;
  /** Waits until `count` were published (failing after `timeoutMs`, naming `what`); resolves with how many were. */
  reach(count: number, what: string, timeoutMs: number): Promise<number>;
}

/** Starts {@link publishEvents} and returns at once, for a case that does something to the aggregator meanwhile. */
export function startPublishing(client: MqttClient, events: readonly SentEvent[], rate: number): Publishing {
  let published = 0;
  const done = publishEvents(client, events, rate, (sent) => {
    published = sent;
  });
  return {
    done,
    sent: () => published,
    async reach(count, what, timeoutMs) {
      await waitFor(() => published >= count, what, timeoutMs);
      return published;
    },
  };
}

/** The aggregate command, running. */
export interface AggregatorProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** Resident memory in MB now, from /proc. */
  rssMb(): number;
}

export function startAggregate(args: string[]): AggregatorProcess {
  const child = spawn(process.execPath, [cli, 'aggregate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  return {
    child,
    output: () => output,
    exited,
    rssMb: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
  };
}

/** Something that keeps the broker's log, as test/support/mosquitto.ts's broker does. */
export interface LoggingBroker {
  log(): string;
}

/** One aggregator across restarts: the same arguments (id, state directory, session) each start. */
export interface AggregatorRunner {
  /** Starts the command and resolves once the broker has its subscription (from then on its session queues). */
  start(): Promise<AggregatorProcess>;
  /** Signals the running process and resolves with its exit code or signal. */
  kill(signal: NodeJS.Signals): Promise<number | NodeJS.Signals>;
  current(): AggregatorProcess;
  /** Every process started, oldest first (their output survives them). */
  readonly processes: readonly AggregatorProcess[];
}

/**
 * Runs `aggregate args` as the MQTT client `clientId` subscribing to `topic` (for a
 * shared subscription, `$share/<group>/<topic>`, as the broker logs it).
 */
export function aggregatorRunner(
  broker: LoggingBroker,
  args: readonly string[],
  clientId: string,
  topic: string,
): AggregatorRunner {
  const processes: AggregatorProcess[] = [];
  const current = () => {
    const last = processes.at(-1);
    if (last === undefined) throw new Error(`${clientId} was never started`);
    return last;
  };
  return {
    processes,
    current,
    async start() {
      const logBefore = broker.log().length;
      const started = startAggregate([...args]);
      processes.push(started);
      await waitFor(
        () => {
          if (started.child.exitCode !== null)
            throw new Error(`the aggregator ${clientId} exited at start:\n${started.output()}`);
          return broker.log().slice(logBefore).includes(`${clientId} 1 ${topic}`);
        },
        () => `the aggregator ${clientId} to subscribe; its output:\n${started.output()}`,
        60_000,
        20,
      );
      return started;
    },
    async kill(signal) {
      const running = current();
      running.child.kill(signal);
      return running.exited;
    },
  };
}

/** What cassandraSink reported in an aggregator's output (its default `onOutage` lines). */
export interface SinkOutages {
  /** Outages that started ("failing since"). */
  readonly started: number;
  /** Outages that ended ("work again after"). */
  readonly ended: number;
  /** Retries the ended outages took, summed. */
  readonly retries: number;
  /** How long each ended outage lasted, in seconds. */
  readonly durations: readonly number[];
  /** The cause each started outage named. */
  readonly causes: readonly string[];
}

export function sinkOutages(output: string): SinkOutages {
  const causes = [...output.matchAll(/Cassandra: writes to \S+ failing since \S+ \((.*)\); retrying/g)].map(
    (match) => match[1] as string,
  );
  const ends = [...output.matchAll(/Cassandra: writes to \S+ work again after ([\d.]+) s \((\d+) retr(?:y|ies)\)/g)];
  return {
    started: causes.length,
    ended: ends.length,
    retries: ends.reduce((sum, match) => sum + Number(match[2]), 0),
    durations: ends.map((match) => Number(match[1])),
    causes,
  };
}

/** The counters of the summary line `aggregate` prints when it stops (SIGTERM): received, late, rows written… */
export function aggregateSummary(output: string): Record<string, number> {
  const line =
    output
      .split('\n')
      .filter((text) => /^received \d+ · /.test(text) || / · received \d+ · /.test(text))
      .at(-1) ?? '';
  return Object.fromEntries(
    [...line.matchAll(/([a-z][a-z ]*?) (\d+)(?= ·|$)/g)].map((match) => [match[1] as string, Number(match[2])]),
  );
}

/** One aggregator's command line, as every fault and cluster case runs it. */
export interface AggregatorOptions {
  /** `--aggregator-id`; the MQTT client id is `mqtt-iot-stream-aggregator-<id>`. */
  readonly id: string;
  readonly table: string;
  readonly stateDir: string;
  readonly mode: 'append' | 'update';
  /** How to reach Cassandra ({@link CassandraAccess.args}). */
  readonly cassandra: readonly string[];
  /** An MQTT 5 shared subscription's group (`--share-group`), if any. */
  readonly shareGroup?: string;
  /** More arguments, last: they override the ones before (`--max-event-time-ahead '1 hour'`). */
  readonly extra?: readonly string[];
}

/**
 * The arguments of `aggregate` for `options`: QoS 1 on {@link TOPIC}, keyspace `hyper`, no
 * idle advance and no far-future guard (the scripted event times are in the past), JSON
 * output, a persistent session that outlives a restart.
 */
export function aggregateArgs(brokerUrl: string, options: AggregatorOptions): string[] {
  return [
    '--broker',
    brokerUrl,
    '--topic',
    TOPIC,
    ...(options.shareGroup === undefined ? [] : ['--share-group', options.shareGroup]),
    ...options.cassandra,
    '--keyspace',
    'hyper',
    '--table',
    options.table,
    '--aggregator-id',
    options.id,
    '--state-dir',
    options.stateDir,
    '--idle-advance',
    '0',
    '--max-event-time-ahead',
    'off',
    '--output-mode',
    options.mode,
    '--format',
    'json',
    '--session-expiry',
    '10 minutes',
    ...(options.extra ?? []),
  ];
}

/** How the test and the aggregators reach Cassandra: what an {@link aggregatorSuite}'s `connect` returns. */
export interface CassandraAccess {
  /** The test's own client. */
  readonly client: Client;
  /** The aggregators' arguments for it: `--cassandra <contact points>`, for a cluster its data centre and consistency. */
  readonly args: readonly string[];
}

/**
 * What the cases of a suite that runs `aggregate` share: a Cassandra client, a Mosquitto
 * with persistence, a QoS 1 publisher, a work folder, and every aggregator started (all
 * SIGKILLed after the suite if still running). Made by {@link aggregatorSuite}; its
 * fields are set by the suite's `before` hook.
 */
export class AggregatorSuite {
  /** The corpus lines the events carry. */
  readonly lines: readonly string[] = corpusLines('elastic');
  /** The test's own client; a case may replace it (the `after` hook shuts down the one it finds). */
  cassandra!: Client;
  broker!: Mosquitto;
  publisher!: MqttClient;
  /** Each aggregator's state directory is made below it. */
  workDir!: string;
  /** Each case's figures, printed after the suite (the fault tables of docs/durability.md). */
  readonly figures: string[] = [];
  private cassandraArgs: readonly string[] = [];
  private readonly runners: AggregatorRunner[] = [];

  /** `name` prefixes the publisher's client id, the work folder and the cases' tables. */
  constructor(readonly name: string) {}

  /**
   * Closes every window of `events` ({@link closeWindows}), waits for `table` to settle on
   * their counts, and records the case's figures as `<caseName>: <sent> …, counted, lost,
   * double-counted<extra>`; `sent` names what the events were ("pressed" for a button).
   */
  async closeAndCompare(
    table: string,
    events: readonly SentEvent[],
    caseName: string,
    { sent = 'sent', extra = '' }: { sent?: string; extra?: string } = {},
  ): Promise<Comparison> {
    const before = await this.closeWindows(events);
    const comparison = await settledComparison(this.cassandra, table, expectedCounts(events), before);
    this.figures.push(
      `${caseName}: ${sent} ${comparison.expected}, counted ${comparison.counted}, lost ${comparison.lost}, double-counted ${comparison.doubled}${extra}`,
    );
    return comparison;
  }

  /** Drops `hyper.<table>` if it is there and makes it anew. */
  async freshTable(table: string): Promise<void> {
    // A fresh Cassandra has no such table anyway; before the first case it has no keyspace
    // either (ensureWindowCountTable makes it), and the drop fails: nothing to drop.
    await this.cassandra.execute(`DROP TABLE IF EXISTS hyper.${table}`).catch(() => undefined);
    await ensureWindowCountTable(this.cassandra, { table });
  }

  /** An aggregator with `options` (not started yet), on the suite's broker and Cassandra. */
  aggregator(options: Omit<AggregatorOptions, 'cassandra'>): AggregatorRunner {
    const runner = aggregatorRunner(
      this.broker,
      aggregateArgs(this.broker.url, { ...options, cassandra: this.cassandraArgs }),
      `mqtt-iot-stream-aggregator-${options.id}`,
      options.shareGroup === undefined ? TOPIC : `$share/${options.shareGroup}/${TOPIC}`,
    );
    this.runners.push(runner);
    return runner;
  }

  /** A case's one aggregator, id `name`: its table `<suite name>_<name>` fresh, its state in `<workDir>/<name>` across restarts. */
  async caseAggregator(
    name: string,
    mode: 'append' | 'update',
    extra: string[] = [],
  ): Promise<AggregatorRunner & { table: string }> {
    const table = `${this.name}_${name}`;
    await this.freshTable(table);
    const runner = this.aggregator({ id: name, table, stateDir: join(this.workDir, name), mode, extra });
    return Object.assign(runner, { table });
  }

  /**
   * Publishes `copies` events an hour after the last of `events`, so that every window
   * before theirs is final (an aggregator on a shared subscription gets only some of
   * them); returns the start of their window, for the comparison's `before`.
   */
  async closeWindows(events: readonly SentEvent[], copies = 1): Promise<number> {
    const closing = Math.max(...events.map((event) => event.time)) + 60 * MINUTE;
    for (let i = 0; i < copies; i++) {
      await this.publisher.publishAsync(
        TOPIC,
        encodeIotPayload(makeIotPayload(this.lines[0] as string, new Date(closing))),
        { qos: 1 },
      );
    }
    return closing - (closing % MINUTE);
  }

  /** The `before` hook's work: Cassandra from `connect`, then the broker, the publisher and the work folder. */
  async start(connect: () => Promise<CassandraAccess>): Promise<void> {
    const access = await connect();
    this.cassandra = access.client;
    this.cassandraArgs = access.args;
    // Persistence: sessions and queued messages survive a broker restart. The queue
    // limit raised: Mosquitto's default (1000 per client) drops the rest silently.
    this.broker = await startMosquitto({
      persistence: true,
      extraConfig: ['max_queued_messages 1000000', 'autosave_interval 5'],
    });
    this.publisher = await testClient(this.broker.url, { clientId: `${this.name}-publisher`, reconnectPeriod: 200 });
    this.workDir = mkdtempSync(join(tmpdir(), `${this.name}-`));
  }

  /** The `after` hook's work: every aggregator still running SIGKILLed, the clients closed, the broker and the work folder gone. */
  async dispose(): Promise<void> {
    if (this.figures.length > 0)
      process.stdout.write(
        `\n      figures (${this.name}):\n${this.figures.map((line) => `        ${line}`).join('\n')}\n`,
      );
    for (const runner of this.runners) for (const process of runner.processes) process.child.kill('SIGKILL');
    await closeClients();
    await this.cassandra?.shutdown();
    await this.broker?.dispose();
    if (this.workDir) rmSync(this.workDir, { recursive: true, force: true });
  }
}

/**
 * Call inside a `describe`: registers its `before` hook (`connect` starts Cassandra,
 * within `startTimeoutMs`; then the broker, the publisher `<name>-publisher` and the
 * work folder) and its `after` hook, and returns the suite's {@link AggregatorSuite}.
 */
export function aggregatorSuite(
  name: string,
  startTimeoutMs: number,
  connect: () => Promise<CassandraAccess>,
): AggregatorSuite {
  const suite = new AggregatorSuite(name);
  before(async function () {
    this.timeout(startTimeoutMs);
    await suite.start(connect);
  });
  after(() => suite.dispose());
  return suite;
}
