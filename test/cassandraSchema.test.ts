// A window-count table with the wrong schema is found when the pipeline starts, with
// one message naming every difference, instead of at the first write minutes later.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { lastValueFrom, of } from 'rxjs';
import {
  WindowCountTableError,
  cassandraSink,
  checkWindowCountTable,
  ensureWindowCountTable,
  readWindowTotals,
  windowCountRows,
} from '../src/index.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from './support/cassandra.js';

const KEYSPACE = 'schema_check';
const ADVICE = '. Drop it, or choose another table (the table option; --table on the command line).';

/** What checking `table` rejects with, or `undefined` when it passes. */
async function checkError(
  client: Client,
  table: string,
  check = checkWindowCountTable,
): Promise<WindowCountTableError | undefined> {
  return check(client, { keyspace: KEYSPACE, table }).then(
    () => undefined,
    (error: unknown) => {
      expect(error).to.be.instanceOf(WindowCountTableError);
      return error as WindowCountTableError;
    },
  );
}

describe('window-count table schema check against a real Cassandra 5 node', function () {
  this.timeout(60_000);
  let admin: Client;

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    const node = await cassandraNode();
    admin = new cassandra.Client(node.clientOptions());
    await admin.connect();
    await admin.execute(
      `CREATE KEYSPACE IF NOT EXISTS ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    const tables: Record<string, string> = {
      // The example: a hand-made table from before the aggregator column, counts as int.
      old_int:
        '(window_start timestamp, window_end timestamp, status int, count int, PRIMARY KEY ((window_start), window_end, status))',
      // Status stored as text and not in the key; a key column the sink does not know.
      text_status:
        '(window_start timestamp, window_end timestamp, region text, status text, aggregator text, count bigint, PRIMARY KEY ((window_start), window_end, region, aggregator))',
      // A counter table, partitioned by window and status together.
      counters:
        '(window_start timestamp, window_end timestamp, status int, aggregator text, count counter, PRIMARY KEY ((window_start, status), window_end, aggregator))',
      // Right columns, with the clustering order reversed and an extra regular column: fine.
      fine: '(window_start timestamp, window_end timestamp, status int, aggregator text, count bigint, final boolean, note text, PRIMARY KEY ((window_start), window_end, status, aggregator)) WITH CLUSTERING ORDER BY (window_end DESC, status ASC, aggregator ASC)',
    };
    for (const [table, definition] of Object.entries(tables)) {
      await admin.execute(`CREATE TABLE IF NOT EXISTS ${KEYSPACE}.${table} ${definition}`);
    }
  });

  after(async () => {
    await admin?.shutdown();
  });

  it('names every difference of a table with counts as int and no aggregator column', async () => {
    const error = await checkError(admin, 'old_int');
    expect(error).to.include({ target: `${KEYSPACE}.old_int`, exists: true });
    expect(error!.differences).to.deep.equal([
      'aggregator is missing',
      'count is int (expected bigint)',
      `final is missing (ALTER TABLE ${KEYSPACE}.old_int ADD final boolean adds it)`,
    ]);
    expect(error!.message).to.equal(
      `checkWindowCountTable: ${KEYSPACE}.old_int exists with another schema: aggregator is missing; count is int (expected bigint); ` +
        `final is missing (ALTER TABLE ${KEYSPACE}.old_int ADD final boolean adds it)${ADVICE}`,
    );
  });

  it('names a wrong type, a wrong key role and an extra key column together', async () => {
    const error = await checkError(admin, 'text_status');
    expect(error!.message).to.equal(
      `checkWindowCountTable: ${KEYSPACE}.text_status exists with another schema: ` +
        'status is text (expected int); status is a regular column (expected a clustering column); ' +
        `final is missing (ALTER TABLE ${KEYSPACE}.text_status ADD final boolean adds it); ` +
        `region is an extra clustering column (the sink does not write it)${ADVICE}`,
    );
  });

  it('names a counter column and a composite partition key', async () => {
    const error = await checkError(admin, 'counters');
    expect(error!.differences).to.deep.equal([
      'status is a partition key column (expected a clustering column)',
      'count is counter (expected bigint)',
      `final is missing (ALTER TABLE ${KEYSPACE}.counters ADD final boolean adds it)`,
    ]);
  });

  it('accepts the right columns whatever their clustering order, with extra regular columns, in any letter case', async () => {
    expect(await checkError(admin, 'fine')).to.equal(undefined);
    expect(await checkError(admin, 'FINE')).to.equal(undefined);
    await lastValueFrom(
      of({ windowStart: new Date(0), windowEnd: new Date(60_000), key: 200, count: 3 }).pipe(
        cassandraSink(admin, windowCountRows({ keyspace: KEYSPACE, table: 'fine' })),
      ),
    );
    expect(await readWindowTotals(admin, { keyspace: KEYSPACE, table: 'fine' })).to.have.length(1);
  });

  it('migrates a table made before the final column: the check names the ALTER TABLE, ensureWindowCountTable runs it, old rows read as not final', async () => {
    // Made afresh: a node kept from an earlier run would hold the table already migrated.
    await admin.execute(`DROP TABLE IF EXISTS ${KEYSPACE}.earlier`);
    await admin.execute(
      `CREATE TABLE ${KEYSPACE}.earlier (window_start timestamp, window_end timestamp, status int, aggregator text, count bigint, PRIMARY KEY ((window_start), window_end, status, aggregator))`,
    );
    await admin.execute(
      `INSERT INTO ${KEYSPACE}.earlier (window_start, window_end, status, aggregator, count) VALUES (0, 60000, 200, '', 7)`,
    );
    const error = await checkError(admin, 'earlier');
    expect(error!.differences).to.deep.equal([
      `final is missing (ALTER TABLE ${KEYSPACE}.earlier ADD final boolean adds it)`,
    ]);
    await ensureWindowCountTable(admin, { keyspace: KEYSPACE, table: 'earlier' });
    expect(await checkError(admin, 'earlier')).to.equal(undefined);
    await lastValueFrom(
      of({ windowStart: new Date(60_000), windowEnd: new Date(120_000), key: 404, count: 2, final: true }).pipe(
        cassandraSink(admin, windowCountRows({ keyspace: KEYSPACE, table: 'earlier' })),
      ),
    );
    const totals = await readWindowTotals(admin, { keyspace: KEYSPACE, table: 'earlier' });
    expect(totals.map(({ status, count, final }) => [status, count, final])).to.deep.equal([
      [200, 7, false],
      [404, 2, true],
    ]);
  });

  it('checkWindowCountTable says a missing table does not exist', async () => {
    const error = await checkError(admin, 'nothing_here');
    expect(error).to.include({ exists: false });
    expect(error!.message).to.equal(
      `checkWindowCountTable: ${KEYSPACE}.nothing_here does not exist: create it with ensureWindowCountTable (or the CREATE TABLE in its documentation).`,
    );
    const noKeyspace = await checkWindowCountTable(admin, { keyspace: 'schema_no_such_keyspace' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((noKeyspace as Error).message).to.equal(
      'checkWindowCountTable: schema_no_such_keyspace.mqtt does not exist: create it with ensureWindowCountTable (or the CREATE TABLE in its documentation).',
    );
  });

  it('ensureWindowCountTable on an existing wrong table fails at once with the same message and leaves it as it is', async () => {
    const before = await admin.execute(
      'SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
      [KEYSPACE, 'old_int'],
    );
    const error = await checkError(admin, 'old_int', ensureWindowCountTable);
    expect(error!.message).to.match(
      /^ensureWindowCountTable: schema_check\.old_int exists with another schema: aggregator is missing; count is int \(expected bigint\); final is missing \(ALTER TABLE schema_check\.old_int ADD final boolean adds it\)\. Drop it/,
    );
    const after = await admin.execute(
      'SELECT column_name, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
      [KEYSPACE, 'old_int'],
    );
    expect(after.rows.map((r) => `${r['column_name']} ${r['type']}`)).to.deep.equal(
      before.rows.map((r) => `${r['column_name']} ${r['type']}`),
    );
    // A table it creates passes its own check.
    await ensureWindowCountTable(admin, { keyspace: KEYSPACE, table: 'created' });
    expect(await checkError(admin, 'created')).to.equal(undefined);
  });
});
