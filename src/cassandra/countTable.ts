/**
 * What the window-count, late-count and window-aggregate tables share: a column list
 * checked against `system_schema`, the keyspace and table made if missing, columns of
 * later versions added, the write timestamp that lets a larger count win, and reading
 * the whole table, paging, into totals over aggregators, in one order.
 * @module
 */
import type { Client, types } from 'cassandra-driver';
import { optionChecks } from '../internal/options.js';
import type { WindowRow } from '../window/windowRow.js';
import { assertCqlIdentifier } from './identifier.js';
import { SCHEMA_AGREEMENT_TIMEOUT_MS, schemaAgreement } from './schemaAgreement.js';

/** Where a count table lives. */
export interface CountTableOptions {
  /** Keyspace, a plain CQL identifier. Default `'hyper'`. */
  keyspace?: string;
  /** Table, a plain CQL identifier. */
  table?: string;
}

/** Where a column sits in the table, as `system_schema.columns` names it. @internal */
export type ColumnKind = 'partition_key' | 'clustering' | 'regular' | 'static';

/** A count table's shape. @internal */
export interface CountTableSpec {
  /** The table when the options name none. */
  readonly defaultTable: string;
  /** The function that creates it, for error messages. */
  readonly ensure: string;
  /** Every column, in the order the sink writes them, with its type and key role. */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string; readonly kind: ColumnKind }>;
  /** Regular columns added after the table's first version: ensure adds them to an older table. */
  readonly added: readonly string[];
}

/** The default keyspace: the original Spark job's. @internal */
export const DEFAULT_KEYSPACE = 'hyper';

const KIND_NAMES: Readonly<Record<string, string>> = {
  partition_key: 'a partition key column',
  clustering: 'a clustering column',
  regular: 'a regular column',
  static: 'a static column',
};
const kindName = (kind: string) => KIND_NAMES[kind] ?? `a ${kind} column`;

/**
 * The error {@link ensureWindowCountTable} and {@link checkWindowCountTable} (and their
 * late-count and window-aggregate counterparts) throw when the table does not have the
 * columns {@link cassandraSink} writes (or does not exist, for the checks alone).
 * `message` names the function that checked and every difference, in one sentence.
 */
export class WindowCountTableError extends Error {
  override readonly name = 'WindowCountTableError';
  /** The function that checked, e.g. `ensureWindowCountTable` or `checkLateCountTable`. */
  readonly operator: string;
  /** `keyspace.table` checked. */
  readonly target: string;
  /** Each difference as a phrase, e.g. `count is int (expected bigint)`. */
  readonly differences: readonly string[];
  /** Whether the table exists. */
  readonly exists: boolean;
  /**
   * @param options - the `operator` that checked, the `target` checked, its
   *   `differences`, whether it `exists`, and the function that would create it
   *   (`ensure`, default `ensureWindowCountTable`).
   */
  constructor(options: {
    readonly operator: string;
    readonly target: string;
    readonly differences: readonly string[];
    readonly exists: boolean;
    readonly ensure?: string;
  }) {
    const { operator, target, differences, exists } = options;
    super(
      exists
        ? `${operator}: ${target} exists with another schema: ${differences.join('; ')}. Drop it, or choose another table (the table option; --table on the command line).`
        : `${operator}: ${target} does not exist: create it with ${options.ensure ?? 'ensureWindowCountTable'} (or the CREATE TABLE in its documentation).`,
    );
    this.operator = operator;
    this.target = target;
    this.differences = differences;
    this.exists = exists;
  }
}

/** Resolved, validated `keyspace` and `table`; a bad name throws an error naming `operator`. @internal */
export function countTableTarget(
  spec: CountTableSpec,
  options: CountTableOptions | undefined,
  operator: string,
): { keyspace: string; table: string; target: string } {
  const keyspace = assertCqlIdentifier('keyspace', options?.keyspace ?? DEFAULT_KEYSPACE, operator);
  const table = assertCqlIdentifier('table', options?.table ?? spec.defaultTable, operator);
  return { keyspace, table, target: `${keyspace}.${table}` };
}

/**
 * A count row's write timestamp: `windowEnd` (ms) × 1000 + `count`. For one key the
 * timestamp grows with the count, so a smaller count never replaces a larger one. As a
 * `bigint`: past the year 2255 the product is no longer a safe JavaScript integer.
 * @internal
 */
export function countTimestamp(row: WindowRow<unknown>): bigint {
  const windowEnd = row.windowEnd instanceof Date ? row.windowEnd.getTime() : Number.NaN;
  if (!Number.isSafeInteger(windowEnd)) throw new TypeError(`windowEnd ${String(row.windowEnd)} is not a valid Date`);
  if (!Number.isSafeInteger(row.count)) throw new TypeError(`count ${String(row.count)} is not a whole number`);
  return BigInt(windowEnd) * 1000n + BigInt(row.count);
}

/**
 * How the existing columns differ from what the sink writes, one phrase each.
 * Extra regular columns are fine (the sink leaves them empty); an extra key column
 * is not (every INSERT would lack it).
 */
function schemaDifferences(
  spec: CountTableSpec,
  target: string,
  columns: ReadonlyArray<{ name: string; type: string; kind: string }>,
): string[] {
  const byName = new Map(columns.map((column) => [column.name, column]));
  const differences: string[] = [];
  for (const expected of spec.columns) {
    const actual = byName.get(expected.name);
    if (actual === undefined) {
      differences.push(
        spec.added.includes(expected.name)
          ? `${expected.name} is missing (ALTER TABLE ${target} ADD ${expected.name} ${expected.type} adds it)`
          : `${expected.name} is missing`,
      );
      continue;
    }
    if (actual.type !== expected.type)
      differences.push(`${expected.name} is ${actual.type} (expected ${expected.type})`);
    if (actual.kind !== expected.kind)
      differences.push(`${expected.name} is ${kindName(actual.kind)} (expected ${kindName(expected.kind)})`);
  }
  const known = new Set(spec.columns.map((column) => column.name));
  for (const column of columns) {
    if (!known.has(column.name) && (column.kind === 'partition_key' || column.kind === 'clustering')) {
      differences.push(
        `${column.name} is an extra ${column.kind === 'clustering' ? 'clustering' : 'partition key'} column (the sink does not write it)`,
      );
    }
  }
  return differences;
}

/** The table's columns as `system_schema.columns` has them (none when it does not exist). */
async function readColumns(
  client: Client,
  keyspace: string,
  table: string,
): Promise<{ name: string; type: string; kind: string }[]> {
  // Unquoted names are stored folded to lower case.
  const result = await client.execute(
    'SELECT column_name, kind, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?',
    [keyspace.toLowerCase(), table.toLowerCase()],
    { prepare: true },
  );
  return result.rows.map((row) => ({
    name: String(row['column_name']),
    type: String(row['type']),
    kind: String(row['kind']),
  }));
}

async function keyspaceExists(client: Client, keyspace: string): Promise<boolean> {
  const result = await client.execute(
    'SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?',
    [keyspace.toLowerCase()],
    { prepare: true },
  );
  return result.rows.length > 0;
}

/**
 * Checks that the table exists with the columns the sink writes; rejects with a
 * {@link WindowCountTableError} naming `operator` and every difference.
 * @internal
 */
export async function checkCountTable(
  spec: CountTableSpec,
  operator: string,
  client: Client,
  options: CountTableOptions,
): Promise<void> {
  const { keyspace, table, target } = countTableTarget(spec, options, operator);
  await schemaAgreement(client);
  const columns = await readColumns(client, keyspace, table);
  if (columns.length === 0)
    throw new WindowCountTableError({ operator, target, differences: [], exists: false, ensure: spec.ensure });
  const differences = schemaDifferences(spec, target, columns);
  if (differences.length > 0) throw new WindowCountTableError({ operator, target, differences, exists: true });
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
 * Creates the keyspace and the table if missing, adds the columns of later versions
 * that an older table lacks (when that is all that differs: a table wrong in any other
 * way is left as it is), then checks it.
 * @internal
 */
export async function ensureCountTable(
  spec: CountTableSpec,
  operator: string,
  client: Client,
  options: CountTableOptions & { replication?: Readonly<Record<string, string | number>> },
): Promise<void> {
  const { keyspace, table, target } = countTableTarget(spec, options, operator);
  const replication = replicationLiteral(
    operator,
    options.replication ?? { class: 'SimpleStrategy', replication_factor: 1 },
  );
  // Only when no node knows it: an existing keyspace keeps its replication.
  await schemaAgreement(client);
  if (!(await keyspaceExists(client, keyspace))) {
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${replication}`);
    await schemaAgreement(client);
  }
  const keys = spec.columns.filter((column) => column.kind !== 'regular');
  const partition = keys.filter((column) => column.kind === 'partition_key').map((column) => column.name);
  const clustering = keys.filter((column) => column.kind === 'clustering').map((column) => column.name);
  await whileKeyspaceSpreads(keyspace, () =>
    client.execute(
      `CREATE TABLE IF NOT EXISTS ${target} (${spec.columns.map((column) => `${column.name} ${column.type}`).join(', ')}, ` +
        `PRIMARY KEY ((${partition.join(', ')}), ${clustering.join(', ')}))`,
    ),
  );
  await schemaAgreement(client);
  const columns = await readColumns(client, keyspace, table);
  const present = new Set(columns.map((column) => column.name));
  const missing = spec.columns.filter((column) => spec.added.includes(column.name) && !present.has(column.name));
  if (missing.length > 0 && schemaDifferences(spec, target, columns).length === missing.length) {
    for (const { name, type } of missing) await client.execute(`ALTER TABLE ${target} ADD ${name} ${type}`);
  }
  await checkCountTable(spec, operator, client, options);
}

/**
 * Runs `step` until the coordinator knows `keyspace`, for up to the schema agreement
 * timeout. A keyspace made a moment ago on another node (`cqlsh -e "CREATE KEYSPACE …"`
 * just before the aggregator starts) may still be unknown to the node coordinating the
 * next statement even after the nodes reported one schema version: it answers "Keyspace
 * 'hyper' doesn't exist" (seen on a three-node ring on two busy cores), and the schema
 * reaches it within seconds.
 */
async function whileKeyspaceSpreads<T>(keyspace: string, step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SCHEMA_AGREEMENT_TIMEOUT_MS;
  const unknown = new RegExp(`keyspace '?${keyspace}'? (does not|doesn't) exist`, 'i');
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof Error && unknown.test(error.message)) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** bigint columns come back as the driver's Long (or a JS bigint with useBigIntAsLong). @internal */
export function bigintColumn(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  return (value as { toNumber(): number }).toNumber();
}

/**
 * Runs `query` (no parameters) and hands every row to `onRow`, paging with `eachRow`
 * (fetchSize rows at a time) instead of holding the whole result. Resolves after the
 * last page; a throwing `onRow` rejects with its error and reads no further page.
 * @internal
 */
export function eachTableRow(client: Client, query: string, onRow: (row: types.Row) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failure: { error: unknown } | undefined;
    client.eachRow(
      query,
      [],
      { prepare: true, autoPage: true },
      (_n, row) => {
        if (failure !== undefined) return;
        try {
          onRow(row);
        } catch (error) {
          failure = { error };
        }
      },
      (error) => {
        if (failure !== undefined) reject(failure.error);
        else if (error) reject(error);
        else resolve();
      },
    );
  });
}

/** The order of every reader's result: by window start, window end, then status. @internal */
export function byWindowThenStatus(
  a: { readonly windowStart: Date; readonly windowEnd: Date; readonly status: number },
  b: { readonly windowStart: Date; readonly windowEnd: Date; readonly status: number },
): number {
  return (
    a.windowStart.getTime() - b.windowStart.getTime() ||
    a.windowEnd.getTime() - b.windowEnd.getTime() ||
    a.status - b.status
  );
}

/** What identifies one (window, status) across the rows of several aggregators. @internal */
export function windowStatusId(windowStart: Date, windowEnd: Date, status: number): string {
  return `${windowStart.getTime()}/${windowEnd.getTime()}/${status}`;
}

/** One (window, status)'s count summed over rows. @internal */
export interface SummedCount {
  readonly windowStart: Date;
  readonly windowEnd: Date;
  readonly status: number;
  readonly count: number;
  /** Whether every row summed was final (a row without the column is not). */
  readonly final: boolean;
}

/**
 * Reads the whole table, paging, and sums `count` per (window, status) over the rows
 * (aggregators, parts), ordered by window start, window end, then status.
 * @internal
 */
export async function sumCountTable(
  spec: CountTableSpec,
  operator: string,
  client: Client,
  options: CountTableOptions,
): Promise<SummedCount[]> {
  const { target } = countTableTarget(spec, options, operator);
  const hasFinal = spec.columns.some((column) => column.name === 'final');
  const totals = new Map<
    string,
    { windowStart: Date; windowEnd: Date; status: number; count: number; final: boolean }
  >();
  const query = `SELECT window_start, window_end, status, count${hasFinal ? ', final' : ''} FROM ${target}`;
  await eachTableRow(client, query, (row) => {
    const windowStart = row['window_start'] as Date;
    const windowEnd = row['window_end'] as Date;
    const status = row['status'] as number;
    const count = bigintColumn(row['count']);
    const final = hasFinal ? row['final'] === true : true;
    const id = windowStatusId(windowStart, windowEnd, status);
    const total = totals.get(id);
    if (total) {
      total.count += count;
      total.final &&= final;
    } else totals.set(id, { windowStart, windowEnd, status, count, final });
  });
  return [...totals.values()].sort(byWindowThenStatus);
}
