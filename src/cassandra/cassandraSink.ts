/**
 * `cassandraSink`: writes each value as one row, emits one result per acknowledged write.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { QueryOptions } from 'cassandra-driver';
import type { WindowRow } from '../window/windowRow.js';
import { holdClient, releaseClient, type CassandraClientInput } from './client.js';
import { assertCqlIdentifier } from './identifier.js';
import { windowCountTarget, type WindowCountTableOptions } from './windowCountTable.js';
import { CassandraBacklogError, CassandraWriteError, isRetryableCassandraError } from './writeError.js';

/** What the sink emits for each row, once Cassandra acknowledged its write. */
export interface CassandraWriteResult<T> {
  /** The row as it came from upstream. */
  readonly row: T;
  /** How many times it was sent (1 when the first write succeeded). */
  readonly attempts: number;
}

/** Passed to `onRetry` before each retry of a write. */
export interface CassandraRetry<T> {
  readonly row: T;
  /** The attempt that failed (1 = the first write). */
  readonly attempt: number;
  /** How long the sink waits before the next attempt. */
  readonly delayMs: number;
  /** The transient error, e.g. a `NoHostAvailableError` while the node is down. */
  readonly error: unknown;
}

/** How many rows the sink holds, passed to `onBacklog` whenever it changes. */
export interface CassandraBacklog {
  /** Rows being written or waiting for a retry (never more than `concurrency`). */
  readonly inFlight: number;
  /** Rows received but not yet sent (never more than `maxQueued`). */
  readonly queued: number;
}

/** Options every {@link cassandraSink} accepts. */
export interface CassandraSinkOptions<T> {
  /** Writes in flight at most (including rows waiting for a retry). Default 32. */
  concurrency?: number;
  /**
   * Rows that may wait in the sink for a free write slot. One more errors the stream
   * with a {@link CassandraBacklogError} rather than buffering without bound.
   * Default 10,000; `Infinity` when the source is paced some other way.
   */
  maxQueued?: number;
  /** Retries of a write after a transient error (0 = none). Default 10. */
  retries?: number;
  /** Delay before the first retry; it doubles each retry (with jitter). Default 100 ms. */
  retryBaseDelayMs?: number;
  /**
   * Upper bound of the retry delay. Default 10,000 ms. A client built from options
   * also uses it as the longest wait between reconnection attempts to a lost node.
   */
  retryMaxDelayMs?: number;
  /**
   * Write consistency, one of the driver's `types.consistencies`. Default: the
   * client's (the driver's default is `localOne`); prefer `localQuorum` on a cluster.
   */
  consistency?: number;
  /** Called before each retry, e.g. to log the outage. Default: nothing. */
  onRetry?: (retry: CassandraRetry<T>) => void;
  /** Called whenever the backlog changes (for metrics and tests). Default: nothing. */
  onBacklog?: (backlog: CassandraBacklog) => void;
}

/** Options of {@link cassandraSink} writing {@link WindowRow}s into the window-count table. */
export interface WindowCountSinkOptions extends CassandraSinkOptions<WindowRow<number>>, WindowCountTableOptions {
  /**
   * This aggregator's id, written to the `aggregator` column. Default `''`. Give
   * each aggregator sharing an MQTT subscription its own id so that their partial
   * counts do not overwrite each other; {@link readWindowTotals} sums them.
   */
  aggregator?: string;
}

/** Options of {@link cassandraSink} writing any value into any table through a mapping. */
export interface RowMappingSinkOptions<T> extends CassandraSinkOptions<T> {
  /** Keyspace, a plain CQL identifier. Default `'hyper'`. */
  keyspace?: string;
  /** Table, a plain CQL identifier. */
  table: string;
  /** The columns written, plain CQL identifiers; their primary key should make a re-write an overwrite. */
  columns: readonly string[];
  /** The column values of one value, in the order of `columns`. */
  toValues: (value: T) => readonly unknown[];
}

/**
 * Write timestamps (microseconds since the epoch), strictly increasing across every
 * sink in the process. Each row takes one when it arrives and keeps it through its
 * retries: Cassandra keeps the write with the highest timestamp, so a late retry of
 * an older count (update mode) can never overwrite a newer one.
 */
let lastTimestampMicros = 0;
function nextWriteTimestamp(): number {
  lastTimestampMicros = Math.max(lastTimestampMicros + 1, Date.now() * 1000);
  return lastTimestampMicros;
}

const DEFAULTS = { concurrency: 32, maxQueued: 10_000, retries: 10, retryBaseDelayMs: 100, retryMaxDelayMs: 10_000 };

function positiveInteger(option: string, value: number | undefined, fallback: number, min: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min) throw new RangeError(`cassandraSink: ${option} must be an integer ≥ ${min}, got ${String(value)}`);
  return resolved;
}

/**
 * Writes every value as one row with a prepared, idempotent `INSERT`, and emits one
 * {@link CassandraWriteResult} per row once Cassandra acknowledged the write.
 *
 * ```
 * source:   --r1--r2--r3-------|
 * writes:      [r1=]
 *                 [r2=====x  retry  =]        (x: node down, retried with backoff)
 *                    [r3=]
 * result:   ------w1---w3----------w2|        (w = {row, attempts}; completes after the last ack)
 * ```
 *
 * Two forms:
 * - `cassandraSink(client, options?)` writes {@link WindowRow}`<number>` rows into the
 *   window-count table (`hyper.mqtt` by default; create it with
 *   {@link ensureWindowCountTable}): `window_start`, `window_end`, `status` = `key`,
 *   `count`, and `aggregator`. The primary key makes each write an upsert, so an
 *   update-mode stream and an append-mode stream end with the same table.
 * - `cassandraSink(client, { table, columns, toValues })` writes any value into any
 *   table: `INSERT INTO keyspace.table (columns…) VALUES (?, …)` with `toValues(value)`.
 *
 * Exact behaviour:
 * - Names (keyspace, table, columns) are checked as plain CQL identifiers when
 *   `cassandraSink` is called: a bad one throws a {@link CqlIdentifierError} there,
 *   before any client is built or query sent.
 * - `client` is either your `Client` (used, never shut down) or `ClientOptions`: then
 *   the sink builds a client on subscribe and shuts it down on teardown; when the
 *   stream completes or errors, that client is already shut down.
 * - At most `concurrency` writes are in flight; results come in acknowledgement
 *   order, not input order. The stream completes after the source completed and
 *   every write was acknowledged.
 * - Every write is sent with `{ prepare: true, isIdempotent: true }`. A transient
 *   error (see {@link isRetryableCassandraError}: node down or unreachable, timeout,
 *   unavailable, overloaded) is retried after a delay of `retryBaseDelayMs · 2^(n−1)`
 *   capped at `retryMaxDelayMs`, of which a random 50–100 % is waited (jitter), at
 *   most `retries` times; then
 *   the stream errors with a {@link CassandraWriteError} naming the cause. A permanent
 *   error (unknown keyspace or table, type mismatch, syntax, credentials) errors the
 *   stream at once with Cassandra's message, e.g. `cassandraSink: writing to
 *   hyper.mqtt failed: table mqtt does not exist`. A row retrying keeps its write slot.
 *   Within one attempt the client's own retry policy (marking the write idempotent
 *   lets the driver's default policy try another host) still applies. A client the
 *   sink builds reconnects to a lost node at least every `retryMaxDelayMs`.
 * - Each row gets a write timestamp when it arrives (strictly increasing, in arrival
 *   order) and keeps it through its retries. Cassandra keeps the write with the
 *   highest timestamp, so when writes of the same key overtake each other (update
 *   mode: counts 5 then 6, the 5 retried after the 6 landed) the newest still wins.
 * - A source error errors the stream at once; writes still in flight are abandoned.
 *
 * Backpressure. RxJS pushes: no operator can make its source stop emitting. While
 * `concurrency` writes are in flight (Cassandra slow or down, writes retrying), newly
 * arriving rows wait in the sink's queue; the queue holds at most `maxQueued` rows and
 * one more errors the stream with a {@link CassandraBacklogError} instead of growing
 * without bound. For the pipeline to truly stop pulling, pace the source on the
 * results: with `fromMqtt(..., { ack: 'manual' })`, acknowledge a message only when
 * its row's result arrives, so the broker stops sending once its in-flight window
 * (MQTT 5 Receive Maximum) is full; or emit the next value of a generated source
 * when a result comes back. Then the sink holds at most `concurrency` rows and the
 * rest of the data stays upstream (at the broker, in the file).
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { from, lastValueFrom } from 'rxjs';
 * import { cassandraSink, ensureWindowCountTable, type WindowRow } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowCountTable(client); // hyper.mqtt
 * const rows: WindowRow<number>[] = [
 *   { windowStart: new Date('2020-07-01T12:00:00Z'), windowEnd: new Date('2020-07-01T12:01:00Z'), key: 200, count: 42 },
 * ];
 * await lastValueFrom(from(rows).pipe(cassandraSink(client, { concurrency: 16 })));
 * await client.shutdown(); // ours: the sink leaves it open
 * ```
 * @example Any table, with a client the sink owns:
 * ```ts
 * import { from, lastValueFrom } from 'rxjs';
 * import { cassandraSink } from 'mqtt-iot-stream';
 *
 * type Reading = { sensor: string; at: Date; celsius: number };
 * const readings: Reading[] = [{ sensor: 'a', at: new Date(), celsius: 21.5 }];
 * await lastValueFrom(from(readings).pipe(cassandraSink(
 *   { contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' },
 *   { keyspace: 'home', table: 'temperature', columns: ['sensor', 'at', 'celsius'],
 *     toValues: (r: Reading) => [r.sensor, r.at, r.celsius] },
 * )));
 * ```
 * @see {@link ensureWindowCountTable}, {@link readWindowTotals}, {@link isRetryableCassandraError}
 * @param client - your cassandra-driver `Client` (left open) or `ClientOptions` (owned).
 * @param options - the target table and the write behaviour.
 * @returns an operator emitting `{ row, attempts }` per written row.
 */
export function cassandraSink(client: CassandraClientInput, options?: WindowCountSinkOptions): OperatorFunction<WindowRow<number>, CassandraWriteResult<WindowRow<number>>>;
export function cassandraSink<T>(client: CassandraClientInput, options: RowMappingSinkOptions<T>): OperatorFunction<T, CassandraWriteResult<T>>;
export function cassandraSink<T>(
  client: CassandraClientInput,
  options: WindowCountSinkOptions | RowMappingSinkOptions<T> = {},
): OperatorFunction<T, CassandraWriteResult<T>> {
  const { target, query, toValues } = insertFor<T>(options);
  const concurrency = positiveInteger('concurrency', options.concurrency, DEFAULTS.concurrency, 1);
  // Infinity is allowed, as in toMqtt, for a source that is paced some other way.
  const maxQueued = options.maxQueued === Infinity ? Infinity : positiveInteger('maxQueued', options.maxQueued, DEFAULTS.maxQueued, 0);
  const retries = positiveInteger('retries', options.retries, DEFAULTS.retries, 0);
  const baseDelayMs = positiveInteger('retryBaseDelayMs', options.retryBaseDelayMs, DEFAULTS.retryBaseDelayMs, 0);
  const maxDelayMs = positiveInteger('retryMaxDelayMs', options.retryMaxDelayMs, DEFAULTS.retryMaxDelayMs, 1);
  const onRetry = options.onRetry as ((retry: CassandraRetry<T>) => void) | undefined;
  const onBacklog = options.onBacklog;
  const queryOptions: QueryOptions = { prepare: true, isIdempotent: true };
  if (options.consistency !== undefined) queryOptions.consistency = options.consistency;

  return (source) => new Observable<CassandraWriteResult<T>>((destination) => {
    const held = holdClient(client, maxDelayMs);
    // FIFO of rows not yet sent; `head` avoids O(n) shifts while a backlog drains.
    let queue: Pending<T>[] = [];
    let head = 0;
    let inFlight = 0;
    let sourceDone = false;
    let closed = false;
    const timers = new Set<ReturnType<typeof setTimeout>>();
    let lastBacklog = { inFlight: -1, queued: -1 };

    const reportBacklog = () => {
      const queued = queue.length - head;
      if (onBacklog && (lastBacklog.inFlight !== inFlight || lastBacklog.queued !== queued)) {
        lastBacklog = { inFlight, queued };
        try {
          onBacklog(lastBacklog);
        } catch (callbackError) {
          finish(callbackError);
        }
      }
    };

    // Ends the stream once; an owned client is shut down first, so that a finished
    // stream holds no socket or timer.
    const finish = (error?: unknown) => {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      queue = [];
      head = 0;
      void releaseClient(held).then(() => (error === undefined ? destination.complete() : destination.error(error)));
    };

    const write = ({ row, timestamp }: Pending<T>, attempt: number) => {
      let params: readonly unknown[];
      try {
        params = toValues(row);
      } catch (error) {
        finish(error);
        return;
      }
      held.client.execute(query, params as unknown[], { ...queryOptions, timestamp }).then(() => {
        held.watchHosts();
        if (closed) return;
        inFlight--;
        destination.next({ row, attempts: attempt });
        pump();
      }, (error: unknown) => {
        held.watchHosts();
        if (closed) return;
        const retryable = isRetryableCassandraError(error);
        if (!retryable || attempt > retries) {
          finish(new CassandraWriteError(target, row, attempt, retryable, error));
          return;
        }
        const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        // Jitter spreads the retries of the rows that failed together (an outage).
        const delayMs = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
        try {
          onRetry?.({ row, attempt, delayMs, error });
        } catch (callbackError) {
          finish(callbackError); // a throwing callback ends the stream, never an unhandled rejection
          return;
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!closed) write({ row, timestamp }, attempt + 1);
        }, delayMs);
        timers.add(timer);
      });
    };

    // Re-entrant by design: destination.next above may make a paced source emit,
    // which lands here again; the loop condition keeps the bound either way.
    const pump = () => {
      while (!closed && inFlight < concurrency && head < queue.length) {
        const pending = queue[head] as Pending<T>;
        head++;
        inFlight++;
        write(pending, 1);
      }
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      if (closed) return;
      reportBacklog();
      if (sourceDone && inFlight === 0 && head === queue.length) finish();
    };

    const subscription = source.subscribe({
      next: (row) => {
        if (closed) return;
        if (inFlight >= concurrency && queue.length - head >= maxQueued) {
          finish(new CassandraBacklogError(target, maxQueued));
          return;
        }
        queue.push({ row, timestamp: nextWriteTimestamp() });
        pump();
      },
      error: (error: unknown) => finish(error),
      complete: () => {
        sourceDone = true;
        pump();
      },
    });

    return () => {
      subscription.unsubscribe();
      if (!closed) {
        // Unsubscribed from outside: drop pending work, release an owned client.
        closed = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        queue = [];
        void releaseClient(held);
      }
    };
  });
}

/** A row waiting or being written, with the write timestamp it keeps across retries. */
interface Pending<T> {
  readonly row: T;
  readonly timestamp: number;
}

/** The INSERT for the chosen form, with every name checked before anything is sent. */
function insertFor<T>(options: WindowCountSinkOptions | RowMappingSinkOptions<T>): {
  target: string; query: string; toValues: (value: T) => readonly unknown[];
} {
  if ('columns' in options || 'toValues' in options) {
    const mapping = options as RowMappingSinkOptions<T>;
    const keyspace = assertCqlIdentifier('keyspace', mapping.keyspace ?? 'hyper');
    const table = assertCqlIdentifier('table', mapping.table);
    if (!Array.isArray(mapping.columns) || mapping.columns.length === 0) {
      throw new TypeError('cassandraSink: columns must be a non-empty array of column names');
    }
    const columns = mapping.columns.map((name, i) => assertCqlIdentifier(`columns[${i}]`, name));
    if (new Set(columns.map((c) => c.toLowerCase())).size !== columns.length) {
      throw new TypeError(`cassandraSink: columns name a column twice: ${columns.join(', ')}`);
    }
    if (typeof mapping.toValues !== 'function') throw new TypeError('cassandraSink: toValues must be a function value => column values');
    const userToValues = mapping.toValues;
    const toValues = (value: T) => {
      const values = userToValues(value);
      if (!Array.isArray(values) || values.length !== columns.length) {
        throw new TypeError(`cassandraSink: toValues returned ${Array.isArray(values) ? values.length : typeof values} values for ${columns.length} columns (${columns.join(', ')})`);
      }
      return values;
    };
    return {
      target: `${keyspace}.${table}`,
      query: `INSERT INTO ${keyspace}.${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      toValues,
    };
  }
  const windowOptions = options as WindowCountSinkOptions;
  const { keyspace, table } = windowCountTarget(windowOptions);
  const aggregator = windowOptions.aggregator ?? '';
  if (typeof aggregator !== 'string') throw new TypeError('cassandraSink: aggregator must be a string');
  const toValues = (value: T) => {
    const row = value as unknown as WindowRow<number>;
    return [row.windowStart, row.windowEnd, row.key, aggregator, row.count];
  };
  return {
    target: `${keyspace}.${table}`,
    query: `INSERT INTO ${keyspace}.${table} (window_start, window_end, status, aggregator, count) VALUES (?, ?, ?, ?, ?)`,
    toValues,
  };
}
