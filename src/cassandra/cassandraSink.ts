/**
 * `cassandraSink`: writes each value as one row, emits one result per acknowledged write.
 * @module
 */
import type { Duration } from '../duration.js';
import { Observable, type OperatorFunction } from 'rxjs';
import type { QueryOptions, types } from 'cassandra-driver';
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import { WriterStatistics } from './writerStatistics.js';
import { BoundedWriter, writeQueueSettings, type WriteSlot } from '../internal/boundedWriter.js';
import { optionChecks } from '../internal/options.js';
import { singleLine, truncateText } from '../reject.js';
import type { WriteQueueOptions, WriteResult } from '../writeQueue.js';
import { holdClient, type CassandraClientInput } from './client.js';
import { CassandraDriverMissingError } from './driver.js';
import { assertCqlIdentifier } from './identifier.js';
import { CassandraWriteError, isRetryableCassandraError, isValueEncodingError } from './writeError.js';

/** What the sink emits for each value, once Cassandra acknowledged its row. */
export interface CassandraWriteResult<T> extends WriteResult<T> {
  /** How many times it was sent (1 when the first write succeeded). */
  readonly attempts: number;
}

/** Passed to `onRetry` before each retry of a write. */
export interface CassandraRetry<T> {
  /** The value whose row is written again. */
  readonly value: T;
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

/**
 * Where and what {@link cassandraSink} writes: one row of `keyspace.table` per value.
 * {@link windowCountRows} gives the mapping of the window-count table.
 */
export interface CassandraTableMapping<T> {
  /** Keyspace, a plain CQL identifier. */
  keyspace: string;
  /** Table, a plain CQL identifier. */
  table: string;
  /** The columns written, plain CQL identifiers; their primary key should make a re-write an overwrite. */
  columns: readonly string[];
  /** The column values of one value, in the order of `columns`. */
  toValues: (value: T) => readonly unknown[];
  /**
   * The write timestamp of a value, in microseconds since the epoch, as a safe
   * integer, a `bigint` or a driver `Long`: Cassandra keeps, cell by cell, the write with the
   * highest timestamp, whatever order writes land in. Default: the clock when the
   * value's first write is sent (strictly increasing), so the newest value wins.
   * The window-count table's mapping stamps `windowEnd` (ms) × 1000 + `count`, so
   * that a smaller count never replaces a larger one (see {@link windowCountRows}).
   */
  writeTimestamp?: (value: T) => number | bigint | types.Long;
}

/** Options of {@link cassandraSink}: the table mapping, the shared write-queue options, retries. */
export interface CassandraSinkOptions<T> extends CassandraTableMapping<T>, WriteQueueOptions<T> {
  /**
   * Retries of a write after a transient error. Default `Infinity`: a row is retried
   * for as long as the stream lives, so an outage of any length only delays the
   * writes (and, with a source paced on the results, stops intake meanwhile). A
   * number (0 = none) makes the stream error with a {@link CassandraWriteError} once
   * a row has failed that many retries.
   */
  retries?: number;
  /** Delay before the first retry (ms, or text like `'100 ms'`); it doubles each retry (with jitter). Default 100 ms. */
  retryBaseDelay?: Duration;
  /**
   * Upper bound of the retry delay (ms, or text like `'10 s'`). Default 10 s. A client built from options
   * also uses it as the longest wait between reconnection attempts to a lost node.
   */
  retryMaxDelay?: Duration;
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
   * Where the live statistics go: stage `writer` (rows written and refused, retries,
   * outages, whether writes succeed; an outage's start and end are reported as
   * changes) and stage `write_queue` (values waiting, in flight). See {@link LiveStatistics}.
   */
  statistics?: LiveStatistics;
}

/**
 * Clock write timestamps (microseconds since the epoch), strictly increasing across
 * every sink in the process: the default `writeTimestamp`. Each row takes one when
 * its first write is sent (in arrival order: the queue is first in, first out) and
 * keeps it through its retries, so a late retry of an older value can never
 * overwrite a newer one.
 */
let lastTimestampMicros = 0;
function nextWriteTimestamp(): number {
  lastTimestampMicros = Math.max(lastTimestampMicros + 1, Date.now() * 1000);
  return lastTimestampMicros;
}

/**
 * The defaults of {@link cassandraSink}'s options, which their TSDoc quotes; its
 * `concurrency` is also {@link durableWindowedCount}'s `maxRowsInFlight` default.
 * @internal
 */
export const CASSANDRA_SINK_DEFAULTS = {
  concurrency: 32,
  retries: Infinity,
  retryBaseDelay: 100,
  retryMaxDelay: 10_000,
} as const;

/** The default `onOutage`: one line on stderr when writes start failing, one when they work again. */
function outageReporter(retries: number): (outage: CassandraOutage) => void {
  const retrying = retries === Infinity ? 'retrying until it is back' : `retrying each write up to ${retries} times`;
  return (outage) => {
    const line =
      outage.state === 'down'
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
 * {@link CassandraWriteResult} per value once Cassandra acknowledged its row.
 *
 * ```
 * source:   --v1--v2--v3-------|
 * writes:      [v1=]
 *                 [v2=====x  retry  =]        (x: node down, retried with backoff)
 *                    [v3=]
 * result:   ------w1---w3----------w2|        (w = {value, attempts}; completes after the last ack)
 * ```
 *
 * `INSERT INTO keyspace.table (columns…) VALUES (?, …)` with `toValues(value)`, for
 * any table. The window-count table (`hyper.mqtt`, created by
 * {@link ensureWindowCountTable}) has its mapping ready: `cassandraSink(client,
 * windowCountRows({ aggregator: 'a1' }))`.
 *
 * Exact behaviour:
 * - Names (keyspace, table, columns) are checked as plain CQL identifiers when
 *   `cassandraSink` is called: a bad one throws a {@link CqlIdentifierError} there,
 *   before any client is built or query sent.
 * - `client` is either your `Client` (used, never shut down) or `ClientOptions`: then
 *   the sink builds a client on subscribe and shuts it down on teardown; when the
 *   stream completes or errors, that client is already shut down.
 * - At most `concurrency` writes are in flight (default 32; a row waiting for a
 *   retry keeps its slot) and `maxQueued` rows wait (default 10,000); one more
 *   errors the stream with a {@link QueueFullError}, or with `onQueueFull: 'reject'`
 *   is rejected (kind `'queue-full'`). `onBacklog` reports both counts as they
 *   change. Results come in acknowledgement order, not input order. The stream
 *   completes after the source completed and every row was acknowledged or rejected.
 * - Every write is sent with `{ prepare: true, isIdempotent: true }`. A transient
 *   error (see {@link isRetryableCassandraError}: node down or unreachable, timeout,
 *   unavailable, overloaded) is retried after a delay of `retryBaseDelay · 2^(n−1)`
 *   capped at `retryMaxDelay`, of which a random 50–100 % is waited (jitter): by
 *   default for as long as the stream lives (`retries: Infinity`), so a Cassandra
 *   outage of any length delays the writes and loses none. With a finite `retries`
 *   the stream errors with a {@link CassandraWriteError} naming the cause once a row
 *   failed that many retries. Within one attempt the client's own retry policy
 *   (marking the write idempotent lets the driver's default policy try another
 *   host) still applies. A client the sink builds reconnects to a lost node at least
 *   every `retryMaxDelay`.
 * - One row, or every row. A value the sink cannot turn into a write is rejected
 *   (`onReject`, kind `'row'`) and skipped, like a value `toMqtt` cannot serialize;
 *   with `strict` it ends the stream with a {@link RejectionError}. That is:
 *   `toValues` throws or returns the wrong number of values, `writeTimestamp` throws
 *   or returns neither a safe integer, a `bigint` nor a `Long`, or the driver cannot encode one
 *   of the values for its column's type (a string for an `int`, an invalid `Date`).
 *   Everything else concerns every row, and skipping would silently drop them all:
 *   an error Cassandra answers (unknown keyspace or table, a column of another
 *   type, permissions, credentials) ends the stream at once with a
 *   {@link CassandraWriteError} carrying Cassandra's message, e.g. `cassandraSink:
 *   writing to hyper.mqtt failed: table mqtt does not exist`. Cassandra answers a
 *   problem with one row (an empty partition key) the same way as a problem with the
 *   table, so that ends the stream too.
 * - An outage is reported, never silent: `onOutage` (default: a line on stderr) is
 *   called once when a write first fails transiently (`'down'`, with the cause) and
 *   once when a write succeeds again (`'up'`, with the duration and the number of
 *   retries), not once per row. A write that was already on its way when the state
 *   changed does not change it back (no flapping at the edges of an outage). A
 *   stream that ends during an outage reports no `'up'`.
 * - Each row gets its write timestamp when its first write is sent and keeps it
 *   through its retries; Cassandra keeps, per cell, the write with the highest
 *   timestamp, whatever order writes land in. By default the clock (strictly
 *   increasing, so the newest value wins); {@link windowCountRows} stamps
 *   `windowEnd` (ms) × 1000 + `count`, so a smaller count never replaces a larger
 *   one of the same window and status (see there for what that implies).
 * - A source error errors the stream at once; writes still in flight are abandoned.
 *
 * Backpressure. RxJS pushes: no operator can make its source stop emitting. While
 * `concurrency` writes are in flight (Cassandra slow or down, writes retrying), newly
 * arriving rows wait in the sink's queue, bounded by `maxQueued`. For the pipeline
 * to truly stop pulling, pace the source on the results: with
 * `fromMqtt(..., { ack: 'manual' })`, acknowledge a message only when its row's
 * result arrives, so the broker stops sending once its in-flight window (MQTT 5
 * Receive Maximum) is full (or use {@link durableWindowedCount}, which does that);
 * or emit the next value of a generated source when a result comes back. Then the
 * sink holds at most `concurrency` rows and the rest of the data stays upstream
 * (at the broker, in the file).
 *
 * `cassandraSink`, {@link toMqtt} and {@link lightWhile} share the queue options and
 * rules ({@link WriteQueueOptions}).
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { from, lastValueFrom } from 'rxjs';
 * import { cassandraSink, ensureWindowCountTable, windowCountRows, type WindowRow } from 'mqtt-iot-stream';
 *
 * const client = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowCountTable(client); // hyper.mqtt
 * const rows: WindowRow<number>[] = [
 *   { windowStart: new Date('2020-07-01T12:00:00Z'), windowEnd: new Date('2020-07-01T12:01:00Z'), key: 200, count: 42 },
 * ];
 * await lastValueFrom(from(rows).pipe(cassandraSink(client, { ...windowCountRows(), concurrency: 16 })));
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
 *     toValues: (r: Reading) => [r.sensor, r.at, r.celsius],
 *     onReject: (r) => console.warn('not written:', r.reason) },
 * )));
 * ```
 * @see {@link windowCountRows}, {@link ensureWindowCountTable}, {@link readWindowTotals}, {@link isRetryableCassandraError}
 * @param client - your cassandra-driver `Client` (left open) or `ClientOptions` (owned).
 * @param options - the target table and its mapping, the queue bounds, the retries.
 * @returns an operator emitting `{ value, attempts }` per written value.
 */
export function cassandraSink<T>(
  client: CassandraClientInput,
  options: CassandraSinkOptions<T>,
): OperatorFunction<T, CassandraWriteResult<T>> {
  const { target, query, columnCount } = insertFor(options);
  const check = optionChecks('cassandraSink');
  const queue = writeQueueSettings<T>('cassandraSink', options, CASSANDRA_SINK_DEFAULTS.concurrency);
  // Infinity, the default, retries for as long as the stream lives.
  const retries = check.integer('retries', options.retries ?? CASSANDRA_SINK_DEFAULTS.retries, {
    min: 0,
    infinity: true,
  });
  const baseDelayMs = check.duration(
    'retryBaseDelay',
    options.retryBaseDelay ?? CASSANDRA_SINK_DEFAULTS.retryBaseDelay,
    {
      min: 0,
      integer: true,
    },
  );
  const maxDelayMs = check.duration('retryMaxDelay', options.retryMaxDelay ?? CASSANDRA_SINK_DEFAULTS.retryMaxDelay, {
    min: 1,
    integer: true,
  });
  const { toValues } = options;
  const onRetry = check.optionalFunc<(retry: CassandraRetry<T>) => void>('onRetry', options.onRetry, '(retry) => void');
  const onOutage =
    check.optionalFunc<(outage: CassandraOutage) => void>('onOutage', options.onOutage, '(outage) => void') ??
    outageReporter(retries);
  const stampOf = options.writeTimestamp ?? nextWriteTimestamp;
  const queryOptions: QueryOptions = { prepare: true, isIdempotent: true };
  if (options.consistency !== undefined) queryOptions.consistency = options.consistency;

  return (source) =>
    new Observable<CassandraWriteResult<T>>((destination) => {
      const held = holdClient('cassandraSink', client, maxDelayMs);
      const statistics = options.statistics;
      const writerStage = statistics?.stage(
        'writer',
        () => new WriterStatistics(target, (change) => statistics.report(change)),
      );
      const timers = new Set<ReturnType<typeof setTimeout>>();
      let released = false;
      // Outage tracking. Writes are numbered as they are sent; a result changes the
      // state only if its write was sent after the last change, so that writes already
      // on their way when the node went down (or came back) do not make it flap.
      let sent = 0;
      let outage: { since: Date; retries: number; startedAfter: number } | undefined;
      let recoveredAfter = 0;

      // A throwing callback ends the stream, never an unhandled rejection.
      const called = (callback: () => void): boolean => {
        try {
          callback();
          return true;
        } catch (callbackError) {
          writer.fail(callbackError);
          return false;
        }
      };

      const send = (
        value: T,
        slot: WriteSlot<CassandraWriteResult<T>>,
        params: readonly unknown[],
        timestamp: number | bigint | types.Long,
        attempt: number,
      ) => {
        const sendNumber = ++sent;
        held.execute(query, params as unknown[], { ...queryOptions, timestamp }).then(
          () => {
            if (writer.closed) return;
            if (outage !== undefined && sendNumber > outage.startedAfter) {
              const { since, retries: retried } = outage;
              outage = undefined;
              recoveredAfter = sent;
              writerStage?.outageEnded(Date.now() - since.getTime(), retried);
              if (
                !called(() =>
                  onOutage({ state: 'up', target, downForMs: Date.now() - since.getTime(), retries: retried }),
                )
              )
                return;
            }
            writerStage?.written();
            slot.done({ value, attempts: attempt });
          },
          (error: unknown) => {
            if (writer.closed) return;
            if (error instanceof CassandraDriverMissingError) {
              writer.fail(error);
              return;
            }
            if (isValueEncodingError(error)) {
              writerStage?.refused();
              slot.reject('row', `cannot write the value to ${target}: ${describeError(error)}`);
              return;
            }
            const retryable = isRetryableCassandraError(error);
            if (!retryable || attempt > retries) {
              writer.fail(new CassandraWriteError({ target, value, attempts: attempt, retryable, cause: error }));
              return;
            }
            if (outage === undefined && sendNumber > recoveredAfter) {
              outage = { since: new Date(), retries: 0, startedAfter: sent };
              const since = outage.since;
              writerStage?.outageStarted(since, describeError(error));
              if (!called(() => onOutage({ state: 'down', target, since, error, reason: describeError(error) })))
                return;
            }
            if (outage !== undefined) outage.retries++;
            writerStage?.retried();
            // 2 ** attempt is Infinity after about 1,000 attempts: the cap still applies.
            const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
            // Jitter spreads the retries of the rows that failed together (an outage).
            const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
            if (onRetry !== undefined && !called(() => onRetry({ value, attempt, delayMs, error }))) return;
            const timer = setTimeout(() => {
              timers.delete(timer);
              if (!writer.closed) send(value, slot, params, timestamp, attempt + 1);
            }, delayMs);
            timers.add(timer);
          },
        );
      };

      // The row and its timestamp are made once, when the value's turn comes: a
      // value they cannot be made of concerns that value alone.
      const write = (value: T, slot: WriteSlot<CassandraWriteResult<T>>) => {
        let params: readonly unknown[];
        let timestamp: number | bigint | types.Long;
        try {
          params = toValues(value);
          if (!Array.isArray(params) || params.length !== columnCount) {
            throw new TypeError(
              `toValues returned ${Array.isArray(params) ? params.length : typeof params} values for ${columnCount} columns (${options.columns.join(', ')})`,
            );
          }
          timestamp = stampOf(value);
          if (!isWriteTimestamp(timestamp)) {
            throw new TypeError(
              `writeTimestamp returned ${String(timestamp)}; expected microseconds since the epoch, a safe integer, a bigint or a Long`,
            );
          }
        } catch (error) {
          writerStage?.refused();
          slot.reject(
            'row',
            `cannot make a row of the value for ${target}: ${error instanceof Error ? error.message : String(error)}`,
          );
          return;
        }
        send(value, slot, params, timestamp, 1);
      };

      // Shuts an owned client down (once): the end is passed on after it, so a
      // finished stream holds no socket or timer.
      const release = () => {
        if (released) return undefined;
        released = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        return held.release();
      };

      const writer = new BoundedWriter<T, CassandraWriteResult<T>>(
        destination,
        {
          ...queue,
          order: 'completion',
          state: () =>
            outage === undefined
              ? `writing to ${target}`
              : `writes to ${target} failing since ${outage.since.toTimeString().slice(0, 8)}`,
          release,
        },
        write,
      );
      statistics?.add(writer.statistics());
      writer.subscribe(source);
      return () => writer.unsubscribe();
    });
}

/** A write timestamp the driver takes: a safe integer, a bigint, or a `Long` (of any copy of the driver). */
function isWriteTimestamp(timestamp: unknown): boolean {
  if (typeof timestamp === 'number') return Number.isSafeInteger(timestamp);
  if (typeof timestamp === 'bigint') return timestamp >= -(2n ** 63n) && timestamp < 2n ** 63n;
  return (timestamp as { __isLong__?: unknown } | null)?.__isLong__ === true;
}

/** The INSERT of a mapping, with every name checked before anything is sent. */
function insertFor<T>(mapping: CassandraTableMapping<T>): { target: string; query: string; columnCount: number } {
  if (typeof mapping !== 'object' || mapping === null) {
    throw new TypeError(
      'cassandraSink: options must name keyspace, table, columns and toValues (windowCountRows() gives them for the window-count table)',
    );
  }
  const keyspace = assertCqlIdentifier('keyspace', mapping.keyspace, 'cassandraSink');
  const table = assertCqlIdentifier('table', mapping.table, 'cassandraSink');
  const check = optionChecks('cassandraSink');
  if (!Array.isArray(mapping.columns))
    throw check.error('type', 'columns', 'a non-empty array of column names', mapping.columns);
  if (mapping.columns.length === 0)
    throw check.error('range', 'columns', 'a non-empty array of column names', mapping.columns);
  const columns = mapping.columns.map((name, i) => assertCqlIdentifier(`columns[${i}]`, name, 'cassandraSink'));
  if (new Set(columns.map((c) => c.toLowerCase())).size !== columns.length) {
    throw new RangeError(`cassandraSink: columns name a column twice: ${columns.join(', ')}`);
  }
  check.func('toValues', mapping.toValues, '(value) => column values');
  check.optionalFunc('writeTimestamp', mapping.writeTimestamp, '(value) => microseconds');
  return {
    target: `${keyspace}.${table}`,
    query: `INSERT INTO ${keyspace}.${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    columnCount: columns.length,
  };
}
