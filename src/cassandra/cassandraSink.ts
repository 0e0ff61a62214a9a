/**
 * `cassandraSink`: writes each value as one row, emits one result per acknowledged write.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import cassandra from 'cassandra-driver';
import type { QueryOptions, types } from 'cassandra-driver';
import { singleLine, truncateText } from '../reject.js';
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

/**
 * An outage as {@link cassandraSink} reports it to `onOutage`: once when writes
 * start failing, once when they work again, whatever the number of rows.
 */
export type CassandraOutage =
  | {
    readonly state: 'down';
    /** `keyspace.table` written to. */
    readonly target: string;
    /** When the first write failed. */
    readonly since: Date;
    /** That write's transient error, e.g. a `NoHostAvailableError`. */
    readonly error: unknown;
    /** The error as one short line: its name and message. */
    readonly reason: string;
  }
  | {
    readonly state: 'up';
    /** `keyspace.table` written to. */
    readonly target: string;
    /** From the first failure to the first write that succeeded again. */
    readonly downForMs: number;
    /** Retries scheduled during the outage, over every row. */
    readonly retries: number;
  };

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
  /**
   * Retries of a write after a transient error. Default `Infinity`: a row is retried
   * for as long as the stream lives, so an outage of any length only delays the
   * writes (and, with a source paced on the results, stops intake meanwhile). A
   * number (0 = none) makes the stream error with a {@link CassandraWriteError} once
   * a row has failed that many retries.
   */
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
  /** Called before each retry of each row (for metrics and tests). Default: nothing. */
  onRetry?: (retry: CassandraRetry<T>) => void;
  /**
   * Called once when writes start failing (`state: 'down'`, with the cause) and once
   * when a write succeeds again (`state: 'up'`, with how long and how many retries
   * it took): once per outage, not once per row. Default: one line on stderr each,
   * e.g. `mqtt-iot-stream: cassandraSink: writes to hyper.mqtt failing since
   * 12:01:02 (NoHostAvailableError: …); retrying until it is back` and `… writes to
   * hyper.mqtt work again after 183 s (412 retries)`. Pass `() => {}` for silence.
   */
  onOutage?: (outage: CassandraOutage) => void;
  /**
   * The write timestamp of a value, in microseconds since the epoch: Cassandra keeps,
   * cell by cell, the write with the highest timestamp, whatever order writes land
   * in. Default for the window-count table: `windowEnd` (ms) × 1000 + `count`, so
   * that a smaller count never replaces a larger one of the same key (see
   * {@link cassandraSink}). Default for a row mapping: the clock when the value
   * reaches the sink (strictly increasing), so the newest value wins.
   * It must return a safe integer.
   */
  writeTimestamp?: (value: T) => number;
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
 * Arrival-clock write timestamps (microseconds since the epoch), strictly increasing
 * across every sink in the process: the row-mapping form's default. Each row takes
 * one when it arrives and keeps it through its retries, so a late retry of an older
 * value can never overwrite a newer one.
 */
let lastTimestampMicros = 0;
function nextWriteTimestamp(): number {
  lastTimestampMicros = Math.max(lastTimestampMicros + 1, Date.now() * 1000);
  return lastTimestampMicros;
}

/**
 * The window-count table's write timestamp: `windowEnd` (ms) × 1000 + `count`. As a
 * `Long`: past the year 2255 the product is no longer a safe JavaScript integer.
 */
function windowCountTimestamp(row: WindowRow<number>): types.Long {
  return cassandra.types.Long.fromNumber(row.windowEnd.getTime()).multiply(1000).add(row.count);
}

const DEFAULTS = { concurrency: 32, maxQueued: 10_000, retries: Infinity, retryBaseDelayMs: 100, retryMaxDelayMs: 10_000 };

function positiveInteger(option: string, value: number | undefined, fallback: number, min: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min) throw new RangeError(`cassandraSink: ${option} must be an integer ≥ ${min}, got ${String(value)}`);
  return resolved;
}

/** The default `onOutage`: one line on stderr when writes start failing, one when they work again. */
function outageReporter(retries: number): (outage: CassandraOutage) => void {
  const retrying = retries === Infinity ? 'retrying until it is back' : `retrying each write up to ${retries} times`;
  return (outage) => {
    const line = outage.state === 'down'
      ? `writes to ${outage.target} failing since ${outage.since.toTimeString().slice(0, 8)} (${outage.reason}); ${retrying}`
      : `writes to ${outage.target} work again after ${formatSeconds(outage.downForMs)} (${outage.retries} ${outage.retries === 1 ? 'retry' : 'retries'})`;
    process.stderr.write(`mqtt-iot-stream: cassandraSink: ${line}\n`);
  };
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** An error as one short line: `NoHostAvailableError: All host(s) tried…`. */
function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return singleLine(truncateText(text, 300));
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
 *   capped at `retryMaxDelayMs`, of which a random 50–100 % is waited (jitter): by
 *   default for as long as the stream lives (`retries: Infinity`), so a Cassandra
 *   outage of any length delays the writes and loses none. With a finite `retries`
 *   the stream errors with a {@link CassandraWriteError} naming the cause once a row
 *   failed that many retries. A permanent
 *   error (unknown keyspace or table, type mismatch, syntax, credentials) errors the
 *   stream at once with Cassandra's message, e.g. `cassandraSink: writing to
 *   hyper.mqtt failed: table mqtt does not exist`. A row retrying keeps its write slot.
 *   Within one attempt the client's own retry policy (marking the write idempotent
 *   lets the driver's default policy try another host) still applies. A client the
 *   sink builds reconnects to a lost node at least every `retryMaxDelayMs`.
 * - An outage is reported, never silent: `onOutage` (default: a line on stderr) is
 *   called once when a write first fails transiently (`'down'`, with the cause) and
 *   once when a write succeeds again (`'up'`, with the duration and the number of
 *   retries), not once per row. A write that was already on its way when the state
 *   changed does not change it back (no flapping at the edges of an outage). A
 *   stream that ends during an outage reports no `'up'`.
 * - Each row gets its write timestamp when it arrives and keeps it through its
 *   retries; Cassandra keeps, per cell, the write with the highest timestamp, whatever
 *   order writes land in. In the window-count table it is `windowEnd` (ms) × 1000 +
 *   `count`: for one (window, status, aggregator) key it grows with the count, so
 *   the largest count stays, however the writes of that key overtake each other
 *   (update mode: counts 5 then 6, the 5 retried after the 6 landed) and however many
 *   times a row is written again (a restarted aggregator replaying its state): a
 *   smaller count never replaces a larger one. Two consequences: a `DELETE` from
 *   cqlsh is stamped with the wall clock, later than these timestamps, so it shadows
 *   the row even against later writes (and misses rows of windows ahead of the wall
 *   clock): use `TRUNCATE` to start a table afresh; and a
 *   table written by version 0.1, which stamped rows with the wall clock, must be
 *   truncated before this version writes to it, or its old rows would win. A row
 *   mapping stamps rows with the clock on arrival (strictly increasing), so the
 *   newest value wins; `writeTimestamp` chooses otherwise, in either form.
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
  const { target, query, toValues, defaultStamp } = insertFor<T>(options);
  const concurrency = positiveInteger('concurrency', options.concurrency, DEFAULTS.concurrency, 1);
  // Infinity is allowed, as in toMqtt, for a source that is paced some other way.
  const maxQueued = options.maxQueued === Infinity ? Infinity : positiveInteger('maxQueued', options.maxQueued, DEFAULTS.maxQueued, 0);
  // Infinity, the default, retries for as long as the stream lives.
  const retries = (options.retries ?? DEFAULTS.retries) === Infinity ? Infinity : positiveInteger('retries', options.retries, DEFAULTS.retries, 0);
  const baseDelayMs = positiveInteger('retryBaseDelayMs', options.retryBaseDelayMs, DEFAULTS.retryBaseDelayMs, 0);
  const maxDelayMs = positiveInteger('retryMaxDelayMs', options.retryMaxDelayMs, DEFAULTS.retryMaxDelayMs, 1);
  const onRetry = options.onRetry as ((retry: CassandraRetry<T>) => void) | undefined;
  const onOutage = options.onOutage ?? outageReporter(retries);
  const stampOf = (options.writeTimestamp as ((value: T) => number) | undefined) ?? defaultStamp;
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
    // Outage tracking. Writes are numbered as they are sent; a result changes the
    // state only if its write was sent after the last change, so that writes already
    // on their way when the node went down (or came back) do not make it flap.
    let sent = 0;
    let outage: { since: Date; retries: number; startedAfter: number } | undefined;
    let recoveredAfter = 0;

    const reportOutage = (event: CassandraOutage): boolean => {
      try {
        onOutage(event);
        return true;
      } catch (callbackError) {
        finish(callbackError); // a throwing callback ends the stream, never an unhandled rejection
        return false;
      }
    };

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
      const sendNumber = ++sent;
      held.client.execute(query, params as unknown[], { ...queryOptions, timestamp }).then(() => {
        held.watchHosts();
        if (closed) return;
        if (outage !== undefined && sendNumber > outage.startedAfter) {
          const { since, retries: retried } = outage;
          outage = undefined;
          recoveredAfter = sent;
          if (!reportOutage({ state: 'up', target, downForMs: Date.now() - since.getTime(), retries: retried })) return;
        }
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
        if (outage === undefined && sendNumber > recoveredAfter) {
          outage = { since: new Date(), retries: 0, startedAfter: sent };
          if (!reportOutage({ state: 'down', target, since: outage.since, error, reason: describeError(error) })) return;
        }
        if (outage !== undefined) outage.retries++;
        // 2 ** attempt is Infinity after about 1,000 attempts: the cap still applies.
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
        let timestamp: number | types.Long;
        try {
          timestamp = stampOf(row);
          if (typeof timestamp === 'number' && !Number.isSafeInteger(timestamp)) {
            throw new TypeError(`cassandraSink: writeTimestamp returned ${String(timestamp)}; expected microseconds since the epoch, a safe integer`);
          }
        } catch (error) {
          finish(error);
          return;
        }
        queue.push({ row, timestamp });
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
  readonly timestamp: number | types.Long;
}

/** The INSERT for the chosen form, with every name checked before anything is sent. */
function insertFor<T>(options: WindowCountSinkOptions | RowMappingSinkOptions<T>): {
  target: string; query: string; toValues: (value: T) => readonly unknown[]; defaultStamp: (value: T) => number | types.Long;
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
      defaultStamp: nextWriteTimestamp,
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
    defaultStamp: (value: T) => windowCountTimestamp(value as unknown as WindowRow<number>),
  };
}
