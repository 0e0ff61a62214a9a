/**
 * The reference table for window counts (keyspace `hyper`, table `mqtt`, as the
 * original Spark job wrote): how {@link WindowRow}s map to it, its schema helper,
 * and a reader that sums aggregators.
 * @module
 */
import type { Client } from 'cassandra-driver';
import type { WindowRow } from '../window/windowRow.js';
import type { CassandraTableMapping } from './cassandraSink.js';
import { optionChecks } from '../internal/options.js';
import { assertCqlIdentifier } from './identifier.js';

/** Where the window counts live. */
export interface WindowCountTableOptions {
  /** Keyspace, a plain CQL identifier. Default `'hyper'`. */
  keyspace?: string;
  /** Table, a plain CQL identifier. Default `'mqtt'`. */
  table?: string;
}

/** Options of {@link ensureWindowCountTable}. */
export interface EnsureWindowCountTableOptions extends WindowCountTableOptions {
  /**
   * The keyspace's replication map, used only when the keyspace is created.
   * Default `{ class: 'SimpleStrategy', replication_factor: 1 }` (one test node);
   * for a real cluster e.g. `{ class: 'NetworkTopologyStrategy', datacenter1: 3 }`.
   * Keys and values: letters, digits, `_` and `.` only.
   */
  replication?: Readonly<Record<string, string | number>>;
}

/** One window's total for one status, summed over every aggregator's partial count. */
export interface WindowTotal {
  readonly windowStart: Date;
  readonly windowEnd: Date;
  readonly status: number;
  readonly count: number;
  /** Whether every aggregator's row of it is final (see {@link WindowRow.final}): the total will not change. */
  readonly final: boolean;
}

/** The defaults of {@link WindowCountTableOptions}: the original job's keyspace and table. */
const WINDOW_COUNT_TABLE_DEFAULTS = { keyspace: 'hyper', table: 'mqtt' } as const;

/** Resolved, validated `keyspace.table`; a bad name throws an error naming `operator`. */
function windowCountTarget(
  options: WindowCountTableOptions | undefined,
  operator: string,
): { keyspace: string; table: string } {
  return {
    keyspace: assertCqlIdentifier('keyspace', options?.keyspace ?? WINDOW_COUNT_TABLE_DEFAULTS.keyspace, operator),
    table: assertCqlIdentifier('table', options?.table ?? WINDOW_COUNT_TABLE_DEFAULTS.table, operator),
  };
}

/** Where a column sits in the table, as `system_schema.columns` names it. */
type ColumnKind = 'partition_key' | 'clustering' | 'regular' | 'static';

/** The columns {@link windowCountRows} writes, in its `toValues` order, with the type and key role each needs. */
const WINDOW_COUNT_COLUMNS: ReadonlyArray<{ name: string; type: string; kind: ColumnKind }> = [
  { name: 'window_start', type: 'timestamp', kind: 'partition_key' },
  { name: 'window_end', type: 'timestamp', kind: 'clustering' },
  { name: 'status', type: 'int', kind: 'clustering' },
  { name: 'aggregator', type: 'text', kind: 'clustering' },
  { name: 'count', type: 'bigint', kind: 'regular' },
  { name: 'final', type: 'boolean', kind: 'regular' },
];

/** Regular columns added after the table's first version, with the statement that adds each to an older table. */
const ADDED_COLUMNS: ReadonlyArray<{ name: string; type: string }> = [{ name: 'final', type: 'boolean' }];

/** Options of {@link windowCountRows}. */
export interface WindowCountRowsOptions extends WindowCountTableOptions {
  /**
   * This aggregator's id, written to the `aggregator` column. Default `''`. Give
   * each aggregator sharing an MQTT subscription its own id so that their partial
   * counts do not overwrite each other; {@link readWindowTotals} sums them.
   */
  aggregator?: string;
}

/**
 * The window-count table's write timestamp: `windowEnd` (ms) × 1000 + `count`. As a
 * `bigint`: past the year 2255 the product is no longer a safe JavaScript integer.
 */
function windowCountTimestamp(row: WindowRow<number>): bigint {
  const windowEnd = row.windowEnd instanceof Date ? row.windowEnd.getTime() : Number.NaN;
  if (!Number.isSafeInteger(windowEnd)) throw new TypeError(`windowEnd ${String(row.windowEnd)} is not a valid Date`);
  if (!Number.isSafeInteger(row.count)) throw new TypeError(`count ${String(row.count)} is not a whole number`);
  return BigInt(windowEnd) * 1000n + BigInt(row.count);
}

/**
 * How {@link cassandraSink} writes {@link WindowRow}`<number>` rows (per-status
 * counts) into the window-count table: `window_start`, `window_end`, `status` =
 * `key`, `aggregator`, `count` and `final` (whether the count is the window's last
 * word; `false` when the row does not say), in `hyper.mqtt` unless told otherwise.
 * Spread it into the sink's options, with any other option beside it.
 *
 * The primary key makes each write an upsert, so an update-mode stream and an
 * append-mode stream end with the same table. Each row is stamped `windowEnd` (ms) ×
 * 1000 + `count` (microseconds): for one (window, status, aggregator) key the
 * timestamp grows with the count, so the largest count stays however writes of that
 * key overtake each other (update mode: counts 5 then 6, the 5 retried after the 6
 * landed) and however many times a row is written again (a restarted aggregator
 * replaying its state): a smaller count never replaces a larger one. A final row and a
 * partial row of the same count carry the same timestamp, and Cassandra then keeps the
 * larger value, `true`: a partial row never replaces the final one either. Two
 * consequences: a `DELETE` from cqlsh is stamped with the wall clock, later than
 * these timestamps, so it shadows the row even against later writes (and misses
 * rows of windows ahead of the wall clock): use `TRUNCATE` to start a table afresh;
 * and a table written by version 0.1, which stamped rows with the wall clock, must
 * be truncated before a later version writes to it, or its old rows would win.
 *
 * Names are checked as CQL identifiers when it is called.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { from, lastValueFrom } from 'rxjs';
 * import { cassandraSink, ensureWindowCountTable, windowCountRows, type WindowRow } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowCountTable(client, { table: 'counts' });
 * const rows: WindowRow<number>[] = [
 *   { windowStart: new Date('2020-07-01T12:00:00Z'), windowEnd: new Date('2020-07-01T12:01:00Z'), key: 404, count: 3 },
 * ];
 * await lastValueFrom(from(rows).pipe(cassandraSink(client, { ...windowCountRows({ table: 'counts', aggregator: 'a1' }), concurrency: 8 })));
 * await client.shutdown();
 * ```
 * @see {@link ensureWindowCountTable}, {@link readWindowTotals}
 * @param options - keyspace and table (default `hyper.mqtt`), this aggregator's id.
 * @returns the keyspace, table, columns, `toValues` and `writeTimestamp` options of {@link cassandraSink}.
 */
export function windowCountRows(
  options: WindowCountRowsOptions = {},
): Required<CassandraTableMapping<WindowRow<number>>> {
  const { keyspace, table } = windowCountTarget(options, 'windowCountRows');
  const aggregator = options.aggregator ?? '';
  if (typeof aggregator !== 'string')
    throw optionChecks('windowCountRows').error('type', 'aggregator', 'a string', aggregator);
  return {
    keyspace,
    table,
    columns: WINDOW_COUNT_COLUMNS.map((column) => column.name),
    toValues: (row) => [row.windowStart, row.windowEnd, row.key, aggregator, row.count, row.final === true],
    writeTimestamp: windowCountTimestamp,
  };
}

const KIND_NAMES: Readonly<Record<string, string>> = {
  partition_key: 'a partition key column',
  clustering: 'a clustering column',
  regular: 'a regular column',
  static: 'a static column',
};
const kindName = (kind: string) => KIND_NAMES[kind] ?? `a ${kind} column`;

/**
 * The error {@link ensureWindowCountTable} and {@link checkWindowCountTable} throw
 * when the table does not have the columns {@link cassandraSink} writes (or does
 * not exist, for the check alone). `message` names the function that checked and
 * every difference, in one sentence.
 */
export class WindowCountTableError extends Error {
  override readonly name = 'WindowCountTableError';
  /** The function that checked: `ensureWindowCountTable` or `checkWindowCountTable`. */
  readonly operator: string;
  /** `keyspace.table` checked. */
  readonly target: string;
  /** Each difference as a phrase, e.g. `count is int (expected bigint)`. */
  readonly differences: readonly string[];
  /** Whether the table exists. */
  readonly exists: boolean;
  /**
   * @param options - the `operator` that checked, the `target` checked, its
   *   `differences` and whether it `exists`.
   */
  constructor(options: {
    readonly operator: string;
    readonly target: string;
    readonly differences: readonly string[];
    readonly exists: boolean;
  }) {
    const { operator, target, differences, exists } = options;
    super(
      exists
        ? `${operator}: ${target} exists with another schema: ${differences.join('; ')}. Drop it, or choose another table (the table option; --table on the command line).`
        : `${operator}: ${target} does not exist: create it with ensureWindowCountTable (or the CREATE TABLE in its documentation).`,
    );
    this.operator = operator;
    this.target = target;
    this.differences = differences;
    this.exists = exists;
  }
}

/**
 * How the existing columns differ from what the sink writes, one phrase each.
 * Extra regular columns are fine (the sink leaves them empty); an extra key column
 * is not (every INSERT would lack it).
 */
function schemaDifferences(
  target: string,
  columns: ReadonlyArray<{ name: string; type: string; kind: string }>,
): string[] {
  const byName = new Map(columns.map((column) => [column.name, column]));
  const differences: string[] = [];
  for (const expected of WINDOW_COUNT_COLUMNS) {
    const actual = byName.get(expected.name);
    if (actual === undefined) {
      const added = ADDED_COLUMNS.find((column) => column.name === expected.name);
      differences.push(
        added === undefined
          ? `${expected.name} is missing`
          : `${expected.name} is missing (ALTER TABLE ${target} ADD ${added.name} ${added.type} adds it)`,
      );
      continue;
    }
    if (actual.type !== expected.type)
      differences.push(`${expected.name} is ${actual.type} (expected ${expected.type})`);
    if (actual.kind !== expected.kind)
      differences.push(`${expected.name} is ${kindName(actual.kind)} (expected ${kindName(expected.kind)})`);
  }
  const known = new Set(WINDOW_COUNT_COLUMNS.map((column) => column.name));
  for (const column of columns) {
    if (!known.has(column.name) && (column.kind === 'partition_key' || column.kind === 'clustering')) {
      differences.push(
        `${column.name} is an extra ${column.kind === 'clustering' ? 'clustering' : 'partition key'} column (the sink does not write it)`,
      );
    }
  }
  return differences;
}

/**
 * Checks that the window-count table exists with the columns {@link cassandraSink}
 * writes: `window_start timestamp` (partition key), `window_end timestamp`,
 * `status int` and `aggregator text` (clustering columns), `count bigint` and
 * `final boolean` (regular). A table made before rows said whether they were final
 * lacks `final`: the error gives the `ALTER TABLE` that adds it, which
 * {@link ensureWindowCountTable} runs by itself when nothing else differs. For tables you create yourself; {@link ensureWindowCountTable} runs
 * it too. Extra regular columns are allowed; clustering order is not checked.
 *
 * It reads `system_schema.columns`, so a wrong table is found when the pipeline
 * starts instead of at its first write, minutes later, with the counts since lost.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { checkWindowCountTable } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await checkWindowCountTable(client, { keyspace: 'hyper', table: 'mqtt' });
 * // e.g. WindowCountTableError: checkWindowCountTable: hyper.mqtt exists with another schema: count is int (expected bigint); aggregator is missing. …
 * await client.shutdown();
 * ```
 * @see {@link ensureWindowCountTable}
 * @param client - a driver client (connected on demand).
 * @param options - keyspace and table (default `hyper.mqtt`).
 * @returns resolves when the table fits; rejects with a {@link WindowCountTableError}
 *   naming every difference, or the missing table.
 */
export function checkWindowCountTable(client: Client, options: WindowCountTableOptions = {}): Promise<void> {
  return checkTable('checkWindowCountTable', client, options);
}

/** {@link checkWindowCountTable}, its errors naming `operator`. */
async function checkTable(operator: string, client: Client, options: WindowCountTableOptions): Promise<void> {
  const { target, columns } = await readColumns(operator, client, options);
  if (columns.length === 0) throw new WindowCountTableError({ operator, target, differences: [], exists: false });
  const differences = schemaDifferences(target, columns);
  if (differences.length > 0) throw new WindowCountTableError({ operator, target, differences, exists: true });
}

/** The table's columns as `system_schema.columns` has them (none when it does not exist). */
async function readColumns(
  operator: string,
  client: Client,
  options: WindowCountTableOptions,
): Promise<{ target: string; columns: { name: string; type: string; kind: string }[] }> {
  const { keyspace, table } = windowCountTarget(options, operator);
  // Unquoted names are stored folded to lower case.
  const result = await client.execute(
    'SELECT column_name, kind, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
    [keyspace.toLowerCase(), table.toLowerCase()],
    { prepare: true },
  );
  const columns = result.rows.map((row) => ({
    name: String(row['column_name']),
    type: String(row['type']),
    kind: String(row['kind']),
  }));
  return { target: `${keyspace}.${table}`, columns };
}

/**
 * Adds the columns of {@link ADDED_COLUMNS} that a table of an earlier version lacks,
 * when that is all that differs: a table wrong in any other way is left as it is, for
 * the check to name.
 */
async function addMissingColumns(operator: string, client: Client, options: WindowCountTableOptions): Promise<void> {
  const { target, columns } = await readColumns(operator, client, options);
  const present = new Set(columns.map((column) => column.name));
  const missing = ADDED_COLUMNS.filter((column) => !present.has(column.name));
  if (missing.length === 0 || schemaDifferences(target, columns).length !== missing.length) return;
  for (const { name, type } of missing) await client.execute(`ALTER TABLE ${target} ADD ${name} ${type}`);
}

/** bigint columns come back as the driver's Long (or a JS bigint with useBigIntAsLong). */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return (value as { toNumber(): number }).toNumber();
}

const REPLICATION_TOKEN = /^[A-Za-z0-9_.]{1,100}$/;

function replicationLiteral(operator: string, replication: Readonly<Record<string, string | number>>): string {
  const entries = Object.entries(replication);
  if (entries.length === 0)
    throw optionChecks(operator).error('range', 'replication', "a map with at least the strategy's class", replication);
  return (
    '{' +
    entries
      .map(([key, value]) => {
        const text = String(value);
        if (!REPLICATION_TOKEN.test(key) || !REPLICATION_TOKEN.test(text)) {
          throw new TypeError(
            `${operator}: replication ${JSON.stringify(key)}: ${JSON.stringify(value)} is not allowed (letters, digits, '_' and '.' only)`,
          );
        }
        return `'${key}': '${text}'`;
      })
      .join(', ') +
    '}'
  );
}

/**
 * Creates the keyspace and the window-count table if they do not exist; an
 * existing table is left as it is, but checked ({@link checkWindowCountTable}): one
 * without the columns the sink writes is an error naming every difference, raised
 * here rather than at the first write. The one migration it makes: a table from an
 * earlier version, without `final`, gets it (`ALTER TABLE … ADD final boolean`; its
 * rows so far read `final` as null, not final). The table:
 *
 * ```sql
 * CREATE TABLE hyper.mqtt (
 *   window_start timestamp,
 *   window_end   timestamp,
 *   status       int,
 *   aggregator   text,      -- '' for a single aggregator
 *   count        bigint,
 *   final        boolean,   -- the window's last word (see WindowRow.final)
 *   PRIMARY KEY ((window_start), window_end, status, aggregator)
 * );
 * ```
 *
 * The key makes every write an upsert: writing the same (window, status,
 * aggregator) again (update mode, a redelivered message, a retried write)
 * overwrites the count instead of adding to it. `aggregator` lets several
 * aggregators that share an MQTT subscription each keep their own partial count;
 * {@link readWindowTotals} sums them.
 *
 * Names are checked as CQL identifiers before anything is sent.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { ensureWindowCountTable } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowCountTable(client, { keyspace: 'hyper', table: 'mqtt' });
 * await client.shutdown();
 * ```
 * @see {@link cassandraSink}, {@link checkWindowCountTable}, {@link readWindowTotals}
 * @param client - a connected or unconnected driver client (connected on demand).
 * @param options - keyspace, table, replication.
 * @returns resolves once both exist and the schema agrees across the cluster; rejects
 *   with a {@link WindowCountTableError} when an existing table has another schema.
 */
export async function ensureWindowCountTable(
  client: Client,
  options: EnsureWindowCountTableOptions = {},
): Promise<void> {
  const operator = 'ensureWindowCountTable';
  const { keyspace, table } = windowCountTarget(options, operator);
  const replication = replicationLiteral(
    operator,
    options.replication ?? { class: 'SimpleStrategy', replication_factor: 1 },
  );
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${replication}`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.${table} (
    window_start timestamp,
    window_end timestamp,
    status int,
    aggregator text,
    count bigint,
    final boolean,
    PRIMARY KEY ((window_start), window_end, status, aggregator)
  )`);
  await addMissingColumns(operator, client, options);
  await checkTable(operator, client, options);
}

/**
 * Reads the window-count table and sums each (window, status) over aggregators; a total
 * is final when every aggregator's row of it is. It reads the whole table: meant for
 * tests, examples and small tables.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { readWindowTotals } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * for (const { windowStart, status, count } of await readWindowTotals(client)) {
 *   console.log(windowStart.toISOString(), status, count);
 * }
 * await client.shutdown();
 * ```
 * @see {@link ensureWindowCountTable}
 * @param client - a driver client.
 * @param options - keyspace and table (default `hyper.mqtt`).
 * @returns the totals, ordered by window start, window end, then status.
 */
export async function readWindowTotals(client: Client, options: WindowCountTableOptions = {}): Promise<WindowTotal[]> {
  const { keyspace, table } = windowCountTarget(options, 'readWindowTotals');
  const totals = new Map<
    string,
    { windowStart: Date; windowEnd: Date; status: number; count: number; final: boolean }
  >();
  // eachRow pages through the table (fetchSize rows at a time) instead of holding it all.
  const query = `SELECT window_start, window_end, status, count, final FROM ${keyspace}.${table}`;
  await new Promise<void>((resolve, reject) => {
    client.eachRow(
      query,
      [],
      { prepare: true, autoPage: true },
      (_n, row) => {
        const windowStart = row['window_start'] as Date;
        const windowEnd = row['window_end'] as Date;
        const status = row['status'] as number;
        const count = toNumber(row['count']);
        const final = row['final'] === true;
        const id = `${windowStart.getTime()}/${windowEnd.getTime()}/${status}`;
        const total = totals.get(id);
        if (total) {
          total.count += count;
          total.final &&= final;
        } else totals.set(id, { windowStart, windowEnd, status, count, final });
      },
      (error) => (error ? reject(error) : resolve()),
    );
  });
  return [...totals.values()].sort(
    (a, b) =>
      a.windowStart.getTime() - b.windowStart.getTime() ||
      a.windowEnd.getTime() - b.windowEnd.getTime() ||
      a.status - b.status,
  );
}
