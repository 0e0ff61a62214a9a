// The reference scenario end to end on real parts: our pi-publisher (simulated
// button) and the original Python publisher (paho-mqtt) send corpus lines with
// controlled event times to a real Mosquitto; the aggregator example counts them and
// writes to a real Cassandra node; the table is compared, cell by cell, with a count
// computed here independently from Spark's rules.
import { expect } from 'chai';
import { Client } from 'cassandra-driver';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import { Subject, lastValueFrom, toArray } from 'rxjs';
import { ensureWindowCountTable, readWindowTotals, type Rejection } from '../src/index.js';
import { ManualClock, SimulatedGpio } from '../src/testing.js';
import { aggregator } from '../examples/aggregator.js';
import { piPublisher } from '../examples/pi-publisher.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from './support/cassandra.js';
import { corpusLines } from './support/corpora.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { countLog } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const here = dirname(fileURLToPath(import.meta.url));
const TOPIC = 'rupesh/gpiotopic';
const MINUTE = 60_000;
const WINDOW = MINUTE;
const WATERMARK = 2 * MINUTE;

interface SentEvent {
  readonly time: number;
  readonly line: string;
}

/** Spark's rule replayed naively: the expected table and the late count, from the arrival order. */
function expectedCounts(arrivals: readonly SentEvent[]): { rows: string[]; late: number } {
  const counts = new Map<string, number>();
  let maxTime = -Infinity;
  let late = 0;
  for (const { time, line } of arrivals) {
    const status = /" (\d{3}) /.exec(line)?.[1];
    if (status === undefined) continue; // junk: rejected, not counted
    const start = time - (time % WINDOW);
    if (start + WINDOW <= maxTime - WATERMARK) late++;
    else
      counts.set(
        `${new Date(start).toISOString()} ${status}`,
        (counts.get(`${new Date(start).toISOString()} ${status}`) ?? 0) + 1,
      );
    maxTime = Math.max(maxTime, time);
  }
  return { rows: [...counts].map(([key, count]) => `${key} ${count}`).sort(), late };
}

function tableRows(totals: Awaited<ReturnType<typeof readWindowTotals>>): string[] {
  return totals
    .map((total) => {
      expect(total.windowEnd.getTime() - total.windowStart.getTime()).to.equal(WINDOW);
      return `${total.windowStart.toISOString()} ${total.status} ${total.count}`;
    })
    .sort();
}

/** Presses the simulated button `count` times, 400 ms apart on its own clock (past the 300 ms bounce time). */
function pressTimes(gpio: SimulatedGpio, clock: ManualClock, count: number): void {
  for (let press = 0; press < count; press++) {
    gpio.press(17);
    clock.advanceMillis(50);
    gpio.release(17);
    clock.advanceMillis(350);
  }
}

function publishWithPython(broker: Mosquitto, events: readonly SentEvent[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      [join(here, 'python', 'publish_timed.py'), '127.0.0.1', String(broker.port), TOPIC],
      { timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim())),
    );
    child.stdin!.end(events.map((event) => `${event.time}\t${event.line}`).join('\n') + '\n');
  });
}

describe('the reference scenario end to end (real Mosquitto, real Cassandra, Python publisher)', function () {
  this.timeout(120_000);
  let node: CassandraNode;
  let cassandra: Client;
  let broker: Mosquitto;
  let workDir: string;
  const clients: MqttClient[] = [];

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    node = await cassandraNode();
    cassandra = new Client(node.clientOptions());
    broker = await startMosquitto();
    workDir = mkdtempSync(join(tmpdir(), 'e2e-'));
  });
  afterEach(() => clients.splice(0).forEach((client) => client.end(true)));
  after(async () => {
    await cassandra?.shutdown();
    await broker?.dispose();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  function startAggregator(table: string, options: { topic?: string; aggregatorId?: string } = {}) {
    const stop = new Subject<void>();
    const rejections: Rejection[] = [];
    let received = 0;
    const written = lastValueFrom(
      aggregator({
        broker: broker.url,
        ...(options.topic === undefined ? {} : { topic: options.topic }),
        cassandra,
        table,
        ...(options.aggregatorId === undefined ? {} : { aggregatorId: options.aggregatorId }),
        stateDirectory: mkdtempSync(join(workDir, 'state-')),
        idleAdvance: 0, // the events are stamped in 2020: the wall clock would make them late
        stop,
        onMessage: () => {
          received++;
        },
        onReject: (rejection) => rejections.push(rejection),
      }).pipe(toArray()),
    );
    return { stop, written, rejections, received: () => received };
  }

  it('counts what both publishers sent, out-of-order and late messages included, exactly as Spark would', async () => {
    const table = 'e2e_reference';
    await ensureWindowCountTable(cassandra, { table });
    const lines = corpusLines('elastic').slice(0, 120);
    const base = Date.UTC(2020, 6, 1, 12, 0, 0);
    // Our publisher: 60 presses, event times 5 s apart but shuffled within each minute.
    const ours: SentEvent[] = lines
      .slice(0, 60)
      .map((line, i) => ({ time: base + i * 5_000 + ((i * 7) % 12) * 400, line }));
    // The Python publisher afterwards: 58 corpus lines continuing in time, a junk line,
    // one from the first minute (late: its window ended long before the watermark, 12:07:45),
    // and one from 12:07:30: older than the watermark, yet its window [12:07, 12:08) is open.
    const python: SentEvent[] = [
      ...lines.slice(60, 118).map((line, i) => ({ time: base + 5 * MINUTE + i * 5_000, line })),
      { time: base + 9 * MINUTE, line: 'this is not an access-log line' },
      { time: base + 10_000, line: lines[118]! },
      { time: base + 7 * MINUTE + 30_000, line: lines[119]! },
    ];
    const aggregation = startAggregator(table);
    await waitFor(() => countLog(broker.log(), new RegExp(` 1 ${TOPIC}`)) >= 1, 'the aggregator subscription');

    // Our pi-publisher, on a simulated button whose clock we drive; each press is
    // stamped with the next scripted event time.
    const clock = new ManualClock();
    const gpio = new SimulatedGpio({ clock });
    const logFile = join(workDir, 'ours.log');
    writeFileSync(logFile, ours.map((event) => event.line).join('\n') + '\n');
    const publisherClient = connect(broker.url, { protocolVersion: 5 });
    clients.push(publisherClient);
    const stamps = ours.map((event) => new Date(event.time));
    const acks: unknown[] = [];
    const publishing = piPublisher({
      broker: publisherClient,
      topic: TOPIC,
      qos: 1,
      logFile,
      backend: gpio,
      buttonPin: 17,
      ledPin: 4,
      stamp: () => stamps.shift()!,
    }).subscribe((ack) => acks.push(ack));
    pressTimes(gpio, clock, ours.length);
    await waitFor(
      () => aggregation.received() === ours.length,
      () => `our ${ours.length} messages (received ${aggregation.received()})`,
      30_000,
    );
    await waitFor(() => acks.length === ours.length, 'every PUBACK reaching our publisher');
    expect(gpio.outputHistory(4).filter((write) => write.level === 1)).to.have.length(ours.length); // the LED lit once a press
    expect(gpio.outputLevel(4)).to.equal(0);
    publishing.unsubscribe();

    expect(await publishWithPython(broker, python)).to.equal(String(python.length));
    await waitFor(() => aggregation.received() === ours.length + python.length, 'the Python messages', 30_000);
    aggregation.stop.next();
    const written = await aggregation.written;

    const expected = expectedCounts([...ours, ...python]);
    expect(expected.late).to.equal(1); // the 12:00:10 one, not the 12:07:30 one
    expect(aggregation.rejections.map((r) => r.kind).sort()).to.deep.equal(['late', 'line']);
    expect(tableRows(await readWindowTotals(cassandra, { table }))).to.deep.equal(expected.rows);
    expect(written).to.have.length(expected.rows.length);
  });

  it('gives exact totals with two aggregators on a shared subscription, each writing its own part', async () => {
    const table = 'e2e_scale_out';
    await ensureWindowCountTable(cassandra, { table });
    const lines = corpusLines('nginx').slice(0, 400);
    const base = Date.UTC(2022, 8, 1, 22, 0, 0);
    const events: SentEvent[] = lines.map((line, i) => ({ time: base + i * 1_000, line }));
    const shared = `$share/counters/${TOPIC}`;
    const first = startAggregator(table, { topic: shared, aggregatorId: 'a' });
    const second = startAggregator(table, { topic: shared, aggregatorId: 'b' });
    await waitFor(
      () => countLog(broker.log(), /\$share\/counters\/rupesh\/gpiotopic/) >= 2,
      'both shared subscriptions',
    );

    expect(await publishWithPython(broker, events)).to.equal(String(events.length));
    await waitFor(
      () => first.received() + second.received() === events.length,
      () => `${events.length} messages between the two (got ${first.received()} + ${second.received()})`,
      30_000,
    );
    expect(first.received(), 'each aggregator takes part').to.be.greaterThan(0);
    expect(second.received(), 'each aggregator takes part').to.be.greaterThan(0);
    first.stop.next();
    second.stop.next();
    await Promise.all([first.written, second.written]);

    const byAggregator = await cassandra.execute(`SELECT aggregator, count FROM hyper.${table}`);
    const partials = new Map<string, number>();
    for (const row of byAggregator.rows)
      partials.set(
        row['aggregator'] as string,
        (partials.get(row['aggregator'] as string) ?? 0) + Number(row['count']),
      );
    expect(partials.get('a')).to.equal(first.received());
    expect(partials.get('b')).to.equal(second.received());
    // Time moves forward in this stream, so nothing is late for either aggregator, and
    // the summed partials equal one aggregator's view of the whole stream.
    expect(tableRows(await readWindowTotals(cassandra, { table }))).to.deep.equal(expectedCounts(events).rows);
  });
});
