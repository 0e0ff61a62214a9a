// cassandraSink and the window-count table against a real Cassandra 5.0 node.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { createServer, type Server } from 'node:net';
import { Subject, from, lastValueFrom, tap, toArray, of, range, map } from 'rxjs';
import {
  CassandraWriteError,
  CqlIdentifierError,
  QueueFullError,
  RejectionError,
  cassandraSink,
  ensureWindowCountTable,
  isCqlIdentifier,
  isRetryableCassandraError,
  readWindowTotals,
  windowCountRows,
  type CassandraWriteResult,
  type Rejection,
  type WindowRow,
} from '../src/index.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from './support/cassandra.js';
import { corpusRecords, finalTable, plain, windowRows } from './support/windowRows.js';
import { waitFor } from './support/waitFor.js';

const minute = 60_000;
const at = (iso: string) => new Date(iso);
const row = (startIso: string, key: number, count: number): WindowRow<number> => ({
  windowStart: at(startIso),
  windowEnd: new Date(at(startIso).getTime() + minute),
  key,
  count,
});

/** A TCP server that only counts connection attempts: proves "nothing was sent". */
async function countingServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, connections: () => connections };
}

/** A loopback port with nothing listening (connection refused). */
async function closedPort(): Promise<number> {
  const { server, port } = await countingServer();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function openSockets(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
}

describe('CQL identifiers', () => {
  it('accepts plain identifiers and refuses quoting tricks, reserved words, digits first and > 48 characters', () => {
    for (const good of ['hyper', 'mqtt', 'window_start', 'count', 'status', 'Mixed_Case1', 'a'.repeat(48)]) {
      expect(isCqlIdentifier(good), good).to.equal(true);
    }
    for (const bad of [
      '',
      '1abc',
      '_x',
      'a-b',
      'mqtt; DROP TABLE x',
      '"quoted"',
      'a b',
      'select',
      'TABLE',
      'a'.repeat(49),
      'é',
      42,
      null,
    ]) {
      expect(isCqlIdentifier(bad), String(bad)).to.equal(false);
    }
  });
});

describe('isRetryableCassandraError', () => {
  const {
    errors,
    types: { responseErrorCodes: codes },
  } = cassandra;
  it('retries transient failures: node down, timeouts, unavailable, overloaded, lost connections', () => {
    expect(
      isRetryableCassandraError(
        new errors.NoHostAvailableError({
          '127.0.0.1:9042': Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        }),
      ),
    ).to.equal(true);
    expect(isRetryableCassandraError(new errors.OperationTimedOutError('no answer', '127.0.0.1:9042'))).to.equal(true);
    for (const code of [codes.unavailableException, codes.overloaded, codes.writeTimeout, codes.isBootstrapping]) {
      expect(isRetryableCassandraError(new errors.ResponseError(code, 'transient')), `code ${code}`).to.equal(true);
    }
    expect(isRetryableCassandraError(Object.assign(new Error('Socket was closed'), { isSocketError: true }))).to.equal(
      true,
    );
  });
  it('does not retry permanent failures: bad query, unknown table, credentials, encoding', () => {
    for (const code of [
      codes.invalid,
      codes.syntaxError,
      codes.unauthorized,
      codes.configError,
      codes.badCredentials,
    ]) {
      expect(isRetryableCassandraError(new errors.ResponseError(code, 'permanent')), `code ${code}`).to.equal(false);
    }
    expect(
      isRetryableCassandraError(
        new errors.NoHostAvailableError({
          '127.0.0.1:9042': new errors.AuthenticationError('Provided username x and/or password are incorrect'),
        }),
      ),
    ).to.equal(false);
    expect(isRetryableCassandraError(new TypeError('Not a valid bigint'))).to.equal(false);
    expect(isRetryableCassandraError('not an error')).to.equal(false);
  });
});

describe('cassandraSink without a reachable node', () => {
  it('rejects bad keyspace, table and column names when called, before any connection is attempted', async () => {
    const { server, port, connections } = await countingServer();
    try {
      const options = { contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1' };
      const userClient = new cassandra.Client(options);
      const attempts: Array<() => unknown> = [
        () => cassandraSink(options, windowCountRows({ keyspace: 'hyper-x' })),
        () => cassandraSink(options, windowCountRows({ table: 'mqtt; DROP TABLE hyper.mqtt' })),
        () => cassandraSink(userClient, { ...windowCountRows(), table: 'a'.repeat(49) }),
        () => cassandraSink(userClient, { ...windowCountRows(), keyspace: 'select' }),
        () =>
          cassandraSink<number>(userClient, {
            keyspace: 'home',
            table: 'readings',
            columns: ['id', 'value"'],
            toValues: (n) => [n, n],
          }),
        () =>
          cassandraSink<number>(userClient, {
            keyspace: '1st',
            table: 'readings',
            columns: ['id'],
            toValues: (n) => [n],
          }),
      ];
      for (const attempt of attempts) {
        expect(attempt).to.throw(CqlIdentifierError, /is not a valid CQL identifier/);
      }
      const error = (() => {
        try {
          cassandraSink(options, { ...windowCountRows(), keyspace: 'hyper-x' });
        } catch (e) {
          return e;
        }
      })();
      expect(error).to.be.instanceOf(CqlIdentifierError).and.include({ option: 'keyspace', value: 'hyper-x' });
      await ensureWindowCountTable(userClient, { table: 'bad name' }).then(
        () => expect.fail('ensureWindowCountTable accepted a bad table name'),
        (e: unknown) => expect(e).to.be.instanceOf(CqlIdentifierError),
      );
      await readWindowTotals(userClient, { keyspace: 'drop' }).then(
        () => expect.fail('readWindowTotals accepted a reserved word'),
        (e: unknown) => expect(e).to.be.instanceOf(CqlIdentifierError),
      );
      // Give a stray connection attempt time to show up before asserting there was none.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(connections()).to.equal(0);
      expect(userClient.getState().getConnectedHosts()).to.have.length(0);
      await userClient.shutdown();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects bad numeric options and a bad row mapping when called', () => {
    const options = { contactPoints: ['127.0.0.1:1'], localDataCenter: 'datacenter1' };
    const rows = windowCountRows();
    expect(() => cassandraSink(options, { ...rows, concurrency: 0 })).to.throw(
      RangeError,
      /^cassandraSink: concurrency must be an integer ≥ 1 or Infinity, got 0$/,
    );
    expect(() => cassandraSink(options, { ...rows, retries: 1.5 })).to.throw(
      RangeError,
      /retries must be an integer ≥ 0/,
    );
    expect(() => cassandraSink(options, { ...rows, retries: -1 })).to.throw(
      RangeError,
      /retries must be an integer ≥ 0/,
    );
    expect(() => cassandraSink(options, { ...rows, retries: Infinity }), 'Infinity, the default').not.to.throw();
    expect(() => cassandraSink(options, { ...rows, maxQueued: -1 })).to.throw(
      RangeError,
      /^cassandraSink: maxQueued must be an integer ≥ 0 or Infinity, got -1$/,
    );
    expect(
      () => cassandraSink(options, { ...rows, maxQueued: Infinity }),
      'Infinity, as toMqtt takes it',
    ).not.to.throw();
    expect(() => cassandraSink(options, { ...rows, onQueueFull: 'drop' as 'reject' })).to.throw(
      RangeError,
      /onQueueFull must be 'error' or 'reject'/,
    );
    expect(() =>
      cassandraSink<number>(options, { keyspace: 'k', table: 't', columns: [], toValues: (n) => [n] }),
    ).to.throw(RangeError, /columns must be a non-empty array/);
    expect(() =>
      cassandraSink<number>(options, { keyspace: 'k', table: 't', columns: ['a', 'A'], toValues: (n) => [n, n] }),
    ).to.throw(RangeError, /name a column twice/);
    expect(() => cassandraSink(options, undefined as unknown as typeof rows)).to.throw(
      TypeError,
      /windowCountRows\(\) gives them/,
    );
  });

  it('rejects and skips a value it cannot make a row of (toValues throws or gives the wrong number of values), sending nothing for it', async () => {
    const { server, port, connections } = await countingServer();
    try {
      const rejections: Rejection[] = [];
      const results = await lastValueFrom(
        of(1, 2, 3).pipe(
          cassandraSink<number>(
            { contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1' },
            {
              keyspace: 'home',
              table: 'readings',
              columns: ['id', 'value'],
              toValues: (n) => {
                if (n === 2) throw new Error('no reading for 2');
                return [n];
              },
              onReject: (r) => rejections.push(r),
            },
          ),
          toArray(),
        ),
      );
      expect(results).to.deep.equal([]);
      expect(rejections.map((r) => [r.kind, r.input, r.reason])).to.deep.equal([
        [
          'row',
          1,
          'cannot make a row of the value for home.readings: toValues returned 1 values for 2 columns (id, value)',
        ],
        ['row', 2, 'cannot make a row of the value for home.readings: no reading for 2'],
        [
          'row',
          3,
          'cannot make a row of the value for home.readings: toValues returned 1 values for 2 columns (id, value)',
        ],
      ]);
      expect(connections()).to.equal(0);

      const strict = await lastValueFrom(
        of(1).pipe(
          cassandraSink<number>(
            { contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1' },
            { keyspace: 'home', table: 'readings', columns: ['id', 'value'], toValues: (n) => [n], strict: true },
          ),
        ),
      ).then(
        () => expect.fail('the stream completed'),
        (e: unknown) => e,
      );
      expect(strict).to.be.instanceOf(RejectionError);
      expect((strict as Error).message).to.equal(
        'cassandraSink: row rejected: cannot make a row of the value for home.readings: toValues returned 1 values for 2 columns (id, value)',
      );
      expect(connections()).to.equal(0);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives up after the configured retries with an error naming the cause (node unreachable)', async () => {
    const port = await closedPort();
    const retriesSeen: number[] = [];
    const outages: string[] = [];
    const error = await lastValueFrom(
      of(row('2020-07-01T12:00:00Z', 200, 1)).pipe(
        cassandraSink(
          { contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1' },
          {
            ...windowCountRows(),
            retries: 2,
            retryBaseDelay: 10,
            retryMaxDelay: 50,
            onRetry: (r) => retriesSeen.push(r.attempt),
            onOutage: (o) => outages.push(o.state),
          },
        ),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(outages).to.deep.equal(['down']);
    expect(error).to.be.instanceOf(CassandraWriteError);
    const writeError = error as CassandraWriteError;
    expect(writeError.retryable).to.equal(true);
    expect(writeError.attempts).to.equal(3);
    expect(retriesSeen).to.deep.equal([1, 2]);
    expect(writeError.message).to.match(
      /hyper\.mqtt still failed after 3 attempts, giving up: .*(All host\(s\) tried|ECONNREFUSED)/,
    );
    expect(writeError.cause).to.be.instanceOf(cassandra.errors.NoHostAvailableError);
  });

  it('errors with QueueFullError naming cassandraSink instead of queueing more than maxQueued rows', async () => {
    const port = await closedPort();
    const backlog: number[] = [];
    const error = await lastValueFrom(
      range(0, 10).pipe(
        map((i) => row('2020-07-01T12:00:00Z', 200 + i, 1)),
        cassandraSink(
          { contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1' },
          { ...windowCountRows(), concurrency: 2, maxQueued: 3, retries: 0, onBacklog: (b) => backlog.push(b.queued) },
        ),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(error)
      .to.be.instanceOf(QueueFullError)
      .and.include({ operator: 'cassandraSink', concurrency: 2, maxQueued: 3 });
    expect((error as Error).message).to.match(
      /^cassandraSink: 2 values in flight and 3 queued \(writing to hyper\.mqtt\): the source is faster than they are written\. /,
    );
    expect(Math.max(...backlog)).to.equal(3);
  });

  it("with onQueueFull: 'reject', rejects the rows it has no room for (kind 'queue-full') and writes the rest", async () => {
    const port = await closedPort();
    const rejections: Rejection<WindowRow<number>>[] = [];
    const source = new Subject<WindowRow<number>>();
    const subscription = source
      .pipe(
        cassandraSink(
          { contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1' },
          {
            ...windowCountRows(),
            concurrency: 2,
            maxQueued: 3,
            onQueueFull: 'reject',
            onReject: (r) => rejections.push(r),
            onOutage: () => undefined,
          },
        ),
      )
      .subscribe();
    for (let i = 0; i < 8; i++) source.next(row('2020-07-01T12:00:00Z', 200 + i, 1));
    expect(rejections.map((r) => [r.kind, r.input.key])).to.deep.equal([
      ['queue-full', 205],
      ['queue-full', 206],
      ['queue-full', 207],
    ]);
    subscription.unsubscribe();
  });
});

describe('cassandraSink against a real Cassandra 5 node', function () {
  let node: CassandraNode;
  let admin: Client;

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    node = await cassandraNode();
    admin = new cassandra.Client(node.clientOptions());
    await admin.connect();
  });

  after(async () => {
    await admin?.shutdown();
  });

  it('ensureWindowCountTable creates keyspace and table idempotently, keyed (window_start), window_end, status, aggregator', async function () {
    this.timeout(60_000);
    await ensureWindowCountTable(admin);
    await ensureWindowCountTable(admin); // IF NOT EXISTS: a second call changes nothing
    const columns = await admin.execute(
      'SELECT column_name, kind, position, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
      ['hyper', 'mqtt'],
    );
    const described = columns.rows.map((c) => `${c['column_name']} ${c['kind']} ${c['position']} ${c['type']}`).sort();
    expect(described).to.deep.equal([
      'aggregator clustering 2 text',
      'count regular -1 bigint',
      'final regular -1 boolean',
      'status clustering 1 int',
      'window_end clustering 0 timestamp',
      'window_start partition_key 0 timestamp',
    ]);
    await ensureWindowCountTable(admin, {
      keyspace: 'sink_replication',
      replication: { class: 'NetworkTopologyStrategy', datacenter1: 1 },
    });
    const keyspace = await admin.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [
      'sink_replication',
    ]);
    expect(keyspace.first()['replication']).to.deep.include({
      class: 'org.apache.cassandra.locator.NetworkTopologyStrategy',
      datacenter1: '1',
    });
  });

  describe('window counts from a real access log (logparser-hackers, 1-minute windows, 2-minute watermark)', () => {
    const records = corpusRecords('hackers');
    let appendRows: WindowRow<number>[];
    let expected: string[];

    before(async () => {
      const append = await windowRows(records, 'append');
      appendRows = append.rows;
      expected = plain(finalTable(appendRows));
      const total = appendRows.reduce((sum, r) => sum + r.count, 0);
      // Every parsed line is counted in its window or reported late; none vanish.
      expect(total + append.late).to.equal(records.length);
    });

    it('append mode: every row lands exactly, one result per row', async function () {
      this.timeout(120_000);
      await ensureWindowCountTable(admin, { keyspace: 'sink_append' });
      const results = await lastValueFrom(
        from(appendRows).pipe(cassandraSink(admin, windowCountRows({ keyspace: 'sink_append' })), toArray()),
      );
      expect(results).to.have.length(appendRows.length);
      expect(new Set(results.map((r) => r.value))).to.have.property('size', appendRows.length);
      expect(results.every((r) => r.attempts === 1)).to.equal(true);
      expect(plain(await readWindowTotals(admin, { keyspace: 'sink_append' }))).to.deep.equal(expected);
    });

    it('update mode: the same stream ends with the same table (upserts, newest count wins)', async function () {
      this.timeout(120_000);
      const update = await windowRows(records, 'update');
      expect(update.rows.length).to.be.greaterThan(appendRows.length); // counts rewritten many times
      await ensureWindowCountTable(admin, { keyspace: 'sink_update' });
      const results = await lastValueFrom(
        from(update.rows).pipe(
          cassandraSink(admin, { ...windowCountRows({ keyspace: 'sink_update' }), concurrency: 64 }),
          toArray(),
        ),
      );
      expect(results).to.have.length(update.rows.length);
      expect(plain(await readWindowTotals(admin, { keyspace: 'sink_update' }))).to.deep.equal(expected);
    });

    it('aggregators on a shared subscription write partial counts that readWindowTotals sums', async function () {
      this.timeout(120_000);
      await ensureWindowCountTable(admin, { keyspace: 'sink_shared' });
      const even = records.filter((_, i) => i % 2 === 0);
      const odd = records.filter((_, i) => i % 2 === 1);
      const [a, b] = await Promise.all([windowRows(even, 'append'), windowRows(odd, 'append')]);
      await Promise.all([
        lastValueFrom(
          from(a.rows).pipe(
            cassandraSink(admin, windowCountRows({ keyspace: 'sink_shared', aggregator: 'aggregator-a' })),
            toArray(),
          ),
        ),
        lastValueFrom(
          from(b.rows).pipe(
            cassandraSink(admin, windowCountRows({ keyspace: 'sink_shared', aggregator: 'aggregator-b' })),
            toArray(),
          ),
        ),
      ]);
      const totals = await readWindowTotals(admin, { keyspace: 'sink_shared' });
      const sum = totals.reduce((s, t) => s + t.count, 0);
      expect(sum).to.equal(records.length - a.late - b.late);
      const stored = await admin.execute('SELECT count(*) AS n FROM sink_shared.mqtt');
      expect(Number(stored.first()['n'])).to.equal(a.rows.length + b.rows.length);
      if (a.late + b.late === 0) expect(plain(totals)).to.deep.equal(expected);
    });
  });

  describe('write timestamps: a smaller count never replaces a larger one of the same key', () => {
    const key = { keyspace: 'sink_stamps' };
    const stored = async (aggregator = '') => {
      const result = await admin.execute(
        'SELECT count, WRITETIME(count) AS stamp FROM sink_stamps.mqtt WHERE window_start = ? AND window_end = ? AND status = ? AND aggregator = ?',
        [at('2020-07-01T12:00:00Z'), at('2020-07-01T12:01:00Z'), 200, aggregator],
        { prepare: true },
      );
      const first = result.first();
      return { count: Number(first['count']), stamp: String(first['stamp']) };
    };

    before(async function () {
      this.timeout(60_000);
      await ensureWindowCountTable(admin, key);
    });

    it('count 7, then count 5 for the same key (a restart re-writing an older count): 7 stays', async function () {
      this.timeout(60_000);
      await lastValueFrom(
        of(row('2020-07-01T12:00:00Z', 200, 7)).pipe(
          cassandraSink(admin, windowCountRows({ ...key, aggregator: 'restart' })),
        ),
      );
      await lastValueFrom(
        of(row('2020-07-01T12:00:00Z', 200, 5)).pipe(
          cassandraSink(admin, windowCountRows({ ...key, aggregator: 'restart' })),
        ),
      );
      expect(await stored('restart')).to.deep.equal({
        count: 7,
        stamp: String(Date.parse('2020-07-01T12:01:00Z') * 1000 + 7),
      });
      // The same 7 written again (a replay) changes nothing.
      await lastValueFrom(
        of(row('2020-07-01T12:00:00Z', 200, 7)).pipe(
          cassandraSink(admin, windowCountRows({ ...key, aggregator: 'restart' })),
        ),
      );
      expect((await stored('restart')).count).to.equal(7);
    });

    it('count 5 timing out after it landed and retried after count 7 landed: 7 stays', async function () {
      this.timeout(60_000);
      // The driver client, except that the first write of the 5 lands, then waits for
      // the 7 to land, then fails with a write timeout: the sink retries the 5 last.
      let fiveLanded!: () => void;
      const five = new Promise<void>((resolve) => {
        fiveLanded = resolve;
      });
      let sevenLanded!: () => void;
      const seven = new Promise<void>((resolve) => {
        sevenLanded = resolve;
      });
      let fiveAttempts = 0;
      const order: string[] = [];
      const client = {
        execute: async (query: string, params: unknown[], options: object) => {
          const count = params[4] as number;
          if (count === 7) await five;
          const result = await admin.execute(query, params, options);
          order.push(`${count}`);
          if (count === 7) sevenLanded();
          if (count === 5 && ++fiveAttempts === 1) {
            fiveLanded();
            await seven;
            throw new cassandra.errors.ResponseError(
              cassandra.types.responseErrorCodes.writeTimeout,
              'Operation timed out - received only 0 responses.',
            );
          }
          return result;
        },
        shutdown: () => Promise.resolve(),
      } as unknown as Client;
      const results = await lastValueFrom(
        from([row('2020-07-01T12:00:00Z', 200, 5), row('2020-07-01T12:00:00Z', 200, 7)]).pipe(
          cassandraSink(client, {
            ...windowCountRows({ ...key, aggregator: 'retry' }),
            concurrency: 2,
            retryBaseDelay: 10,
            onOutage: () => undefined,
          }),
          toArray(),
        ),
      );
      expect(results.map((r) => `${r.value.count}:${r.attempts}`)).to.deep.equal(['7:1', '5:2']);
      expect(order, 'the 5 landed once before the 7 and once after it').to.deep.equal(['5', '7', '5']);
      expect(await stored('retry')).to.deep.equal({
        count: 7,
        stamp: String(Date.parse('2020-07-01T12:01:00Z') * 1000 + 7),
      });
    });

    it('the same two writes stamped with the arrival clock (version 0.1) leave the 5: the test above can tell', async function () {
      this.timeout(60_000);
      await lastValueFrom(
        of(row('2020-07-01T12:00:00Z', 200, 7)).pipe(
          cassandraSink(admin, {
            ...windowCountRows({ ...key, aggregator: 'clock' }),
            writeTimestamp: () => Date.now() * 1000,
          }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 2));
      await lastValueFrom(
        of(row('2020-07-01T12:00:00Z', 200, 5)).pipe(
          cassandraSink(admin, {
            ...windowCountRows({ ...key, aggregator: 'clock' }),
            writeTimestamp: () => Date.now() * 1000,
          }),
        ),
      );
      expect((await stored('clock')).count).to.equal(5);
    });
  });

  it('writes any table through a row mapping', async function () {
    this.timeout(60_000);
    await admin.execute(
      "CREATE KEYSPACE IF NOT EXISTS sink_map WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    await admin.execute(
      'CREATE TABLE IF NOT EXISTS sink_map.readings (sensor text, at timestamp, celsius double, PRIMARY KEY (sensor, at))',
    );
    const readings = Array.from({ length: 200 }, (_, i) => ({
      sensor: `s${i % 4}`,
      at: new Date(Date.UTC(2024, 0, 1, 0, i)),
      celsius: 20 + i / 10,
    }));
    const results = await lastValueFrom(
      from(readings).pipe(
        cassandraSink(admin, {
          keyspace: 'sink_map',
          table: 'readings',
          columns: ['sensor', 'at', 'celsius'],
          toValues: (r: (typeof readings)[number]) => [r.sensor, r.at, r.celsius],
        }),
        toArray(),
      ),
    );
    expect(results).to.have.length(200);
    const stored = await admin.execute('SELECT sensor, at, celsius FROM sink_map.readings');
    const got = stored.rows.map((r) => `${r['sensor']} ${(r['at'] as Date).toISOString()} ${r['celsius']}`).sort();
    expect(got).to.deep.equal(readings.map((r) => `${r.sensor} ${r.at.toISOString()} ${r.celsius}`).sort());
  });

  it("a missing table errors the stream at once with Cassandra's message", async function () {
    this.timeout(60_000);
    await ensureWindowCountTable(admin, { keyspace: 'sink_missing' });
    const error = await lastValueFrom(
      of(row('2020-07-01T12:00:00Z', 200, 1)).pipe(
        cassandraSink(admin, windowCountRows({ keyspace: 'sink_missing', table: 'no_such_table' })),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(CassandraWriteError);
    expect(error).to.include({ retryable: false, attempts: 1, target: 'sink_missing.no_such_table' });
    // Cassandra 5.0 says "table … does not exist" (4.x said "unconfigured table …").
    expect((error as Error).message).to.match(
      /^cassandraSink: writing to sink_missing\.no_such_table failed: (table no_such_table does not exist|unconfigured table no_such_table)$/,
    );
    expect((error as CassandraWriteError).cause).to.be.instanceOf(cassandra.errors.ResponseError);

    const noKeyspace = await lastValueFrom(
      of(row('2020-07-01T12:00:00Z', 200, 1)).pipe(
        cassandraSink(admin, windowCountRows({ keyspace: 'sink_no_such_keyspace' })),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(noKeyspace).to.be.instanceOf(CassandraWriteError).and.include({ retryable: false, attempts: 1 });
    expect((noKeyspace as Error).message).to.match(/failed: keyspace sink_no_such_keyspace does not exist$/);
  });

  it('a value the driver cannot encode for its column (wrong type, out of range) is rejected and skipped, without retrying; the others are written', async function () {
    this.timeout(60_000);
    await ensureWindowCountTable(admin, { keyspace: 'sink_types' });
    const rejections: Rejection<WindowRow<number>>[] = [];
    const rows = [
      row('2020-07-01T12:00:00Z', 200, 1),
      row('2020-07-01T12:00:00Z', 2 ** 40, 1),
      row('2020-07-01T12:00:00Z', 404, 2),
      { ...row('2020-07-01T12:00:00Z', 500, 1), windowEnd: new Date(Number.NaN) },
    ];
    const results = await lastValueFrom(
      from(rows).pipe(
        cassandraSink(admin, {
          ...windowCountRows({ keyspace: 'sink_types' }),
          onReject: (r) => rejections.push(r),
        }),
        toArray(),
      ),
    );
    expect(results.map((r) => `${r.value.key}:${r.attempts}`).sort()).to.deep.equal(['200:1', '404:1']);
    // 500's invalid windowEnd is refused when its row is made, 2^40 by the driver later.
    expect(rejections.map((r) => [r.kind, r.input.key])).to.deep.equal([
      ['row', 500],
      ['row', 2 ** 40],
    ]);
    // An invalid windowEnd cannot even stamp the write: refused before it is sent.
    expect(rejections[0]!.reason).to.equal(
      'cannot make a row of the value for sink_types.mqtt: windowEnd Invalid Date is not a valid Date',
    );
    expect(rejections[1]!.reason).to.match(/^cannot write the value to sink_types\.mqtt: RangeError: /);
    expect(plain(await readWindowTotals(admin, { keyspace: 'sink_types' }))).to.have.length(2);

    const error = await lastValueFrom(
      of({ sensor: 's', at: 'not a date' }).pipe(
        cassandraSink(admin, {
          keyspace: 'sink_map',
          table: 'readings',
          columns: ['sensor', 'at'],
          toValues: (r: { sensor: string; at: string }) => [r.sensor, r.at],
          strict: true,
        }),
      ),
    ).then(
      () => expect.fail('the stream completed'),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RejectionError);
    expect((error as Error).message).to.match(
      /^cassandraSink: row rejected: cannot write the value to sink_map\.readings: TypeError: .*(timestamp|Date)/i,
    );
  });

  it('a client built from options is shut down when the stream completes; a passed-in one stays open', async function () {
    this.timeout(60_000);
    await ensureWindowCountTable(admin, { keyspace: 'sink_lifecycle' });
    const before = openSockets();
    const results: CassandraWriteResult<WindowRow<number>>[] = await lastValueFrom(
      of(row('2020-07-01T12:00:00Z', 200, 3)).pipe(
        cassandraSink(node.clientOptions(), windowCountRows({ keyspace: 'sink_lifecycle' })),
        toArray(),
      ),
    );
    expect(results).to.have.length(1);
    // Completion waits for the owned client's shutdown; its sockets finish closing right after.
    await waitFor(() => openSockets() <= before, 'the owned client to close its sockets', 10_000);

    await lastValueFrom(
      of(row('2020-07-01T12:01:00Z', 404, 5)).pipe(
        cassandraSink(admin, windowCountRows({ keyspace: 'sink_lifecycle' })),
      ),
    );
    const stillOpen = await admin.execute('SELECT count(*) AS n FROM sink_lifecycle.mqtt');
    expect(Number(stillOpen.first()['n'])).to.equal(2);
    expect(admin.getState().getConnectedHosts()).to.have.length(1);
  });

  it('unsubscribing mid-stream releases an owned client', async function () {
    this.timeout(60_000);
    const before = openSockets();
    const source = new Subject<WindowRow<number>>();
    let written = 0;
    const subscription = source
      .pipe(
        cassandraSink(node.clientOptions(), windowCountRows({ keyspace: 'sink_lifecycle' })),
        tap(() => written++),
      )
      .subscribe();
    source.next(row('2020-07-01T12:02:00Z', 200, 1));
    await waitFor(() => written === 1, 'the first write');
    expect(openSockets()).to.be.greaterThan(before);
    source.next(row('2020-07-01T12:03:00Z', 200, 1));
    subscription.unsubscribe();
    await waitFor(() => openSockets() <= before, 'the owned client to close its sockets');
  });
});
