/**
 * The reference table for window counts (keyspace `hyper`, table `mqtt`, as the
 * original Spark job wrote): its schema helper and a reader that sums aggregators.
 * @module
 */
import type { Client } from 'cassandra-driver';
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
}

/** The defaults: the original job's keyspace and table. */
export const DEFAULT_KEYSPACE = 'hyper';
/** @see {@link DEFAULT_KEYSPACE} */
export const DEFAULT_TABLE = 'mqtt';

/** Resolved, validated `keyspace.table`. @internal */
export function windowCountTarget(options: WindowCountTableOptions | undefined): { keyspace: string; table: string } {
  return {
    keyspace: assertCqlIdentifier('keyspace', options?.keyspace ?? DEFAULT_KEYSPACE),
    table: assertCqlIdentifier('table', options?.table ?? DEFAULT_TABLE),
  };
}

/** bigint columns come back as the driver's Long (or a JS bigint with useBigIntAsLong). */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return (value as { toNumber(): number }).toNumber();
}

const REPLICATION_TOKEN = /^[A-Za-z0-9_.]{1,100}$/;

function replicationLiteral(replication: Readonly<Record<string, string | number>>): string {
  const entries = Object.entries(replication);
  if (entries.length === 0) throw new TypeError('replication: the map is empty');
  return '{' + entries.map(([key, value]) => {
    const text = String(value);
    if (!REPLICATION_TOKEN.test(key) || !REPLICATION_TOKEN.test(text)) {
      throw new TypeError(`replication: ${JSON.stringify(key)}: ${JSON.stringify(value)} is not allowed (letters, digits, '_' and '.' only)`);
    }
    return `'${key}': '${text}'`;
  }).join(', ') + '}';
}

/**
 * Creates the keyspace and the window-count table if they do not exist (an
 * existing one is left as it is). The table:
 *
 * ```sql
 * CREATE TABLE hyper.mqtt (
 *   window_start timestamp,
 *   window_end   timestamp,
 *   status       int,
 *   aggregator   text,      -- '' for a single aggregator
 *   count        bigint,
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
 * @see {@link cassandraSink}, {@link readWindowTotals}
 * @param client - a connected or unconnected driver client (connected on demand).
 * @param options - keyspace, table, replication.
 * @returns resolves once both exist and the schema agrees across the cluster.
 */
export async function ensureWindowCountTable(client: Client, options: EnsureWindowCountTableOptions = {}): Promise<void> {
  const { keyspace, table } = windowCountTarget(options);
  const replication = replicationLiteral(options.replication ?? { class: 'SimpleStrategy', replication_factor: 1 });
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${replication}`);
  await client.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.${table} (
    window_start timestamp,
    window_end timestamp,
    status int,
    aggregator text,
    count bigint,
    PRIMARY KEY ((window_start), window_end, status, aggregator)
  )`);
}

/**
 * Reads the window-count table and sums each (window, status) over aggregators.
 * It reads the whole table: meant for tests, examples and small tables.
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
  const { keyspace, table } = windowCountTarget(options);
  const totals = new Map<string, { windowStart: Date; windowEnd: Date; status: number; count: number }>();
  // eachRow pages through the table (fetchSize rows at a time) instead of holding it all.
  const query = `SELECT window_start, window_end, status, count FROM ${keyspace}.${table}`;
  await new Promise<void>((resolve, reject) => {
    client.eachRow(query, [], { prepare: true, autoPage: true }, (_n, row) => {
      const windowStart = row['window_start'] as Date;
      const windowEnd = row['window_end'] as Date;
      const status = row['status'] as number;
      const count = toNumber(row['count']);
      const id = `${windowStart.getTime()}/${windowEnd.getTime()}/${status}`;
      const total = totals.get(id);
      if (total) total.count += count;
      else totals.set(id, { windowStart, windowEnd, status, count });
    }, (error) => (error ? reject(error) : resolve()));
  });
  return [...totals.values()].sort((a, b) =>
    a.windowStart.getTime() - b.windowStart.getTime() || a.windowEnd.getTime() - b.windowEnd.getTime() || a.status - b.status);
}
