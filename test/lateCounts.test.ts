// Late data kept, exactly once: durableWindowedCount's writeLate over a real Mosquitto
// into a real Cassandra, with a stop and a restart in the middle. The on-time table and
// the late table must equal a plain windowedCount's rows and late reports, cell by
// cell, and add up to every event sent.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { Subject, from, lastValueFrom, map, toArray } from 'rxjs';
import {
  cassandraSink,
  durableWindowedCount,
  ensureLateCountTable,
  ensureWindowCountTable,
  fromMqtt,
  lateCountRows,
  LiveStatistics,
  readLateTotals,
  readWindowTotals,
  windowCountRows,
  windowedCount,
  type Rejection,
} from '../src/index.js';
import { brokerSuite } from './support/brokerSuite.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from './support/cassandra.js';
import { corpusRecords } from './support/windowRows.js';
import { waitFor } from './support/waitFor.js';

interface Request {
  readonly time: number;
  readonly status: number;
}

const KEYSPACE = 'late_counts';
/** A short watermark on an out-of-order log: hundreds of late events. */
const windows = { windowDuration: '1 minute', watermarkDelay: '10 s' } as const;

const cell = (windowStart: Date, status: number, count: number) => `${windowStart.toISOString()} ${status} ${count}`;

describe('late counts kept in a late table, exactly once (real Mosquitto, real Cassandra)', function () {
  this.timeout(180_000);
  // The second half waits in the session while the aggregator is stopped: more than Mosquitto's default 1,000.
  const suite = brokerSuite({ extraConfig: ['max_queued_messages 0'], log: 'quiet' });
  let admin: Client;
  let stateDirectory: string;
  // The real log, but every 10th request delivered 500 requests later, as from a
  // device that buffered them: the log itself is in time order (none late).
  const inOrder: Request[] = corpusRecords('elastic').map((record) => ({
    time: record.time.getTime(),
    status: record.status,
  }));
  const requests: Request[] = [];
  const held: Request[][] = [];
  inOrder.forEach((request, index) => {
    if (index % 10 === 9) (held[index + 500] ??= []).push(request);
    else requests.push(request);
    requests.push(...(held[index] ?? []));
  });
  for (const rest of held.slice(inOrder.length)) requests.push(...(rest ?? []));

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    const node = await cassandraNode();
    admin = new cassandra.Client(node.clientOptions());
    await admin.connect();
    await ensureWindowCountTable(admin, { keyspace: KEYSPACE });
    await ensureLateCountTable(admin, { keyspace: KEYSPACE });
    await admin.execute(`TRUNCATE ${KEYSPACE}.mqtt`);
    await admin.execute(`TRUNCATE ${KEYSPACE}.mqtt_late`);
    stateDirectory = mkdtempSync(join(tmpdir(), 'late-counts-'));
  });

  after(async () => {
    await admin?.shutdown();
    rmSync(stateDirectory, { recursive: true, force: true });
  });

  it('on-time plus late adds up to every event, each table equal to a plain count, across a restart', async () => {
    // The reference: one plain windowedCount over the same sequence, its open windows
    // flushed at the end (the durable stop writes them too), its late reports by window.
    const lateReports: Request[] = [];
    const reference = await lastValueFrom(
      from(requests).pipe(
        windowedCount({
          eventTime: (request: Request) => request.time,
          key: (request: Request) => request.status,
          ...windows,
          onReject: (rejection: Rejection<Request>) => lateReports.push(rejection.input),
        }),
        toArray(),
      ),
    );
    expect(lateReports.length, 'the corpus must give late events under a 10 s watermark').to.be.greaterThan(100);
    const expectedLate = new Map<string, number>();
    for (const { time, status } of lateReports) {
      const id = `${time - (time % 60_000)}/${status}`;
      expectedLate.set(id, (expectedLate.get(id) ?? 0) + 1);
    }

    const session = {
      url: suite.broker.url,
      clientId: 'late-counts-aggregator',
      clean: false,
      protocolVersion: 5 as const,
      properties: { sessionExpiryInterval: 600 },
    };
    const topic = 'late/counts';
    let handled = 0;
    const statistics = new LiveStatistics();
    const stops: Subject<void>[] = [];
    const run = (stop: Subject<void>) => {
      stops.push(stop);
      return lastValueFrom(
        fromMqtt(session, topic, { qos: 1, ack: 'manual', keepSubscription: true, statistics }).pipe(
          durableWindowedCount({
            stateDirectory,
            prepare: (messages) =>
              messages.pipe(
                map((message) => {
                  handled++;
                  return JSON.parse(message.payload.toString()) as Request;
                }),
              ),
            eventTime: (request) => request.time,
            key: (request) => request.status,
            ...windows,
            onReject: () => undefined,
            // Small: parts are started again and again, and must still add up.
            maxLateCounts: 1,
            write: (rows, { onReject }) =>
              rows.pipe(cassandraSink(admin, { ...windowCountRows({ keyspace: KEYSPACE }), onReject })),
            writeLate: (rows, { onReject }) =>
              rows.pipe(cassandraSink(admin, { ...lateCountRows({ keyspace: KEYSPACE }), onReject })),
            stop,
          }),
        ),
        { defaultValue: undefined },
      );
    };
    // Published only once the session holds the subscription: earlier messages would have nowhere to go.
    const subscribed = () =>
      waitFor(() => statistics.value('broker', 'broker_subscribed') === 1, 'the aggregator subscribed', 30_000);

    const publisher = await connectAsync(suite.broker.url, { protocolVersion: 5 });
    const publish = async (part: readonly Request[]) => {
      for (const request of part) await publisher.publishAsync(topic, JSON.stringify(request), { qos: 1 });
    };
    try {
      const half = Math.floor(requests.length / 2);
      const firstStop = new Subject<void>();
      const first = run(firstStop);
      await subscribed();
      await publish(requests.slice(0, half));
      await waitFor(
        () => handled >= half,
        () => `the first half handled (${handled} of ${half})`,
        60_000,
      );
      firstStop.next();
      await first;
      // Stopped: the second half waits in the persistent session.
      await publish(requests.slice(half));
      const secondStop = new Subject<void>();
      const second = run(secondStop);
      await waitFor(
        () => handled >= requests.length,
        () => `every message handled (${handled} of ${requests.length})`,
        60_000,
      );
      secondStop.next();
      await second;
    } finally {
      await publisher.endAsync();
      for (const stop of stops) stop.next(); // a failed wait must not leave an aggregator running
    }

    const onTime = await readWindowTotals(admin, { keyspace: KEYSPACE });
    const late = await readLateTotals(admin, { keyspace: KEYSPACE });
    const counted = onTime.reduce((sum, total) => sum + total.count, 0);
    const kept = late.reduce((sum, total) => sum + total.count, 0);
    expect({ counted, late: kept, total: counted + kept }).to.deep.equal({
      counted: requests.length - lateReports.length,
      late: lateReports.length,
      total: requests.length,
    });
    expect(onTime.map((total) => cell(total.windowStart, total.status, total.count)).sort()).to.deep.equal(
      reference.map((row) => cell(row.windowStart, row.key, row.count)).sort(),
    );
    expect(late.map((total) => cell(total.windowStart, total.status, total.count)).sort()).to.deep.equal(
      [...expectedLate]
        .map(([id, count]) => {
          const [start, status] = id.split('/').map(Number) as [number, number];
          return cell(new Date(start), status, count);
        })
        .sort(),
    );
    const parts = await admin.execute(`SELECT count(*) AS parts FROM ${KEYSPACE}.mqtt_late`);
    expect(
      Number(parts.first()['parts']),
      'more parts than (window, status) pairs: maxLateCounts was reached',
    ).to.be.greaterThan(late.length);
  });
});
