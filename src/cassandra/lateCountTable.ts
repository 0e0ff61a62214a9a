/**
 * The late-count table: how many events came too late for each (window, status), per
 * aggregator, kept by {@link durableWindowedCount}'s `writeLate` beside the on-time
 * counts, so that on-time plus late adds up to every event accepted.
 * @module
 */
import type { Client } from 'cassandra-driver';
import type { LateRow } from '../durable/pendingRows.js';
import { optionChecks } from '../internal/options.js';
import type { CassandraTableMapping } from './cassandraSink.js';
import {
  checkCountTable,
  countTableTarget,
  countTimestamp,
  ensureCountTable,
  sumCountTable,
  type CountTableOptions,
  type CountTableSpec,
} from './countTable.js';
import type { EnsureWindowCountTableOptions } from './windowCountTable.js';

/** Where the late counts live: keyspace `hyper` and table `mqtt_late` unless told otherwise. */
export type LateCountTableOptions = CountTableOptions;

/** Options of {@link lateCountRows}. */
export interface LateCountRowsOptions extends LateCountTableOptions {
  /** This aggregator's id, as for {@link windowCountRows}. Default `''`. */
  aggregator?: string;
}

/** One window's late total for one status, summed over aggregators and parts. */
export interface LateTotal {
  readonly windowStart: Date;
  readonly windowEnd: Date;
  readonly status: number;
  readonly count: number;
}

/** The late-count table: one row per (window, status, aggregator, part). */
const LATE_COUNT_TABLE: CountTableSpec = {
  defaultTable: 'mqtt_late',
  ensure: 'ensureLateCountTable',
  columns: [
    { name: 'window_start', type: 'timestamp', kind: 'partition_key' },
    { name: 'window_end', type: 'timestamp', kind: 'clustering' },
    { name: 'status', type: 'int', kind: 'clustering' },
    { name: 'aggregator', type: 'text', kind: 'clustering' },
    { name: 'part', type: 'bigint', kind: 'clustering' },
    { name: 'count', type: 'bigint', kind: 'regular' },
  ],
  added: [],
};

/**
 * How {@link cassandraSink} writes {@link LateRow}`<number>` rows into the late-count
 * table (`hyper.mqtt_late` unless told otherwise): `window_start`, `window_end`,
 * `status` = `key`, `aggregator`, `part` and `count`. Pass it to the sink in
 * {@link durableWindowedCount}'s `writeLate`.
 *
 * As in the window-count table, each row is stamped `windowEnd` (ms) × 1000 + `count`, so
 * for one (window, status, aggregator, part) a smaller count never replaces a larger
 * one, however writes overtake each other or are repeated after a restart.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { cassandraSink, ensureLateCountTable, lateCountRows } from 'mqtt-iot-stream';
 *
 * const cassandra = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureLateCountTable(cassandra);
 * // durableWindowedCount({ …,
 * //   writeLate: (rows, { onReject }) => rows.pipe(cassandraSink(cassandra, { ...lateCountRows({ aggregator: 'a1' }), onReject })) })
 * await cassandra.shutdown();
 * ```
 * @see {@link ensureLateCountTable}, {@link readLateTotals}
 * @param options - keyspace and table (default `hyper.mqtt_late`), this aggregator's id.
 * @returns the keyspace, table, columns, `toValues` and `writeTimestamp` options of {@link cassandraSink}.
 */
export function lateCountRows(options: LateCountRowsOptions = {}): Required<CassandraTableMapping<LateRow<number>>> {
  const { keyspace, table } = countTableTarget(LATE_COUNT_TABLE, options, 'lateCountRows');
  const aggregator = options.aggregator ?? '';
  if (typeof aggregator !== 'string')
    throw optionChecks('lateCountRows').error('type', 'aggregator', 'a string', aggregator);
  return {
    keyspace,
    table,
    columns: LATE_COUNT_TABLE.columns.map((column) => column.name),
    toValues: (row) => [row.windowStart, row.windowEnd, row.key, aggregator, row.part, row.count],
    writeTimestamp: countTimestamp,
  };
}

/**
 * Checks that the late-count table exists with the columns {@link lateCountRows}
 * writes: `window_start timestamp` (partition key), `window_end timestamp`, `status
 * int`, `aggregator text` and `part bigint` (clustering columns), `count bigint`.
 *
 * @param client - a driver client.
 * @param options - keyspace and table (default `hyper.mqtt_late`).
 * @returns resolves when the table fits; rejects with a {@link WindowCountTableError}
 *   naming every difference, or the missing table.
 */
export function checkLateCountTable(client: Client, options: LateCountTableOptions = {}): Promise<void> {
  return checkCountTable(LATE_COUNT_TABLE, 'checkLateCountTable', client, options);
}

/**
 * Creates the keyspace and the late-count table if they do not exist, then checks it
 * ({@link checkLateCountTable}):
 *
 * ```sql
 * CREATE TABLE hyper.mqtt_late (
 *   window_start timestamp,
 *   window_end   timestamp,
 *   status       int,
 *   aggregator   text,
 *   part         bigint,   -- which of an aggregator's counts of this (window, status)
 *   count        bigint,
 *   PRIMARY KEY ((window_start), window_end, status, aggregator, part)
 * );
 * ```
 *
 * @param client - a driver client (connected on demand).
 * @param options - keyspace, table, replication (as {@link ensureWindowCountTable}'s).
 * @returns resolves once both exist; rejects with a {@link WindowCountTableError} when
 *   an existing table has another schema.
 */
export function ensureLateCountTable(client: Client, options: EnsureWindowCountTableOptions = {}): Promise<void> {
  return ensureCountTable(LATE_COUNT_TABLE, 'ensureLateCountTable', client, {
    ...options,
    table: options.table ?? LATE_COUNT_TABLE.defaultTable,
  });
}

/**
 * Reads the late-count table and sums each (window, status) over aggregators and
 * parts. It reads the whole table: meant for tests, examples and small tables. The
 * CQL for a person: `SELECT window_start, status, sum(count) FROM hyper.mqtt_late
 * WHERE window_start = ? GROUP BY window_start, window_end, status;`.
 *
 * @param client - a driver client.
 * @param options - keyspace and table (default `hyper.mqtt_late`).
 * @returns the late totals, ordered by window start, window end, then status.
 */
export async function readLateTotals(client: Client, options: LateCountTableOptions = {}): Promise<LateTotal[]> {
  const totals = await sumCountTable(LATE_COUNT_TABLE, 'readLateTotals', client, options);
  return totals.map(({ windowStart, windowEnd, status, count }) => ({ windowStart, windowEnd, status, count }));
}
