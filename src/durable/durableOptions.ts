/**
 * The options of `durableWindowedCount` and `durableWindowedAggregate`, their defaults and
 * their checks.
 * @module
 */
import type { Observable } from 'rxjs';
import { CASSANDRA_SINK_DEFAULTS } from '../cassandra/cassandraSink.js';
import type { Duration } from '../duration.js';
import { optionChecks } from '../internal/options.js';
import type { MqttMessage } from '../mqtt/message.js';
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import type { Rejection } from '../reject.js';
import { resolveWindowSettings, type WindowedCountOptions, type WindowSettings } from '../window/options.js';
import { isSessionOptions, resolveSessionSettings, type SessionSettings } from '../window/sessionOptions.js';
import type { WindowRow } from '../window/windowRow.js';
import type { WriteResult } from '../writeQueue.js';
import type { DeadLetterOptions } from './deadLetters.js';
import type { DurableWindowStats } from './DurableWindowsState.js';
import type { DurableWindowsKind } from './durableWindowsKind.js';
import type { LateRow } from './pendingRows.js';
import type { Durability } from './stateFiles.js';

/** What {@link durableWindowedCount} hands its `prepare` function, to pass on to the decoding and parsing steps. */
export interface DurablePrepareHooks {
  /**
   * Pass it as `onReject` to the steps in `prepare` (e.g. {@link decodeIotPayload}'s and
   * {@link parseAccessLog}'s): their rejections are then counted by kind in the live
   * statistics (`rejections_total`) and reported through the operator's own `onReject`.
   */
  readonly onReject: (rejection: Rejection) => void;
}

/** What {@link durableWindowedCount} hands its `write` function, to pass on to the writer. */
export interface DurableWriterHooks<K> {
  /**
   * Pass it as the writer's `onReject` (e.g. {@link cassandraSink}'s): a row the
   * writer refuses for good then leaves the saved state and is reported through the
   * operator's own `onReject`, instead of holding a write slot for ever. When that
   * report throws (`strict`), the writer ends with the error and the row stays saved.
   */
  readonly onReject: (rejection: Rejection<WindowRow<K>>) => void;
}

/**
 * The defaults of {@link durableWindowedCount}'s own options, which their TSDoc quotes:
 * as many rows in flight as {@link cassandraSink} writes at once by default.
 */
const DURABLE_WINDOWED_COUNT_DEFAULTS = {
  durability: 'process',
  maxRowsInFlight: CASSANDRA_SINK_DEFAULTS.concurrency,
  maxPendingRows: 10_000,
  checkpointEvery: 10_000,
  stopTimeout: '10 s',
} as const;

const DURABILITIES: readonly Durability[] = ['process', 'power'];

/**
 * Options of {@link durableWindowedCount} and {@link durableWindowedAggregate}.
 *
 * @typeParam E - the event type `prepare` emits.
 * @typeParam K - the key type (a string or a number: keys are saved as JSON).
 * @typeParam W - the row written: a {@link WindowRow} of counts, or an {@link AggregateRow}.
 * @typeParam R - the writer's result.
 */
export interface DurableWindowsOptions<
  E,
  K extends string | number,
  W extends WindowRow<K>,
  R extends WriteResult<W>,
> extends Omit<WindowedCountOptions<E, K>, 'flushOnComplete' | 'onReject'> {
  /**
   * Called once for every refused input, synchronously: an event (an unreadable or
   * far-future time, a late event, as {@link windowedCount} reports them) or a row
   * the writer refused for good (see {@link DurableWriterHooks}). Default
   * {@link warnOnReject}, which prints to stderr.
   */
  onReject?: (rejection: Rejection<NoInfer<E> | NoInfer<W>>) => void;
  /**
   * The directory holding this aggregator's state (created if missing; one
   * aggregator a directory, enforced with a lock file). See
   * {@link defaultStateDirectory}. While it cannot be written (full, read-only, I/O
   * errors) intake pauses, acknowledging nothing more, and resumes once it can; any
   * other failure there (the directory removed) ends the stream with a
   * {@link StateDirectoryError}.
   */
  stateDirectory: string;
  /**
   * What an acknowledged message survives. `'process'` (default): the death of the
   * aggregator process in any way (SIGKILL, out of memory, a crash): each message's
   * effect is handed to the kernel before its PUBACK leaves. `'power'`: also a power
   * loss or kernel crash: each batch waits for `fsync` before its PUBACKs (one disk
   * flush per batch; see docs/benchmarks.md for the measured cost).
   */
  durability?: Durability;
  /**
   * The synchronous steps from a message to the events to count, e.g.
   * `(messages, { onReject }) => messages.pipe(decodeIotPayload({ onReject }), parseAccessLog({ …, onReject }))`
   * (see {@link DurablePrepareHooks}).
   * Every event must come out while its message goes in (decoding and parsing are
   * synchronous): the message is acknowledged right after. An event emitted later
   * errors the stream.
   */
  prepare: (messages: Observable<MqttMessage>, hooks: DurablePrepareHooks) => Observable<E>;
  /**
   * Writes rows and emits one result per acknowledged row, holding the row as
   * `value`, e.g. `(rows, { onReject }) => rows.pipe(cassandraSink(client, {
   * ...windowCountRows({ aggregator: 'a1' }), onReject }))`. A row leaves the saved
   * state only when its result comes back, or when the writer refuses it through
   * the hooks' `onReject`. Rows are re-written after a crash (the newest count of
   * each (window, key)), so the writes must be idempotent upserts on (window, key)
   * where a larger count wins, as the window-count table's are
   * ({@link windowCountRows}).
   */
  write: (rows: Observable<W>, hooks: DurableWriterHooks<K>) => Observable<R>;
  /**
   * Keeps the late events' counts, exactly once, as `write` keeps the on-time ones:
   * writes {@link LateRow}s (per window, key and part, always final) and emits one
   * result per acknowledged row, e.g. `(rows, { onReject }) => rows.pipe(cassandraSink(client,
   * { ...lateCountRows({ aggregator: 'a1' }), onReject }))`. On-time counts plus late
   * counts then add up to every event accepted. A late count is held in memory per
   * (window, key) up to `maxLateCounts` of them; past that the oldest is forgotten and
   * its (window, key) starts a new part (a new row) if it is late again, so memory stays
   * bounded and a written count is never replaced by a smaller one. Late rows wait in
   * the saved state like rows do, and count towards `maxPendingRows`. Default: late
   * events are reported (`onReject`, kind `'late'`) and counted in the statistics, not kept.
   */
  writeLate?: (rows: Observable<LateRow<K>>, hooks: DurableWriterHooks<K>) => Observable<WriteResult<LateRow<K>>>;
  /** (window, key) late counts held in memory at most (see `writeLate`). Default 10,000. */
  maxLateCounts?: number;
  /**
   * Republishes each message rejected for what it holds (undecodable, unparseable, too
   * large, a bad or far-future event time) to a dead-letter topic at QoS 1: its payload
   * unchanged (see {@link DeadLetterOptions.maxPayloadBytes}), with the rejection's
   * `kind`, `reason`, `operator` and the original `topic` as MQTT 5 user properties. The
   * message's PUBACK waits until the broker has acknowledged its dead letter, so nothing
   * rejected is lost: a crash before that sends the message again, and it is rejected and
   * dead-lettered again (at least once). A refused dead letter (not authorised) ends the
   * stream with the broker's reason. Late events are not dead letters: see `writeLate`.
   */
  deadLetter?: DeadLetterOptions;
  /** Rows being written at once, at most. Default 32 (the sink's default concurrency). */
  maxRowsInFlight?: number;
  /**
   * Rows counted and not yet written, at most, before intake stops (the writer is
   * slow or down). The operator then unsubscribes from its source, which closes the
   * MQTT connection it owns; with a persistent session the broker keeps the messages
   * meanwhile. Intake resumes once half of them are written. Default 10,000.
   */
  maxPendingRows?: number;
  /**
   * Called when intake stops because `maxPendingRows` rows wait for the writer, and
   * again when it resumes. Default: nothing (the writer reports its own outage).
   */
  onBackpressure?: (state: { readonly paused: boolean; readonly pendingRows: number }) => void;
  /** Journal records between two checkpoints (the journal's length bound). Default 10,000. */
  checkpointEvery?: number;
  /**
   * Graceful stop: when it emits, stop taking messages, write the open windows'
   * counts so far (as rows; they keep counting after the next start), wait up to
   * `stopTimeout` for the writes, save the state and complete. Use it for SIGTERM
   * and SIGINT: the MQTT source never completes by itself.
   */
  stop?: Observable<unknown>;
  /** How long a graceful stop waits for the writer. Default `'10 s'`; unwritten rows stay saved. */
  stopTimeout?: Duration;
  /** Called once per subscription, after the saved state was read, with live counters. */
  onSubscribe?: (stats: DurableWindowStats) => void;
  /**
   * Where this stage's live statistics go (stage `durable`): messages, duplicates,
   * rejections by kind, late events, open windows, watermark, pending rows, intake
   * paused, the state directory failing, journal and checkpoints; intake pausing and
   * resuming (for the writer, or for the state directory) are reported as changes. See
   * {@link LiveStatistics}.
   */
  statistics?: LiveStatistics;
}

/**
 * Options of the durable operators over session windows: {@link DurableWindowsOptions}
 * with `sessionGap` in place of `windowDuration`, `slideDuration` and `offset`, as
 * {@link windowedCount} takes them (see {@link SessionWindowOptions}: append or complete
 * mode, late when an event's own session ends by the watermark). Late counts
 * (`writeLate`) are per fixed window, and not kept for sessions.
 *
 * @typeParam E - the event type `prepare` emits.
 * @typeParam K - the key type (a string or a number).
 * @typeParam W - the row written.
 * @typeParam R - the writer's result.
 */
export type DurableSessionOptions<
  E,
  K extends string | number,
  W extends WindowRow<K>,
  R extends WriteResult<W>,
> = Omit<DurableWindowsOptions<E, K, W, R>, 'windowDuration' | 'slideDuration' | 'offset' | 'writeLate'> & {
  /** How long a key may go without an event before its session ends (> 0), e.g. `'30 s'`. */
  sessionGap: Duration;
};

/** The checked window settings of a durable operator: fixed windows or sessions. @internal */
export type DurableWindowSettings<E, K> = WindowSettings<E, K> | SessionSettings<E, K>;

/**
 * Options of {@link durableWindowedCount}: {@link DurableWindowsOptions} writing count rows.
 * @typeParam E - the event type `prepare` emits.
 * @typeParam K - the key type (a string or a number).
 * @typeParam R - the writer's result.
 */
export type DurableWindowedCountOptions<
  E,
  K extends string | number,
  R extends WriteResult<WindowRow<K>>,
> = DurableWindowsOptions<E, K, WindowRow<K>, R>;

/**
 * {@link DurableWindowedCountOptions} after checking, with the defaults filled in and
 * durations in milliseconds.
 * @internal
 */
export interface DurableSettings<E, K extends string | number, W extends WindowRow<K>, R extends WriteResult<W>> {
  readonly options: DurableWindowsOptions<E, K, W, R>;
  readonly kind: DurableWindowsKind<E, K, W>;
  readonly settings: DurableWindowSettings<E, K>;
  readonly stateDirectory: string;
  readonly durability: Durability;
  readonly maxRowsInFlight: number;
  readonly maxPendingRows: number;
  readonly checkpointEvery: number;
  readonly stopTimeoutMs: number;
  readonly onBackpressure: DurableWindowsOptions<E, K, W, R>['onBackpressure'];
  readonly onSubscribe: DurableWindowsOptions<E, K, W, R>['onSubscribe'];
  readonly writeLate: DurableWindowsOptions<E, K, W, R>['writeLate'];
  readonly maxLateCounts: number | undefined;
  readonly deadLetter: DeadLetterOptions | undefined;
}

/**
 * Checks the options once, when the operator is created, throwing a `TypeError` or
 * `RangeError` that names the option.
 * @internal
 */
export function resolveDurableOptions<E, K extends string | number, W extends WindowRow<K>, R extends WriteResult<W>>(
  given: DurableWindowsOptions<E, K, W, R> | DurableSessionOptions<E, K, W, R>,
  kind: DurableWindowsKind<E, K, W>,
): DurableSettings<E, K, W, R> {
  const check = optionChecks(kind.operator);
  const sessions = isSessionOptions(given);
  if (sessions && (given as { writeLate?: unknown }).writeLate !== undefined)
    throw new TypeError(
      `${kind.operator}: writeLate keeps late counts per fixed window; session windows have none (a late event is reported, kind 'late')`,
    );
  const settings = sessions
    ? resolveSessionSettings(given as DurableSessionOptions<E, K, W, R>, kind.operator)
    : resolveWindowSettings(given as DurableWindowsOptions<E, K, W, R>, kind.operator);
  // Both shapes have every option read below; writeLate only the fixed windows' (refused above).
  const options = given as DurableWindowsOptions<E, K, W, R>;
  const defaults = DURABLE_WINDOWED_COUNT_DEFAULTS;
  const stateDirectory = check.string('stateDirectory', options.stateDirectory, 'a directory path');
  const durability = check.oneOf('durability', options.durability ?? defaults.durability, DURABILITIES);
  check.func('prepare', options.prepare, '(messages) => events');
  check.func('write', options.write, '(rows) => results');
  const maxRowsInFlight = check.positiveInteger('maxRowsInFlight', options.maxRowsInFlight ?? defaults.maxRowsInFlight);
  const maxPendingRows = check.positiveInteger('maxPendingRows', options.maxPendingRows ?? defaults.maxPendingRows);
  const checkpointEvery = check.positiveInteger('checkpointEvery', options.checkpointEvery ?? defaults.checkpointEvery);
  const stopTimeoutMs = check.duration('stopTimeout', options.stopTimeout ?? defaults.stopTimeout, { min: 0 });
  const onBackpressure = check.optionalFunc<NonNullable<DurableWindowsOptions<E, K, W, R>['onBackpressure']>>(
    'onBackpressure',
    options.onBackpressure,
    '(state) => void',
  );
  const onSubscribe = check.optionalFunc<(stats: DurableWindowStats) => void>(
    'onSubscribe',
    options.onSubscribe,
    '(stats) => void',
  );
  const writeLate = check.optionalFunc<NonNullable<DurableWindowsOptions<E, K, W, R>['writeLate']>>(
    'writeLate',
    options.writeLate,
    '(lateRows) => results',
  );
  const maxLateCounts =
    options.maxLateCounts === undefined ? undefined : check.positiveInteger('maxLateCounts', options.maxLateCounts);
  const deadLetter = options.deadLetter;
  if (deadLetter !== undefined) {
    if (typeof deadLetter !== 'object' || deadLetter === null)
      throw check.error('type', 'deadLetter', '{ broker, topic }', deadLetter);
    check.string('deadLetter.topic', deadLetter.topic, 'a topic to publish on');
    if (deadLetter.maxPayloadBytes !== undefined)
      check.positiveInteger('deadLetter.maxPayloadBytes', deadLetter.maxPayloadBytes);
  }
  return {
    options,
    kind,
    settings,
    stateDirectory,
    durability,
    maxRowsInFlight,
    maxPendingRows,
    checkpointEvery,
    stopTimeoutMs,
    onBackpressure,
    onSubscribe,
    writeLate,
    maxLateCounts,
    deadLetter,
  };
}
