/**
 * The window-aggregate table: {@link windowedAggregate}'s rows per (window, status,
 * aggregator), each with its aggregates for a person to read and its mergeable partial
 * for {@link readWindowAggregates}, which merges every aggregator's partial into totals.
 * @module
 */
import type { Client, types } from 'cassandra-driver';
import { AggregateCell, type AggregatePartial, type AggregateValues } from '../aggregate/AggregateCell.js';
import { quantileName, resolveAggregateSpec } from '../aggregate/aggregateSpec.js';
import type { AggregateRow } from '../aggregate/WindowedAggregateState.js';
import { describeValue, optionChecks } from '../internal/options.js';
import type { CassandraTableMapping } from './cassandraSink.js';
import {
  byWindowThenStatus,
  checkCountTable,
  countTableTarget,
  countTimestamp,
  eachTableRow,
  ensureCountTable,
  windowStatusId,
  type CountTableOptions,
  type CountTableSpec,
} from './countTable.js';
import { WINDOW_COUNT_TABLE, type EnsureWindowCountTableOptions } from './windowCountTable.js';

/** Where the window aggregates live: keyspace `hyper` and table `mqtt_aggregates` unless told otherwise. */
export type WindowAggregateTableOptions = CountTableOptions;

/** Options of {@link windowAggregateRows}. */
export interface WindowAggregateRowsOptions extends WindowAggregateTableOptions {
  /**
   * This aggregator's id, written to the `aggregator` column. Default `''`. Give each
   * aggregator sharing an MQTT subscription its own, as for {@link windowCountRows}:
   * {@link readWindowAggregates} merges their partials.
   */
  aggregator?: string;
}

/** Options of {@link readWindowAggregates}. */
export interface ReadWindowAggregatesOptions extends WindowAggregateTableOptions {
  /**
   * The quantiles to report, each in [0, 1], e.g. `[0.5, 0.99]`; any can be read from
   * the merged sketches (within their accuracy). Default: those the rows merged stored
   * in their `quantiles` column (`p50` is 0.5), in ascending order.
   */
  quantiles?: readonly number[];
  /**
   * Session windows: merge the rows of a status whose `[window_start, window_end)`
   * intervals overlap or touch, transitively, into one session each, instead of the rows
   * of the same window. Default `false` (fixed windows: rows merge when their
   * window_start, window_end and status are equal).
   */
  sessions?: boolean;
}

/**
 * One window's aggregates for one status, merged over every aggregator's partial (or,
 * with `sessions`, one session's, merged over the overlapping rows).
 */
export interface WindowAggregateTotal {
  /** The window's start; a session's earliest start. */
  readonly windowStart: Date;
  /** The window's end; a session's latest end. */
  readonly windowEnd: Date;
  readonly status: number;
  /** Events folded in, over every row merged. */
  readonly count: number;
  /** Whether every row merged is final (see {@link WindowRow.final}): the total will not change. */
  readonly final: boolean;
  /** The merged count, sum, min, max, mean, quantiles and distinct count (those the rows stored). */
  readonly aggregates: AggregateValues;
  /** The merged state, to merge further ({@link AggregateCell.fromPartial}). */
  readonly partial: AggregatePartial;
}

/** The window-aggregate table: one row per (window, status, aggregator). */
const WINDOW_AGGREGATE_TABLE: CountTableSpec = {
  defaultTable: 'mqtt_aggregates',
  ensure: 'ensureWindowAggregateTable',
  columns: [
    // The window-count table's key, count and final, so that a person reads both alike.
    ...WINDOW_COUNT_TABLE.columns,
    { name: 'sum', type: 'double', kind: 'regular' },
    { name: 'min', type: 'double', kind: 'regular' },
    { name: 'max', type: 'double', kind: 'regular' },
    { name: 'mean', type: 'double', kind: 'regular' },
    { name: 'distinct', type: 'bigint', kind: 'regular' },
    { name: 'quantiles', type: 'frozen<map<text, double>>', kind: 'regular' },
    { name: 'partial', type: 'text', kind: 'regular' },
  ],
  added: [],
};

/**
 * How {@link cassandraSink} writes {@link AggregateRow}`<number>` rows (per-status
 * aggregates of {@link windowedAggregate} with `partials: true`) into the
 * window-aggregate table, `hyper.mqtt_aggregates` unless told otherwise: the
 * window-count table's `window_start`, `window_end`, `status` = `key`, `aggregator`,
 * `count` and `final`, then the aggregates asked for (`sum`, `min`, `max`, `mean`,
 * `distinct`, `quantiles` as a map from `p50` to the value; those not asked are left
 * unset, not written as null, so they leave no tombstones), and `partial`, the row's
 * {@link AggregatePartial} as JSON, which {@link readWindowAggregates} merges.
 *
 * A row without `partial` cannot be merged with other aggregators' rows: it is refused
 * (`onReject`, kind `'row'`, the reason saying to give `windowedAggregate` `partials:
 * true`, or with `strict` the end of the stream) and the rows after it are written.
 *
 * Write timestamps are the window-count table's ({@link windowCountRows}): `windowEnd`
 * (ms) × 1000 + `count`, where the count is the events folded into the row's cell, so
 * that for one (window, status, aggregator) the row of more events wins, whatever order
 * writes land in and however often they are repeated: a smaller count (an older state)
 * never replaces a larger one, and a partial row never replaces the final row of the
 * same count. Its consequences are the count table's: truncate, do not `DELETE`, to
 * start afresh.
 *
 * Session windows. A session's row is identified by its `(window_start, window_end)`:
 * when a session grows (a later event extends its end, an earlier one its start, or it
 * joins another session), the new extent is a new row, and the rows of its earlier
 * extents stay. The timestamp is still right for what one row can see: within one
 * (window_start, window_end, status, aggregator) only the count changes (an event inside
 * the session adds to it without moving either end), and only upwards. Write sessions in
 * `append` mode: each is written once, final, one row per session and aggregator. In
 * `update` mode the earlier extents stay in the table beside the last one, not final:
 * {@link readWindowAggregates} with `sessions: true` leaves them out (an aggregator's row
 * lying within another of its rows of the same status is an earlier extent of it), but a
 * person summing by hand must keep to `final = true`.
 *
 * Names are checked as CQL identifiers when it is called.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { from, lastValueFrom } from 'rxjs';
 * import { cassandraSink, ensureWindowAggregateTable, windowAggregateRows, windowedAggregate } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowAggregateTable(client); // hyper.mqtt_aggregates
 * const hits = [{ time: new Date('2015-05-17T10:05:03Z'), status: 200, bytes: 203023, client: '83.149.9.216' }];
 * await lastValueFrom(
 *   from(hits).pipe(
 *     windowedAggregate({
 *       eventTime: (hit) => hit.time, key: (hit) => hit.status, windowDuration: '1 minute', watermarkDelay: '2 minutes',
 *       aggregates: { value: (hit) => hit.bytes, sum: true, max: true, quantiles: [0.5, 0.99], distinct: (hit) => hit.client },
 *       partials: true, // needed: the table stores each row's partial
 *     }),
 *     cassandraSink(client, { ...windowAggregateRows({ aggregator: 'a1' }), onReject: (r) => console.warn(r.reason) }),
 *   ),
 * );
 * await client.shutdown();
 * ```
 * @see {@link ensureWindowAggregateTable}, {@link readWindowAggregates}
 * @param options - keyspace and table (default `hyper.mqtt_aggregates`), this aggregator's id.
 * @returns the keyspace, table, columns, `toValues` and `writeTimestamp` options of {@link cassandraSink}.
 */
export function windowAggregateRows(
  options: WindowAggregateRowsOptions = {},
): Required<CassandraTableMapping<AggregateRow<number>>> {
  const operator = 'windowAggregateRows';
  const { keyspace, table } = countTableTarget(WINDOW_AGGREGATE_TABLE, options, operator);
  const aggregator = options.aggregator ?? '';
  if (typeof aggregator !== 'string') throw optionChecks(operator).error('type', 'aggregator', 'a string', aggregator);
  return {
    keyspace,
    table,
    columns: WINDOW_AGGREGATE_TABLE.columns.map((column) => column.name),
    toValues: (row) => {
      const { partial, aggregates } = row;
      if (partial === undefined)
        throw new TypeError(
          `${operator}: the row has no partial, which the table needs to merge aggregators: give windowedAggregate partials: true`,
        );
      if (typeof aggregates !== 'object' || aggregates === null)
        throw new TypeError(`${operator}: the row has no aggregates (not a windowedAggregate row?)`);
      // undefined is sent as unset (the driver's useUndefinedAsUnset, on by default): no tombstone.
      return [
        row.windowStart,
        row.windowEnd,
        row.key,
        aggregator,
        row.count,
        row.final === true,
        aggregates.sum,
        aggregates.min,
        aggregates.max,
        aggregates.mean,
        aggregates.distinct,
        aggregates.quantiles,
        JSON.stringify(partial),
      ];
    },
    writeTimestamp: countTimestamp,
  };
}

/**
 * Checks that the window-aggregate table exists with the columns
 * {@link windowAggregateRows} writes (see {@link ensureWindowAggregateTable} for them);
 * extra regular columns are allowed, clustering order is not checked. It reads
 * `system_schema.columns`, so a wrong table is found when the pipeline starts.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { checkWindowAggregateTable } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await checkWindowAggregateTable(client);
 * // e.g. WindowCountTableError: checkWindowAggregateTable: hyper.mqtt_aggregates exists with another schema: sum is bigint (expected double); partial is missing. …
 * await client.shutdown();
 * ```
 * @see {@link ensureWindowAggregateTable}
 * @param client - a driver client (connected on demand).
 * @param options - keyspace and table (default `hyper.mqtt_aggregates`).
 * @returns resolves when the table fits; rejects with a {@link WindowCountTableError}
 *   naming every difference, or the missing table.
 */
export function checkWindowAggregateTable(client: Client, options: WindowAggregateTableOptions = {}): Promise<void> {
  return checkCountTable(WINDOW_AGGREGATE_TABLE, 'checkWindowAggregateTable', client, options);
}

/**
 * Creates the keyspace and the window-aggregate table if they do not exist; an existing
 * table is left as it is, but checked ({@link checkWindowAggregateTable}). The table:
 *
 * ```sql
 * CREATE TABLE hyper.mqtt_aggregates (
 *   window_start timestamp,
 *   window_end   timestamp,
 *   status       int,
 *   aggregator   text,      -- '' for a single aggregator
 *   count        bigint,    -- events folded in
 *   final        boolean,   -- the window's last word (see WindowRow.final)
 *   sum          double,
 *   min          double,
 *   max          double,
 *   mean         double,
 *   distinct     bigint,    -- HyperLogLog estimate
 *   quantiles    frozen<map<text, double>>,  -- {'p50': …, 'p99': …}, DDSketch estimates
 *   partial      text,      -- the AggregatePartial as JSON, for readWindowAggregates
 *   PRIMARY KEY ((window_start), window_end, status, aggregator)
 * );
 * ```
 *
 * As in the window-count table, the key makes every write an upsert, and `aggregator`
 * keeps each aggregator's rows apart. The columns of aggregates not asked for stay
 * null. `quantiles` is frozen: one cell, written whole, so that a row's quantiles are
 * always those of one state. One aggregator's rows by hand (`aggregator` is the last
 * clustering column, so this filters within one partition):
 *
 * ```sql
 * SELECT window_end, status, count, sum, min, max, mean, distinct, quantiles, final
 *   FROM hyper.mqtt_aggregates
 *   WHERE window_start = '2015-05-17 13:05:00+0000' AND aggregator = 'a1' ALLOW FILTERING;
 * ```
 *
 * Counts and sums of several aggregators add, min and max fold (`sum(count)`,
 * `sum(sum)`, `min(min)`, `max(max)` with `GROUP BY window_start, window_end, status`),
 * and the mean is the summed sum over the summed count; the quantiles and distinct counts
 * of several rows do not combine by hand: {@link readWindowAggregates} merges their
 * partials.
 *
 * Names are checked as CQL identifiers before anything is sent.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { ensureWindowAggregateTable } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowAggregateTable(client, { keyspace: 'hyper', table: 'mqtt_aggregates' });
 * await client.shutdown();
 * ```
 * @see {@link windowAggregateRows}, {@link checkWindowAggregateTable}, {@link readWindowAggregates}
 * @param client - a driver client (connected on demand).
 * @param options - keyspace, table, replication (as {@link ensureWindowCountTable}'s).
 * @returns resolves once both exist and the schema agrees across the cluster; rejects
 *   with a {@link WindowCountTableError} when an existing table has another schema.
 */
export function ensureWindowAggregateTable(client: Client, options: EnsureWindowCountTableOptions = {}): Promise<void> {
  return ensureCountTable(WINDOW_AGGREGATE_TABLE, 'ensureWindowAggregateTable', client, options);
}

/** One stored row, as the reader keeps it until its group is merged. */
interface StoredRow {
  readonly windowStart: Date;
  readonly windowEnd: Date;
  readonly status: number;
  readonly aggregator: string;
  readonly final: boolean;
  /** Which of sum, min, max and mean the row stored (the aggregates asked for). */
  readonly reports: { readonly sum: boolean; readonly min: boolean; readonly max: boolean; readonly mean: boolean };
  /** The names of the quantiles it stored (`p50`). */
  readonly quantileNames: readonly string[];
  /** The partial's JSON text, parsed when its group is merged. */
  readonly partial: string | null;
}

/**
 * Reads the window-aggregate table and merges, for each (window, status), the partials
 * of every aggregator's row into one {@link AggregateCell}: counts and sums add, min and
 * max fold, the mean is the merged sum over the merged count, and the sketches merge
 * (bins add, registers take their maximum), so the totals equal those one aggregator
 * would have made of the whole stream (exactly, sketches included, where no event was
 * late for one aggregator alone). A total is final when every row merged is.
 *
 * With `sessions: true` the rows are session windows: for each status, the rows whose
 * `[window_start, window_end)` intervals overlap or touch (Spark merges sessions whose
 * start is at most the other's end) are merged transitively into one session, from the
 * earliest start to the latest end; an aggregator's row lying within another of its own
 * rows is an earlier extent of that session (update mode) and is left out.
 *
 * The partials do not say which aggregates were asked: each total reports those its
 * rows stored (non-null `sum`, `min`, `max`, `mean`; a distinct count when the partials
 * hold one), and the quantiles named by the `quantiles` option, by default those of the
 * rows' `quantiles` maps (see {@link AggregateCell.specOf}).
 *
 * It reads the whole table (paging) and holds its partials: meant for tests, examples
 * and small tables.
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { readWindowAggregates } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * for (const { windowStart, status, aggregates } of await readWindowAggregates(client, { quantiles: [0.5, 0.9, 0.99] })) {
 *   console.log(windowStart.toISOString(), status, aggregates.count, aggregates.mean, aggregates.quantiles);
 * }
 * await client.shutdown();
 * ```
 * @see {@link windowAggregateRows}, {@link ensureWindowAggregateTable}
 * @param client - a driver client.
 * @param options - keyspace and table (default `hyper.mqtt_aggregates`), the quantiles,
 *   sessions.
 * @returns the totals, ordered by window start, window end, then status.
 * @throws (rejects) an Error naming the window, status and aggregator of a row whose
 *   partial is missing or unreadable, or does not merge with the others of its window
 *   (taken under other aggregate options).
 */
export async function readWindowAggregates(
  client: Client,
  options: ReadWindowAggregatesOptions = {},
): Promise<WindowAggregateTotal[]> {
  const operator = 'readWindowAggregates';
  const { target } = countTableTarget(WINDOW_AGGREGATE_TABLE, options, operator);
  const sessions = optionChecks(operator).optionalBoolean('sessions', options.sessions) ?? false;
  // Checked as windowedAggregate checks them, before anything is read.
  const quantiles =
    options.quantiles === undefined
      ? undefined
      : resolveAggregateSpec({ value: () => 0, quantiles: options.quantiles }, operator).quantiles;

  const rows: StoredRow[] = [];
  const query = `SELECT window_start, window_end, status, aggregator, final, sum, min, max, mean, quantiles, partial FROM ${target}`;
  await eachTableRow(client, query, (row) => rows.push(storedRow(row)));

  const groups = sessions ? sessionGroups(rows) : windowGroups(rows);
  return groups.map((group) => mergeGroup(group, quantiles, operator)).sort(byWindowThenStatus);
}

function storedRow(row: types.Row): StoredRow {
  const quantiles = row['quantiles'] as Record<string, unknown> | null;
  return {
    windowStart: row['window_start'] as Date,
    windowEnd: row['window_end'] as Date,
    status: row['status'] as number,
    aggregator: row['aggregator'] as string,
    final: row['final'] === true,
    reports: {
      sum: row['sum'] !== null,
      min: row['min'] !== null,
      max: row['max'] !== null,
      mean: row['mean'] !== null,
    },
    quantileNames: quantiles === null ? [] : Object.keys(quantiles),
    partial: row['partial'] as string | null,
  };
}

/** Fixed windows: the rows of each (window_start, window_end, status). */
function windowGroups(rows: readonly StoredRow[]): StoredRow[][] {
  const groups = new Map<string, StoredRow[]>();
  for (const row of rows) {
    const id = windowStatusId(row.windowStart, row.windowEnd, row.status);
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [row]);
    else group.push(row);
  }
  return [...groups.values()];
}

const byStartThenLongest = (a: StoredRow, b: StoredRow) =>
  a.windowStart.getTime() - b.windowStart.getTime() || b.windowEnd.getTime() - a.windowEnd.getTime();

/**
 * Session windows: per status, each aggregator's latest extents (rows within another of
 * its rows dropped), then the runs of those whose intervals overlap or touch.
 */
function sessionGroups(rows: readonly StoredRow[]): StoredRow[][] {
  const byStatusAndAggregator = new Map<number, Map<string, StoredRow[]>>();
  for (const row of rows) {
    let byAggregator = byStatusAndAggregator.get(row.status);
    if (byAggregator === undefined) byStatusAndAggregator.set(row.status, (byAggregator = new Map()));
    const mine = byAggregator.get(row.aggregator);
    if (mine === undefined) byAggregator.set(row.aggregator, [row]);
    else mine.push(row);
  }
  const groups: StoredRow[][] = [];
  for (const byAggregator of byStatusAndAggregator.values()) {
    const latest: StoredRow[] = [];
    for (const mine of byAggregator.values()) {
      // Sorted by start, longest first, a row lies within an earlier one exactly when
      // it ends no later than the latest end so far.
      let end = -Infinity;
      for (const row of mine.sort(byStartThenLongest)) {
        if (row.windowEnd.getTime() <= end) continue;
        end = row.windowEnd.getTime();
        latest.push(row);
      }
    }
    let run: StoredRow[] = [];
    let runEnd = -Infinity;
    for (const row of latest.sort(byStartThenLongest)) {
      // Spark's MergingSessionsIterator: a session whose start is at most the current
      // end joins it, so touching sessions merge too.
      if (run.length > 0 && row.windowStart.getTime() > runEnd) {
        groups.push(run);
        run = [];
      }
      run.push(row);
      runEnd = Math.max(runEnd, row.windowEnd.getTime());
    }
    if (run.length > 0) groups.push(run);
  }
  return groups;
}

/** The merged total of one group's rows. */
function mergeGroup(
  group: readonly StoredRow[],
  quantiles: readonly number[] | undefined,
  operator: string,
): WindowAggregateTotal {
  const first = group[0]!;
  const reports = {
    sum: group.some((row) => row.reports.sum),
    min: group.some((row) => row.reports.min),
    max: group.some((row) => row.reports.max),
    mean: group.some((row) => row.reports.mean),
    quantiles: quantiles ?? storedQuantiles(group, operator),
  };
  let total: AggregateCell | undefined;
  for (const row of group) {
    try {
      if (row.partial === null) throw new Error('it has no partial (written by hand, or by another mapping?)');
      let partial: unknown;
      try {
        partial = JSON.parse(row.partial);
      } catch {
        throw new Error(`its partial is not JSON: ${describeValue(row.partial)}`);
      }
      const cell = AggregateCell.fromPartial(partial, total?.spec ?? AggregateCell.specOf(partial, reports));
      if (total === undefined) total = cell;
      else total.merge(cell);
    } catch (error) {
      throw new Error(`${operator}: ${rowName(row)}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }
  const cell = total!;
  return {
    windowStart: new Date(Math.min(...group.map((row) => row.windowStart.getTime()))),
    windowEnd: new Date(Math.max(...group.map((row) => row.windowEnd.getTime()))),
    status: first.status,
    count: cell.count,
    final: group.every((row) => row.final),
    aggregates: cell.values(),
    partial: cell.toPartial(),
  };
}

/** The quantiles the rows stored, by their names (`p99.9` is 0.999), ascending. */
function storedQuantiles(group: readonly StoredRow[], operator: string): number[] {
  const byName = new Map<string, number>();
  for (const row of group)
    for (const name of row.quantileNames) {
      // quantileName writes p and the percentage to 12 significant digits: read it back the same way.
      const quantile = Number((Number(name.slice(1)) / 100).toPrecision(12));
      if (!name.startsWith('p') || !(quantile >= 0 && quantile <= 1) || quantileName(quantile) !== name)
        throw new Error(
          `${operator}: ${rowName(row)} stores a quantile named ${JSON.stringify(name)}, not p and a percentage as windowedAggregate names them: give the quantiles option`,
        );
      byName.set(name, quantile);
    }
  return [...byName.values()].sort((a, b) => a - b);
}

function rowName(row: StoredRow): string {
  return `the row of window ${row.windowStart.toISOString()} to ${row.windowEnd.toISOString()}, status ${row.status}, aggregator ${JSON.stringify(row.aggregator)}`;
}
