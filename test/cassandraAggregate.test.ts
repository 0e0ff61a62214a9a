// The window-aggregate table against a real Cassandra 5.0 node: windowedAggregate's rows
// of two aggregators that split a real access log, written by cassandraSink and merged by
// readWindowAggregates, equal the rows of one aggregator over the whole log; the write
// timestamp keeps the larger count; the schema check names every difference; a row
// without its partial is refused; session rows merge by overlapping intervals.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { concat, from, lastValueFrom, toArray } from 'rxjs';
import {
  AggregateCell,
  SessionAggregateState,
  WindowCountTableError,
  WindowedAggregateState,
  cassandraSink,
  checkWindowAggregateTable,
  ensureWindowAggregateTable,
  readWindowAggregates,
  resolveAggregateSpec,
  windowAggregateRows,
  windowedAggregate,
  type AccessLogRecord,
  type AggregateOptions,
  type AggregateRow,
  type Rejection,
  type WindowAggregateTotal,
} from '../src/index.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from './support/cassandra.js';
import { corpusRecords } from './support/windowRows.js';
import { everyAggregate } from './support/aggregates.js';

const KEYSPACE = 'aggregate_table';
const ADVICE = '. Drop it, or choose another table (the table option; --table on the command line).';

const aggregates = everyAggregate<AccessLogRecord>(
  (hit) => hit.bytes,
  (hit) => hit.client,
);

/** The reference job's windows (1 minute, 2-minute watermark, append mode), with partials. */
async function aggregateRows(records: readonly AccessLogRecord[]): Promise<AggregateRow<number>[]> {
  const late: Rejection[] = [];
  const rows = await lastValueFrom(
    from(records).pipe(
      windowedAggregate<AccessLogRecord, number>({
        eventTime: (hit) => hit.time,
        key: (hit) => hit.status,
        windowDuration: '1 minute',
        watermarkDelay: '2 minutes',
        aggregates,
        partials: true,
        onReject: (rejection) => late.push(rejection),
      }),
      toArray(),
    ),
  );
  // Nothing late for any aggregator: the condition under which the parts add up to the whole.
  expect(late, 'late events').to.deep.equal([]);
  return rows;
}

async function write(client: Client, table: string, aggregator: string, rows: readonly AggregateRow<number>[]) {
  await lastValueFrom(
    from(rows).pipe(cassandraSink(client, { ...windowAggregateRows({ keyspace: KEYSPACE, table, aggregator }) })),
    { defaultValue: undefined },
  );
}

const id = (row: { windowStart: Date; windowEnd: Date }, status: number) =>
  `${row.windowStart.toISOString()} ${row.windowEnd.toISOString()} ${status}`;

/** What a reader of the table should see of one aggregator's rows: each row's aggregates, merged state and finality. */
function expected(rows: readonly AggregateRow<number>[]) {
  return rows.map((row) => ({
    id: id(row, row.key),
    count: row.count,
    aggregates: row.aggregates,
    partial: row.partial,
  }));
}
const seen = (totals: readonly WindowAggregateTotal[]) =>
  totals.map((total) => ({
    id: id(total, total.status),
    count: total.count,
    aggregates: total.aggregates,
    partial: total.partial,
  }));
const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** What an error a promise rejects with, or `undefined` when it resolves. */
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as Error,
  );

describe('AggregateCell.specOf: reading a stored partial without its aggregate options', () => {
  const numbers = (options: AggregateOptions<number>) => resolveAggregateSpec(options);
  const cellOf = (options: AggregateOptions<number>, values: readonly number[]) => {
    const cell = new AggregateCell(numbers(options));
    for (const value of values) cell.add(value, `client ${value % 7}`);
    return cell;
  };
  const values = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);

  it("takes the sketches' accuracy and precision from the partial, so its cell reports what the original does", () => {
    const options: AggregateOptions<number> = {
      value: (n) => n,
      sum: true,
      max: true,
      quantiles: [0.25, 0.999],
      quantileAccuracy: 0.02,
      distinct: (n) => n % 7,
      distinctPrecision: 8,
    };
    const original = cellOf(options, values);
    const stored: unknown = JSON.parse(JSON.stringify(original.toPartial()));
    const spec = AggregateCell.specOf(stored, {
      sum: true,
      min: false,
      max: true,
      mean: false,
      quantiles: [0.25, 0.999],
    });
    expect(spec).to.include({ quantileAccuracy: 0.02, distinctPrecision: 8, usesValue: true });
    const read = AggregateCell.fromPartial(stored, spec);
    expect(read.values()).to.deep.equal(original.values());
    read.merge(AggregateCell.fromPartial(stored, spec));
    expect(read.count).to.equal(1000);
  });

  it('reports sum, min, max and mean by default when the partial holds values, and a count alone when it holds none', () => {
    const stored = cellOf({ value: (n) => n, sum: true }, [3, 5]).toPartial();
    expect(AggregateCell.fromPartial(stored, AggregateCell.specOf(stored)).values()).to.deep.equal({
      count: 2,
      sum: 8,
      min: 3,
      max: 5,
      mean: 4,
    });
    const counted = cellOf({}, [3, 5]).toPartial();
    expect(AggregateCell.fromPartial(counted, AggregateCell.specOf(counted)).values()).to.deep.equal({ count: 2 });
  });

  it('says what is missing: the quantiles of a sketch, a sketch for quantiles, values for a sum', () => {
    const sketched = cellOf({ value: (n) => n, quantiles: [0.5] }, values).toPartial();
    expect(() => AggregateCell.specOf(sketched)).to.throw(
      'AggregateCell.specOf: the partial holds a quantile sketch: name the quantiles to read from it (report.quantiles, e.g. [0.5, 0.99])',
    );
    const plain = cellOf({ value: (n) => n, sum: true }, values).toPartial();
    expect(() => AggregateCell.specOf(plain, { quantiles: [0.5] })).to.throw(
      'AggregateCell.specOf: quantiles are asked, but the partial holds no quantile sketch (it was taken without quantiles)',
    );
    expect(() => AggregateCell.specOf(cellOf({}, values).toPartial(), { sum: true })).to.throw(
      'AggregateCell.specOf: sum is asked, but the partial holds no values (it was taken without them)',
    );
    expect(() => AggregateCell.specOf(plain, { sum: false, min: false, max: false, mean: false })).to.throw(
      'AggregateCell.specOf: the partial holds values: report at least one of sum, min, max, mean or quantiles',
    );
    expect(() => AggregateCell.specOf({ format: 1, count: 1, distinct: 'AAAA' })).to.throw(
      'AggregateCell.specOf: distinct is not a HyperLogLog of precision 4 to 12 (3 bytes)',
    );
  });
});

describe('window-aggregate table against a real Cassandra 5 node', function () {
  this.timeout(120_000);
  let client: Client;
  let records: AccessLogRecord[];

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    const node = await cassandraNode();
    client = new cassandra.Client(node.clientOptions());
    await client.connect();
    // A node kept from an earlier run would still hold this file's rows.
    await client.execute(`DROP KEYSPACE IF EXISTS ${KEYSPACE}`);
    records = corpusRecords('elastic');
  });

  after(async () => {
    await client?.shutdown();
  });

  describe('two aggregators splitting the elastic access log', () => {
    let whole: AggregateRow<number>[];
    let first: AggregateRow<number>[];
    let second: AggregateRow<number>[];
    let totals: WindowAggregateTotal[];

    before(async function () {
      this.timeout(300_000);
      await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'split' });
      await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'whole' });
      whole = await aggregateRows(records);
      // Unequal parts, interleaved as a shared subscription deals messages.
      first = await aggregateRows(records.filter((_, i) => i % 3 === 0));
      second = await aggregateRows(records.filter((_, i) => i % 3 !== 0));
      await write(client, 'split', 'a1', first);
      await write(client, 'split', 'a2', second);
      await write(client, 'whole', '', whole);
      totals = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'split' });
    });

    it("merges both aggregators' rows into the one aggregator's: count, sum, min, max, mean, p50, p99, distinct and the state itself", () => {
      expect(whole.length).to.be.greaterThan(250);
      // Not every window holds events of both: a window of one aggregator alone must be read too.
      const firstIds = new Set(first.map((row) => id(row, row.key)));
      const secondIds = new Set(second.map((row) => id(row, row.key)));
      expect([...firstIds].filter((x) => secondIds.has(x)).length).to.be.greaterThan(100);
      expect([...firstIds].filter((x) => !secondIds.has(x)).length).to.be.greaterThan(0);
      expect(seen(totals).sort(byId)).to.deep.equal(expected(whole).sort(byId));
    });

    it('says a total is final when the rows of both aggregators are', () => {
      const final = new Map<string, boolean>();
      for (const row of [...first, ...second])
        final.set(id(row, row.key), (final.get(id(row, row.key)) ?? true) && row.final === true);
      expect(totals.filter((total) => !total.final).length).to.be.greaterThan(0);
      for (const total of totals)
        expect(total.final, id(total, total.status)).to.equal(final.get(id(total, total.status)));
    });

    it("reads one aggregator's table back as its rows, and orders totals by window, then status", async () => {
      const read = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'whole' });
      expect(seen(read)).to.deep.equal(expected(whole).sort(byId));
      expect(read.map((total) => total.final)).to.deep.equal(
        [...whole].sort((a, b) => byId({ id: id(a, a.key) }, { id: id(b, b.key) })).map((row) => row.final === true),
      );
    });

    it('reports the quantiles asked for, read from the merged sketch, rather than those stored', async () => {
      const read = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'split', quantiles: [0.9, 0.5] });
      const busiest = [...whole].sort((a, b) => b.count - a.count)[0]!;
      const total = read.find((t) => id(t, t.status) === id(busiest, busiest.key))!;
      const cell = AggregateCell.fromPartial(
        busiest.partial,
        resolveAggregateSpec({ ...aggregates, quantiles: [0.5, 0.9] }),
      );
      expect(total.aggregates.quantiles).to.deep.equal(cell.values().quantiles);
      // In the order asked, as windowedAggregate reports them.
      expect(Object.keys(total.aggregates.quantiles!)).to.deep.equal(['p90', 'p50']);
    });

    it("gives what the README's CQL gives: one aggregator's rows, and counts and sums added, min and max folded by hand", async () => {
      const readme = readFileSync(join(resolve(import.meta.dirname, '..'), 'README.md'), 'utf8');
      const section = readme.slice(readme.indexOf('### Storing aggregates'));
      const [selectOne, groupBy] = [...section.matchAll(/```sql\n([\s\S]*?)```/g)]
        .slice(0, 1)
        .flatMap((match) => match[1]!.split(';').map((query) => query.trim()))
        .filter((query) => query !== '')
        .map((query) => query.replace('hyper.mqtt_aggregates', `${KEYSPACE}.split`));
      expect(selectOne).to.match(/aggregator = 'a1'/);
      expect(groupBy).to.match(/GROUP BY/);
      const windowStart = Date.parse(
        /window_start = '([^']+)'/.exec(selectOne!)![1]!.replace(' ', 'T').replace('+0000', 'Z'),
      );

      const mine = (await client.execute(selectOne!)).rows;
      const rowsOfFirst = first
        .filter((row) => row.windowStart.getTime() === windowStart)
        .sort((a, b) => a.key - b.key);
      expect(rowsOfFirst.length).to.be.greaterThan(1);
      expect(
        mine.map((row) => ({
          status: row['status'] as number,
          count: Number(row['count']),
          sum: row['sum'] as number,
          min: row['min'] as number,
          max: row['max'] as number,
          mean: row['mean'] as number,
          distinct: Number(row['distinct']),
          quantiles: row['quantiles'] as Record<string, number>,
          final: row['final'] as boolean,
        })),
      ).to.deep.equal(
        rowsOfFirst.map((row) => ({
          status: row.key,
          ...row.aggregates,
          final: row.final === true,
        })),
      );

      const byHand = (await client.execute(groupBy!)).rows;
      const merged = totals.filter((total) => total.windowStart.getTime() === windowStart);
      expect(
        byHand.map((row) => ({
          status: row['status'] as number,
          count: Number(row['counted']),
          sum: row['summed'] as number,
          min: row['least'] as number,
          max: row['greatest'] as number,
        })),
      ).to.deep.equal(
        merged.map(({ status, aggregates: { count, sum, min, max } }) => ({ status, count, sum, min, max })),
      );
    });
  });

  it('keeps the larger count: a smaller one written after it, or a partial row of the same count, does not replace it', async () => {
    await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'stamps' });
    const rows: AggregateRow<number>[] = [];
    // Update mode: one row per event, the same (window, status) with a growing count.
    const state = new WindowedAggregateState<AccessLogRecord, number>(
      {
        eventTime: (hit) => hit.time,
        key: () => 200,
        windowDuration: '1 day',
        watermarkDelay: '1 day',
        outputMode: 'update',
        aggregates,
        partials: true,
      },
      (row) => rows.push(row),
    );
    for (const record of records.slice(0, 40)) state.push(record);
    const largest = rows.at(-1)!;
    expect(rows.map((row) => row.count)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
    const final = { ...largest, final: true };
    // One at a time, largest first: each later write carries a smaller count, or the same count not final.
    const sequence = [final, ...rows.slice().reverse()];
    await lastValueFrom(
      from(sequence).pipe(
        cassandraSink(client, {
          ...windowAggregateRows({ keyspace: KEYSPACE, table: 'stamps', aggregator: 'a1' }),
          concurrency: 1,
        }),
        toArray(),
      ),
    );
    const [total, ...others] = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'stamps' });
    expect(others).to.deep.equal([]);
    expect(total).to.deep.include({ count: 40, final: true, aggregates: largest.aggregates, partial: largest.partial });
  });

  it('refuses a row without its partial with a reason that says partials: true, and writes the rows after it', async () => {
    await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'refused' });
    const withPartials = await aggregateRows(records.slice(0, 300));
    const withoutPartial = withPartials.slice(0, 1).map(({ partial: _partial, ...row }) => row);
    const refused: Rejection[] = [];
    const results = await lastValueFrom(
      concat(from(withPartials.slice(1, 3)), from(withoutPartial), from(withPartials.slice(3))).pipe(
        cassandraSink(client, {
          ...windowAggregateRows({ keyspace: KEYSPACE, table: 'refused' }),
          onReject: (r) => refused.push(r),
        }),
        toArray(),
      ),
    );
    expect(refused.map((r) => [r.kind, r.operator, r.reason])).to.deep.equal([
      [
        'row',
        'cassandraSink',
        `cannot make a row of the value for ${KEYSPACE}.refused: windowAggregateRows: the row has no partial, which the table needs to merge aggregators: give windowedAggregate partials: true`,
      ],
    ]);
    expect(refused[0]!.input).to.equal(withoutPartial[0]);
    expect(results).to.have.length(withPartials.length - 1);
    const read = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'refused' });
    expect(seen(read)).to.deep.equal(expected(withPartials.slice(1)).sort(byId));
  });

  describe('schema check', () => {
    before(async () => {
      await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'created' });
      // Sums as bigint, quantiles as a map that is not frozen, no partial, no mean; an extra key column.
      await client.execute(
        `CREATE TABLE IF NOT EXISTS ${KEYSPACE}.wrong (window_start timestamp, window_end timestamp, status int, aggregator text, part int, ` +
          'count bigint, final boolean, sum bigint, min double, max double, distinct bigint, quantiles map<text, double>, ' +
          'PRIMARY KEY ((window_start), window_end, status, aggregator, part))',
      );
    });

    it('accepts the table ensureWindowAggregateTable made, and names every difference of a wrong one', async () => {
      expect(await rejection(checkWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'created' }))).to.equal(
        undefined,
      );
      const error = await rejection(checkWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'wrong' }));
      expect(error).to.be.instanceOf(WindowCountTableError);
      expect((error as WindowCountTableError).differences).to.deep.equal([
        'sum is bigint (expected double)',
        'mean is missing',
        'quantiles is map<text, double> (expected frozen<map<text, double>>)',
        'partial is missing',
        'part is an extra clustering column (the sink does not write it)',
      ]);
      expect(error!.message).to.equal(
        `checkWindowAggregateTable: ${KEYSPACE}.wrong exists with another schema: sum is bigint (expected double); mean is missing; ` +
          'quantiles is map<text, double> (expected frozen<map<text, double>>); partial is missing; ' +
          `part is an extra clustering column (the sink does not write it)${ADVICE}`,
      );
      const ensured = await rejection(ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'wrong' }));
      expect(ensured!.message).to.match(
        /^ensureWindowAggregateTable: aggregate_table\.wrong exists with another schema: sum is bigint \(expected double\); mean is missing;/,
      );
    });

    it('says a missing table does not exist, and which function creates it', async () => {
      const error = await rejection(checkWindowAggregateTable(client, { keyspace: KEYSPACE }));
      expect(error).to.be.instanceOf(WindowCountTableError);
      expect(error).to.include({ exists: false, target: `${KEYSPACE}.mqtt_aggregates` });
      expect(error!.message).to.equal(
        `checkWindowAggregateTable: ${KEYSPACE}.mqtt_aggregates does not exist: create it with ensureWindowAggregateTable (or the CREATE TABLE in its documentation).`,
      );
    });
  });

  describe('session windows', () => {
    const gap = 30_000;

    /**
     * The session rows SessionAggregateState makes of these events (gap 30 s, a watermark
     * late enough that nothing is late), with partials. With `stopAfter`, the aggregator
     * stops after that many events as a durable one does: it writes its open sessions so
     * far (partial rows, earlier extents of sessions that go on), then continues from its
     * snapshot.
     */
    function sessionRows(events: readonly AccessLogRecord[], stopAfter?: number): AggregateRow<number>[] {
      const rows: AggregateRow<number>[] = [];
      const late: Rejection[] = [];
      const options = {
        eventTime: (hit: AccessLogRecord) => hit.time,
        key: (hit: AccessLogRecord) => hit.status,
        sessionGap: gap,
        watermarkDelay: '10 minutes',
        aggregates,
        partials: true,
        onReject: (rejection: Rejection) => late.push(rejection),
      };
      let state = new SessionAggregateState<AccessLogRecord, number>(options, (row) => rows.push(row));
      for (const [i, event] of events.entries()) {
        if (i === stopAfter) {
          rows.push(...state.openRows());
          const snapshot = JSON.parse(JSON.stringify(state.snapshot())) as ReturnType<typeof state.snapshot>;
          state = new SessionAggregateState<AccessLogRecord, number>(options, (row) => rows.push(row));
          state.restore(snapshot);
        }
        state.push(event);
      }
      state.flush();
      expect(late, 'late events').to.deep.equal([]);
      return rows;
    }

    it("merges the rows of a status whose intervals overlap or touch, transitively, into the one aggregator's sessions, leaving out earlier extents", async () => {
      await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'sessions' });
      const events = records.slice(0, 4_000);
      const whole = sessionRows(events);
      // Aggregator a1 stopped once and went on: its earlier extents are in the table too.
      const first = sessionRows(
        events.filter((_, i) => i % 2 === 0),
        1_000,
      );
      const second = sessionRows(events.filter((_, i) => i % 2 === 1));
      expect(first.filter((row) => !row.final).length).to.be.greaterThan(0);
      await write(client, 'sessions', 'a1', first);
      await write(client, 'sessions', 'a2', second);

      const read = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'sessions', sessions: true });
      expect(whole.length).to.be.greaterThan(50);
      // The split leaves sessions in pieces that only merge through a third (a chain), or that merely touch.
      const pieces = first.filter((row) => row.final).length + second.length;
      expect(pieces).to.be.greaterThan(whole.length);
      expect(seen(read)).to.deep.equal(expected(whole).sort(byId));
      // The earlier extents (partial rows) are left out, so they do not keep a total partial:
      // only the sessions still open when the aggregators ended are.
      const open = read.filter((total) => !total.final);
      expect(open.length).to.be.lessThan(10);
      for (const total of open)
        expect(total.windowEnd.getTime()).to.be.greaterThan(events.at(-1)!.time.getTime() - 600_000);

      // Without sessions the same rows are windows of their own: nothing merges across intervals.
      const asWindows = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'sessions' });
      expect(asWindows.length).to.be.greaterThan(read.length);
    });

    it('merges sessions that only touch (one starts where the other ends), as Spark does, and chains of overlaps', async () => {
      await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'touching' });
      const at = (seconds: number, client = 'c1'): AccessLogRecord =>
        // Only what sessionRows reads of a record.
        ({
          time: new Date(Date.UTC(2020, 6, 1, 12, 0, seconds)),
          status: 200,
          bytes: 100 + seconds,
          client,
        }) as AccessLogRecord;
      // a1: 0 and 60 (two sessions); a2: 30 (touches a1's first at its end, and a1's second starts at its end); 200 alone.
      const first = sessionRows([at(0), at(60, 'c2')]);
      const second = sessionRows([at(30, 'c3'), at(200)]);
      const whole = sessionRows([at(0), at(60, 'c2'), at(30, 'c3'), at(200)]);
      expect(whole.map((row) => [row.windowStart.getUTCSeconds(), row.count])).to.deep.equal([
        [0, 3],
        [20, 1],
      ]);
      await write(client, 'touching', 'a1', first);
      await write(client, 'touching', 'a2', second);
      const read = await readWindowAggregates(client, { keyspace: KEYSPACE, table: 'touching', sessions: true });
      expect(seen(read)).to.deep.equal(expected(whole).sort(byId));
    });
  });

  it('names the row whose partial does not merge with the others of its window', async () => {
    await ensureWindowAggregateTable(client, { keyspace: KEYSPACE, table: 'mixed' });
    const rows = await aggregateRows(records.slice(0, 50));
    const other = await lastValueFrom(
      from(records.slice(0, 50)).pipe(
        windowedAggregate<AccessLogRecord, number>({
          eventTime: (hit) => hit.time,
          key: (hit) => hit.status,
          windowDuration: '1 minute',
          watermarkDelay: '2 minutes',
          aggregates: { ...aggregates, distinctPrecision: 10 },
          partials: true,
        }),
        toArray(),
      ),
    );
    await write(client, 'mixed', 'a1', rows.slice(0, 1));
    await write(client, 'mixed', 'a2', other.slice(0, 1));
    const error = await rejection(readWindowAggregates(client, { keyspace: KEYSPACE, table: 'mixed' }));
    const row = rows[0]!;
    expect(error!.message).to.equal(
      `readWindowAggregates: the row of window ${row.windowStart.toISOString()} to ${row.windowEnd.toISOString()}, status ${row.key}, aggregator "a2": ` +
        'AggregateCell.fromPartial: distinct is not a hyperlolo HyperLogLog of precision 12 (1119 bytes, 4191 expected)',
    );
  });
});
