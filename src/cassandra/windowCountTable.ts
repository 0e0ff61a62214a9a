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
import {
  checkCountTable,
  countTableTarget,
  countTimestamp,
  ensureCountTable,
  sumCountTable,
  type CountTableSpec,
} from './countTable.js';

export { WindowCountTableError } from './countTable.js';

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

/**
 * The window-count table: the original job's `hyper.mqtt`, one row per (window, status,
 * aggregator). The window-aggregate table starts with the same columns.
 * @internal
 */
export const WINDOW_COUNT_TABLE: CountTableSpec = {
  defaultTable: 'mqtt',
  ensure: 'ensureWindowCountTable',
  columns: [
    { name: 'window_start', type: 'timestamp', kind: 'partition_key' },
    { name: 'window_end', type: 'timestamp', kind: 'clustering' },
    { name: 'status', type: 'int', kind: 'clustering' },
    { name: 'aggregator', type: 'text', kind: 'clustering' },
    { name: 'count', type: 'bigint', kind: 'regular' },
    { name: 'final', type: 'boolean', kind: 'regular' },
  ],
  added: ['final'],
};

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
  const { keyspace, table } = countTableTarget(WINDOW_COUNT_TABLE, options, 'windowCountRows');
  const aggregator = options.aggregator ?? '';
  if (typeof aggregator !== 'string')
    throw optionChecks('windowCountRows').error('type', 'aggregator', 'a string', aggregator);
  return {
    keyspace,
    table,
    columns: WINDOW_COUNT_TABLE.columns.map((column) => column.name),
    toValues: (row) => [row.windowStart, row.windowEnd, row.key, aggregator, row.count, row.final === true],
    writeTimestamp: countTimestamp,
  };
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
  return checkCountTable(WINDOW_COUNT_TABLE, 'checkWindowCountTable', client, options);
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
  await ensureCountTable(WINDOW_COUNT_TABLE, 'ensureWindowCountTable', client, options);
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
  return sumCountTable(WINDOW_COUNT_TABLE, 'readWindowTotals', client, options);
}
