// Cassandra outages: the sink retries for as long as the stream lives by default,
// reports each outage once when it starts and once when it ends, and, on a real node
// that goes down mid-stream and comes back on the same data, loses nothing, doubles
// nothing and holds a bounded number of rows.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { Subject, lastValueFrom, map, range, tap, toArray, type Subscription } from 'rxjs';
import {
  CassandraWriteError,
  RejectionError,
  cassandraSink,
  ensureWindowCountTable,
  readWindowTotals,
  windowCountRows,
  type CassandraOutage,
  type CassandraSinkOptions,
  type CassandraWriteResult,
  type Rejection,
  type WindowRow,
} from '../src/index.js';
import { LiveStatistics } from '../src/observe/LiveStatistics.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from './support/cassandra.js';
import { corpusRecords, finalTable, plain, windowRows } from './support/windowRows.js';
import { captureStderr } from './support/captureStderr.js';
import { waitFor } from './support/waitFor.js';

const row = (i: number): WindowRow<number> => ({
  windowStart: new Date(Date.UTC(2020, 6, 1, 12, i)),
  windowEnd: new Date(Date.UTC(2020, 6, 1, 12, i + 1)),
  key: 200,
  count: i + 1,
});

/**
 * A stand-in for a driver Client (the sink duck-types it): each write fails with the
 * driver's NoHostAvailableError while `down`, decided when it is sent, and settles
 * 0–4 ms later, so that writes sent before the node came back still fail after it
 * did, as on a real network.
 */
class FlakyClient {
  down = false;
  sent = 0;
  readonly timestamps: unknown[] = [];
  execute(_query: string, _params: unknown[], options: { timestamp?: unknown }): Promise<void> {
    this.sent++;
    this.timestamps.push(options.timestamp);
    const fails = this.down;
    return new Promise((resolve, reject) =>
      setTimeout(
        () =>
          fails
            ? reject(
                new cassandra.errors.NoHostAvailableError({
                  '127.0.0.1:9042': Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9042'), {
                    code: 'ECONNREFUSED',
                  }),
                }),
              )
            : resolve(),
        Math.floor(Math.random() * 5),
      ),
    );
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
const asClient = (client: FlakyClient) => client as unknown as Client;

describe('cassandraSink outage handling (a stand-in client that goes down and comes back)', function () {
  this.timeout(30_000);
  const fast = { ...windowCountRows(), retryBaseDelay: 1, retryMaxDelay: 5 };

  /** The sink (`fast`, its queue unbounded, `options` on top) on rows pushed by hand into `source`; `written()` counts the rows written so far. */
  function handFed(client: FlakyClient, options: Partial<CassandraSinkOptions<WindowRow<number>>>) {
    const source = new Subject<WindowRow<number>>();
    let written = 0;
    const done = lastValueFrom(
      source.pipe(
        cassandraSink(asClient(client), { ...fast, maxQueued: Infinity, ...options }),
        tap(() => written++),
        toArray(),
      ),
    );
    return { source, done, written: () => written };
  }

  it('retries for as long as the stream lives by default: 1,000 failed attempts of a row, then it is written', async () => {
    const client = new FlakyClient();
    client.down = true;
    const outages: CassandraOutage[] = [];
    const done = lastValueFrom(
      range(0, 4).pipe(
        map(row),
        cassandraSink(asClient(client), { ...fast, onOutage: (o) => outages.push(o) }),
        toArray(),
      ),
    );
    await waitFor(() => client.sent >= 1_000, '1,000 attempts', 20_000);
    client.down = false;
    const results = await done;
    expect(results).to.have.length(4);
    expect(Math.max(...results.map((r) => r.attempts))).to.be.greaterThan(250);
    expect(outages.map((o) => o.state)).to.deep.equal(['down', 'up']);
  });

  it('a finite retries still gives up with CassandraWriteError, after reporting the outage once', async () => {
    const client = new FlakyClient();
    client.down = true;
    const outages: CassandraOutage[] = [];
    const error = await lastValueFrom(
      range(0, 8).pipe(
        map(row),
        cassandraSink(asClient(client), { ...fast, retries: 3, onOutage: (o) => outages.push(o) }),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(CassandraWriteError).and.include({ attempts: 4, retryable: true });
    expect(outages.map((o) => o.state)).to.deep.equal(['down']);
  });

  it("reports one 'down' with the cause and one 'up' with duration and retries, whatever the number of rows in flight", async () => {
    const client = new FlakyClient();
    const outages: CassandraOutage[] = [];
    let retries = 0;
    let retriesWhenUp = 0;
    const { source, done, written } = handFed(client, {
      concurrency: 16,
      onRetry: () => {
        retries++;
      },
      onOutage: (o) => {
        outages.push(o);
        if (o.state === 'up') retriesWhenUp = retries;
      },
    });
    for (let i = 0; i < 200; i++) source.next(row(i));
    await waitFor(() => written() >= 50, '50 rows written', 10_000);
    client.down = true;
    for (let i = 200; i < 400; i++) source.next(row(i));
    await waitFor(() => retries >= 200, '200 retries', 10_000);
    const downAt = Date.now();
    client.down = false;
    source.complete();
    const results = await done;
    expect(results).to.have.length(400);
    expect(outages).to.have.length(2);
    const [down, up] = outages as [
      Extract<CassandraOutage, { state: 'down' }>,
      Extract<CassandraOutage, { state: 'up' }>,
    ];
    expect(down).to.include({ state: 'down', target: 'hyper.mqtt' });
    expect(down.reason).to.match(/^NoHostAvailableError: All host\(s\) tried for query failed/);
    expect(down.error).to.be.instanceOf(cassandra.errors.NoHostAvailableError);
    expect(down.since.getTime()).to.be.at.most(downAt);
    expect(up).to.include({ state: 'up', target: 'hyper.mqtt' });
    expect(up.downForMs).to.be.within(0, Date.now() - down.since.getTime());
    // Every retry until the 'up' is counted in it, once. A write sent while the node
    // was down may fail after the 'up' (writes settle 0-4 ms later): it is retried,
    // but opens no new outage.
    expect(up.retries).to.equal(retriesWhenUp);
  });

  it('reports a second outage as a second pair, to onOutage and to the live statistics', async () => {
    const client = new FlakyClient();
    const outages: string[] = [];
    const statistics = new LiveStatistics();
    const changes: string[] = [];
    const writerUp = () => statistics.value('writer', 'writer_up');
    statistics.onChange((change) => changes.push(`${change.stage} ${change.state}, writer_up ${writerUp()}`));
    const { source, done, written } = handFed(client, {
      concurrency: 4,
      onOutage: (o) => outages.push(o.state),
      statistics,
    });
    for (const round of [0, 1]) {
      client.down = true;
      for (let i = 0; i < 20; i++) source.next(row(round * 20 + i));
      await waitFor(() => client.sent >= (round + 1) * 100, 'failed attempts', 10_000);
      expect(writerUp(), 'writer_up during the outage').to.equal(0);
      expect(statistics.readiness().ready).to.equal(false);
      client.down = false;
      await waitFor(() => written() === (round + 1) * 20, 'the rows of this round', 10_000);
      expect(writerUp(), 'writer_up once writes work again').to.equal(1);
    }
    source.complete();
    await done;
    expect(outages).to.deep.equal(['down', 'up', 'down', 'up']);
    expect(changes).to.deep.equal([
      'writer down, writer_up 0',
      'writer up, writer_up 1',
      'writer down, writer_up 0',
      'writer up, writer_up 1',
    ]);
    expect(statistics.value('writer', 'writer_outages_total')).to.equal(2);
    expect(statistics.value('writer', 'writer_rows_written_total')).to.equal(40);
    expect(statistics.readiness().ready).to.equal(true);
  });

  it('by default writes one line to stderr when writes start failing and one when they work again', async () => {
    const client = new FlakyClient();
    client.down = true;
    const stderr = await captureStderr(async () => {
      const done = lastValueFrom(
        range(0, 50).pipe(map(row), cassandraSink(asClient(client), { ...fast, concurrency: 8 })),
      );
      await waitFor(() => client.sent >= 200, '200 failed attempts', 10_000);
      client.down = false;
      await done;
    });
    const lines = stderr.split('\n');
    expect(lines).to.have.length(3);
    expect(lines[0]).to.match(
      /^mqtt-iot-stream: cassandraSink: writes to hyper\.mqtt failing since \d\d:\d\d:\d\d \(NoHostAvailableError: All host\(s\) tried for query failed\. .*\); retrying until it is back$/,
    );
    expect(lines[1]).to.match(
      /^mqtt-iot-stream: cassandraSink: writes to hyper\.mqtt work again after \d+\.\d s \(\d+ retries\)$/,
    );
    expect(lines[2]).to.equal('');

    client.down = true;
    const finite = await captureStderr(async () => {
      await lastValueFrom(
        range(0, 1).pipe(
          map(row),
          cassandraSink(asClient(client), { ...fast, ...windowCountRows({ table: 'counts' }), retries: 5 }),
        ),
      ).catch(() => undefined);
    });
    expect(finite).to.match(
      /^mqtt-iot-stream: cassandraSink: writes to hyper\.counts failing since .*; retrying each write up to 5 times\n$/,
    );
  });

  it('a throwing onOutage ends the stream with its error', async () => {
    const client = new FlakyClient();
    client.down = true;
    const thrown = new Error('reporter broke');
    const error = await lastValueFrom(
      range(0, 3).pipe(
        map(row),
        cassandraSink(asClient(client), {
          ...fast,
          onOutage: () => {
            throw thrown;
          },
        }),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(error).to.equal(thrown);
  });
});

describe('cassandraSink write timestamps (a stand-in client recording them)', () => {
  const { Long } = cassandra.types;

  it('window-count rows: windowEnd (ms) × 1000 + count, exact past the year 2255', async () => {
    const client = new FlakyClient();
    const rows: WindowRow<number>[] = [
      row(0),
      {
        windowStart: new Date(Date.UTC(9999, 11, 31, 23, 58)),
        windowEnd: new Date(Date.UTC(9999, 11, 31, 23, 59)),
        key: 200,
        count: 7,
      },
    ];
    await lastValueFrom(
      range(0, 2).pipe(
        map((i) => rows[i]!),
        cassandraSink(asClient(client), { ...windowCountRows(), concurrency: 1 }),
      ),
    );
    expect(client.timestamps.map(String)).to.deep.equal([
      Long.fromNumber(Date.UTC(2020, 6, 1, 12, 1))
        .multiply(1000)
        .add(1)
        .toString(),
      '253402300740000007',
    ]);
  });

  it("by default the clock, strictly increasing; writeTimestamp overrides it, windowCountRows' too", async () => {
    const client = new FlakyClient();
    const before = Date.now() * 1000;
    await lastValueFrom(
      range(0, 100).pipe(
        cassandraSink(asClient(client), { keyspace: 'k', table: 't', columns: ['n'], toValues: (n: number) => [n] }),
      ),
    );
    const stamps = client.timestamps as number[];
    expect(stamps[0]).to.be.at.least(before);
    expect(stamps.every((stamp, i) => i === 0 || stamp > stamps[i - 1]!)).to.equal(true);

    const custom = new FlakyClient();
    await lastValueFrom(
      range(0, 3).pipe(
        map(row),
        cassandraSink(asClient(custom), { ...windowCountRows(), concurrency: 1, writeTimestamp: (r) => r.count * 10 }),
      ),
    );
    expect(custom.timestamps).to.deep.equal([10, 20, 30]);
  });

  it('a value whose writeTimestamp is neither a safe integer, a bigint nor a Long is rejected before its row is sent; the others are written', async () => {
    const client = new FlakyClient();
    const rejections: Rejection<WindowRow<number>>[] = [];
    const bad: Record<number, unknown> = { 1: 1.5, 2: Number.NaN, 3: 2 ** 60, 4: '17', 5: 2n ** 63n };
    const results = await lastValueFrom(
      range(0, 7).pipe(
        map(row),
        cassandraSink(asClient(client), {
          ...windowCountRows(),
          writeTimestamp: (r) => (bad[r.count - 1] ?? BigInt(r.count)) as bigint,
          onReject: (r) => rejections.push(r),
        }),
        toArray(),
      ),
    );
    expect(results.map((r) => r.value.count).sort()).to.deep.equal([1, 7]);
    expect(client.sent).to.equal(2);
    expect(rejections.map((r) => [r.kind, r.input.count])).to.deep.equal([
      ['row', 2],
      ['row', 3],
      ['row', 4],
      ['row', 5],
      ['row', 6],
    ]);
    expect(rejections[0]!.reason).to.equal(
      'cannot make a row of the value for hyper.mqtt: writeTimestamp returned 1.5; expected microseconds since the epoch, a safe integer, a bigint or a Long',
    );

    const strict = await lastValueFrom(
      range(0, 1).pipe(
        map(row),
        cassandraSink(asClient(new FlakyClient()), {
          ...windowCountRows(),
          writeTimestamp: () => Number.NaN,
          strict: true,
        }),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(strict).to.be.instanceOf(RejectionError);
  });
});

function openSockets(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
}

describe('cassandraSink through a Cassandra outage (node stopped mid-stream, restarted on the same data)', function () {
  let node: CassandraNode;

  // Our own clients connect only while the node is up: a user-owned cassandra-driver
  // client that lives through an outage leaks its replaced Host on shutdown (see
  // src/cassandra/client.ts); the sink works around it for the clients it owns.
  async function withClient<R>(use: (client: Client) => Promise<R>): Promise<R> {
    const client = new cassandra.Client(node.clientOptions());
    try {
      return await use(client);
    } finally {
      await client.shutdown();
    }
  }

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    node = await cassandraNode();
    await withClient((client) => ensureWindowCountTable(client, { keyspace: 'sink_outage' }));
  });

  after(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    // Leave the shared node running for whatever test comes next, even if this one failed midway.
    if (node && !node.running) await node.start();
  });

  it('ends with exactly the expected counts, reports the outage once down and once up, holds at most `concurrency` rows while the node is down', async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS + 120_000);
    const records = corpusRecords('elastic');
    const expected = plain(finalTable((await windowRows(records, 'append')).rows));
    // Update mode: each (window, status) is written again and again with a growing
    // count, so a lost write or a stale retry landing last would show in the table.
    const { rows } = await windowRows(records, 'update');
    const concurrency = 16;
    const socketsBefore = openSockets();

    // A source paced on the results, as fromMqtt with manual ack is: it keeps
    // `concurrency` rows outstanding and emits the next one when a write is acknowledged.
    const source = new Subject<WindowRow<number>>();
    let emitted = 0;
    let written = 0;
    // While the node is being stopped (a graceful stop takes seconds), the source slows
    // down so that rows are still outstanding when the node is really gone.
    let stopping = false;
    const slowTimers = new Set<ReturnType<typeof setTimeout>>();
    let maxHeld = 0;
    const emitNext = () => {
      if (emitted < rows.length) {
        source.next(rows[emitted++] as WindowRow<number>);
        maxHeld = Math.max(maxHeld, emitted - written);
        if (emitted === rows.length) source.complete();
      }
    };
    let retries = 0;
    const retryErrors = new Set<string>();
    const outages: CassandraOutage[] = [];
    let maxInFlight = 0;
    let maxQueued = 0;
    let subscription: Subscription | undefined;
    const done = new Promise<Array<CassandraWriteResult<WindowRow<number>>>>((resolve, reject) => {
      subscription = source
        .pipe(
          cassandraSink(node.clientOptions(), {
            ...windowCountRows({ keyspace: 'sink_outage' }),
            concurrency,
            // retries: the default, Infinity; the node's restart takes 15-60 s.
            retryBaseDelay: 50,
            retryMaxDelay: 1_000,
            onRetry: ({ error }) => {
              retries++;
              retryErrors.add((error as Error).constructor.name);
            },
            onOutage: (outage) => outages.push(outage),
            onBacklog: ({ inFlight, queued }) => {
              maxInFlight = Math.max(maxInFlight, inFlight);
              maxQueued = Math.max(maxQueued, queued);
            },
          }),
          tap(() => {
            written++;
            if (!stopping) {
              emitNext();
              return;
            }
            const timer = setTimeout(() => {
              slowTimers.delete(timer);
              emitNext();
            }, 50);
            slowTimers.add(timer);
          }),
          toArray(),
        )
        .subscribe({ next: resolve, error: reject });
    });
    try {
      for (let i = 0; i < concurrency; i++) emitNext();

      await waitFor(() => written >= 1_000, 'the first 1,000 rows to be written', 120_000);
      stopping = true;
      await node.stop();
      stopping = false;
      expect(emitted, 'rows left to write when the node went down').to.be.lessThan(rows.length);
      const retriesAtStop = retries;
      const writtenAtStop = written;
      // Proof the outage was seen: every slot failed at least once more since the node stopped.
      await waitFor(() => retries >= retriesAtStop + concurrency, 'writes to fail while the node is down', 60_000);
      expect(written, 'no write can succeed while the node is down').to.equal(writtenAtStop);
      expect(emitted - written, 'rows held by the pipeline during the outage').to.be.at.most(concurrency);
      expect(
        outages.map((o) => o.state),
        'one report when the writes started failing',
      ).to.deep.equal(['down']);
      const restartedAt = Date.now();
      await node.start();
      const restartMs = Date.now() - restartedAt;

      const results = await done;
      expect(slowTimers.size).to.equal(0);
      expect(results).to.have.length(rows.length);
      expect(new Set(results.map((r) => r.value)).size, 'every row acknowledged exactly once').to.equal(rows.length);
      expect(results.some((r) => r.attempts > 1)).to.equal(true);
      expect(retryErrors.has('NoHostAvailableError'), `retried errors: ${[...retryErrors].join(', ')}`).to.equal(true);
      expect(maxInFlight).to.be.at.most(concurrency);
      expect(maxQueued).to.equal(0);
      expect(maxHeld).to.be.at.most(concurrency);

      // One report when the outage started, one when it ended. The driver may replace the
      // node's Host object after the first write succeeded again; the sink's client hands
      // the old one's connections over (src/cassandra/client.ts), so the writes in flight
      // on them do not fail into a second outage.
      const reports = outages
        .map((o) => (o.state === 'down' ? `down (${o.reason.slice(0, 160)})` : `up after ${o.downForMs} ms`))
        .join('; ');
      expect(
        outages.map((o) => o.state),
        reports,
      ).to.deep.equal(['down', 'up']);
      const [down, up] = outages as [
        Extract<CassandraOutage, { state: 'down' }>,
        Extract<CassandraOutage, { state: 'up' }>,
      ];
      expect(down.target).to.equal('sink_outage.mqtt');
      expect(down.reason).to.match(/^(NoHostAvailableError|OperationTimedOutError|DriverError|ResponseError)/);
      expect(up.target).to.equal('sink_outage.mqtt');
      expect(up.downForMs, 'the outage lasted at least the restart').to.be.at.least(restartMs);
      expect(up.retries).to.be.within(1, retries);
      process.stderr.write(
        `      (outage: down ${(up.downForMs / 1000).toFixed(1)} s, ${up.retries} retries; first error ${down.reason.slice(0, 120)})\n`,
      );

      // The owned client is shut down, including the Host the driver replaced after the outage.
      await waitFor(() => openSockets() <= socketsBefore, "the sink's client to close every socket", 20_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // a leaked pool would reconnect by now
      expect(openSockets(), 'sockets left after the stream ended').to.be.at.most(socketsBefore);

      expect(plain(await withClient((client) => readWindowTotals(client, { keyspace: 'sink_outage' })))).to.deep.equal(
        expected,
      );
    } finally {
      // A failed assertion must not leave the sink retrying: the run would not exit.
      subscription?.unsubscribe();
      for (const timer of slowTimers) clearTimeout(timer);
    }
  });
});
