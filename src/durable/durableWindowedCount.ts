/**
 * `durableWindowedCount`: exactly-once window counts from MQTT, surviving crashes,
 * restarts, broker restarts and writer outages.
 * @module
 */
import { asyncScheduler, Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';
import type { MqttMessage } from '../mqtt/message.js';
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import { reject, warnOnReject, type Rejection } from '../reject.js';
import type { Duration } from '../duration.js';
import { CASSANDRA_SINK_DEFAULTS } from '../cassandra/cassandraSink.js';
import { optionChecks } from '../internal/options.js';
import { IdleAdvance } from '../window/idleAdvance.js';
import { resolveWindowSettings, type WindowedCountOptions } from '../window/options.js';
import type { WindowRow } from '../window/windowRow.js';
import type { WriteResult } from '../writeQueue.js';
import { AcknowledgementBatch } from './acknowledgementBatch.js';
import { DEAD_LETTER_KINDS, DeadLetters, type DeadLetterOptions } from './deadLetters.js';
import { DurableWindowedCountState, type DurableWindowStats } from './DurableWindowedCountState.js';
import type { LateRow } from './pendingRows.js';
import { payloadDigest } from './recentDeliveries.js';
import type { Durability } from './stateFiles.js';

export type { DurableWindowStats } from './DurableWindowedCountState.js';

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

/** Options of {@link durableWindowedCount}. */
export interface DurableWindowedCountOptions<
  E,
  K extends string | number,
  R extends WriteResult<WindowRow<K>>,
> extends Omit<WindowedCountOptions<E, K>, 'flushOnComplete' | 'onReject'> {
  /**
   * Called once for every refused input, synchronously: an event (an unreadable or
   * far-future time, a late event, as {@link windowedCount} reports them) or a row
   * the writer refused for good (see {@link DurableWriterHooks}). Default
   * {@link warnOnReject}, which prints to stderr.
   */
  onReject?: (rejection: Rejection<NoInfer<E> | WindowRow<NoInfer<K>>>) => void;
  /**
   * The directory holding this aggregator's state (created if missing; one
   * aggregator a directory, enforced with a lock file). See
   * {@link defaultStateDirectory}.
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
  write: (rows: Observable<WindowRow<K>>, hooks: DurableWriterHooks<K>) => Observable<R>;
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
   * paused, journal and checkpoints; intake pausing and resuming are reported as
   * changes. See {@link LiveStatistics}.
   */
  statistics?: LiveStatistics;
}

/**
 * Counts per key in event-time windows like {@link windowedCount}, from MQTT
 * messages, with the window state saved on local disk so that every QoS ≥ 1 message
 * the broker accepted ends up in exactly one count, whatever happens to this process.
 *
 * ```
 * fromMqtt(…, { ack: 'manual' }) ─▶ prepare (decode, parse) ─▶ count ─▶ journal ─▶ PUBACK
 *                                                                 └──▶ write (Cassandra) ─▶ results
 * ```
 *
 * For each message, synchronously: a redelivery already counted (same packet
 * identifier and payload, `dup` set) is acknowledged and skipped; otherwise the
 * message goes through `prepare`, its events are counted and one line per event
 * joins the journal's batch. The message is then acknowledged with the connection
 * corked ({@link MqttMessage.holdAcknowledgements}), so the client takes the next
 * message at once while the PUBACK waits; when the event loop turns, the batch is
 * written with one `write(2)` and only then do its PUBACKs leave. A process killed
 * at any point either saved the effect (the redelivery is recognised) or sent no
 * acknowledgement (the broker sends the message again). No round trip is added, and
 * a batch costs one system call (see `durability`).
 *
 * Rows (final rows in append mode, changed rows in update mode, all rows in complete
 * mode) go to `write`; a row stays in the saved state until its result comes back,
 * and is written again after a restart. When the writer is slow or down, rows wait
 * (one per window and key, newest count) and past `maxPendingRows` intake stops
 * until they drain. Every `checkpointEvery` records the whole state is saved and the
 * journal emptied; a restart reads the checkpoint and replays the journal, so it
 * continues the open windows where they were. Window options must stay the same
 * across restarts (checked: other options are refused with an error saying which).
 *
 * Requirements: the source must be `fromMqtt(conn, topics, { qos: 1, ack: 'manual' })`
 * with connection options, not a client (pausing closes the connection), and a
 * persistent session (`clientId` fixed, `clean: false`, a `sessionExpiryInterval`)
 * so the broker keeps messages while the aggregator is away. Keys must be strings
 * or numbers (they are saved as JSON).
 *
 * @example
 * ```ts
 * import { Client } from 'cassandra-driver';
 * import { Subject } from 'rxjs';
 * import {
 *   cassandraSink, decodeIotPayload, defaultStateDirectory, durableWindowedCount, ensureWindowCountTable,
 *   fromMqtt, parseAccessLog, windowCountRows, type DecodedMqttMessage,
 * } from 'mqtt-iot-stream';
 *
 * const cassandra = new Client({ contactPoints: ['127.0.0.1:9042'], localDataCenter: 'datacenter1' });
 * await ensureWindowCountTable(cassandra);
 * const stop = new Subject<void>();
 * process.once('SIGTERM', () => stop.next());
 * process.once('SIGINT', () => stop.next());
 *
 * const broker = {
 *   url: 'mqtt://localhost:1883', clientId: 'aggregator-a1', clean: false,
 *   properties: { sessionExpiryInterval: 7 * 86_400 },
 * };
 * fromMqtt(broker, 'rupesh/gpiotopic', { qos: 1, ack: 'manual', keepSubscription: true }).pipe(
 *   durableWindowedCount({
 *     stateDirectory: defaultStateDirectory('a1'),
 *     prepare: (messages, { onReject }) => messages.pipe(
 *       decodeIotPayload({ onReject }),
 *       parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject })),
 *     eventTime: ({ input }) => input.payload.iottimestamp,
 *     key: ({ record }) => record.status,
 *     windowDuration: '1 minute',
 *     watermarkDelay: '2 minutes',
 *     write: (rows, { onReject }) => rows.pipe(cassandraSink(cassandra, { ...windowCountRows({ aggregator: 'a1' }), onReject })),
 *     stop,
 *   }),
 * ).subscribe({ complete: () => void cassandra.shutdown() });
 * ```
 *
 * @param options - the window options, the state directory, `prepare`, `write` and the stop signal.
 * @returns an operator from MQTT messages to the writer's results.
 * @throws TypeError or RangeError at creation when an option is invalid.
 * @see {@link windowedCount} for the same counting without saved state.
 * @see {@link defaultStateDirectory}
 */
export function durableWindowedCount<E, K extends string | number, R extends WriteResult<WindowRow<K>>>(
  options: DurableWindowedCountOptions<E, K, R>,
): OperatorFunction<MqttMessage, R> {
  const settings = resolveWindowSettings(options);
  const check = optionChecks('durableWindowedCount');
  const stateDirectory = check.string('stateDirectory', options.stateDirectory, 'a directory path');
  const durability = check.oneOf(
    'durability',
    options.durability ?? DURABLE_WINDOWED_COUNT_DEFAULTS.durability,
    DURABILITIES,
  );
  check.func('prepare', options.prepare, '(messages) => events');
  check.func('write', options.write, '(rows) => results');
  const maxRowsInFlight = check.positiveInteger(
    'maxRowsInFlight',
    options.maxRowsInFlight ?? DURABLE_WINDOWED_COUNT_DEFAULTS.maxRowsInFlight,
  );
  const maxPendingRows = check.positiveInteger(
    'maxPendingRows',
    options.maxPendingRows ?? DURABLE_WINDOWED_COUNT_DEFAULTS.maxPendingRows,
  );
  const checkpointEvery = check.positiveInteger(
    'checkpointEvery',
    options.checkpointEvery ?? DURABLE_WINDOWED_COUNT_DEFAULTS.checkpointEvery,
  );
  const stopTimeoutMs = check.duration(
    'stopTimeout',
    options.stopTimeout ?? DURABLE_WINDOWED_COUNT_DEFAULTS.stopTimeout,
    {
      min: 0,
    },
  );
  const onBackpressure = check.optionalFunc<
    (state: { readonly paused: boolean; readonly pendingRows: number }) => void
  >('onBackpressure', options.onBackpressure, '(state) => void');
  const onSubscribe = check.optionalFunc<(stats: DurableWindowStats) => void>(
    'onSubscribe',
    options.onSubscribe,
    '(stats) => void',
  );
  const writeLate = check.optionalFunc<NonNullable<DurableWindowedCountOptions<E, K, R>['writeLate']>>(
    'writeLate',
    options.writeLate,
    '(lateRows) => results',
  );
  const maxLateCounts =
    options.maxLateCounts === undefined ? undefined : check.positiveInteger('maxLateCounts', options.maxLateCounts);
  const deadLetterOptions = options.deadLetter;
  if (deadLetterOptions !== undefined) {
    if (typeof deadLetterOptions !== 'object' || deadLetterOptions === null)
      throw check.error('type', 'deadLetter', '{ broker, topic }', deadLetterOptions);
    check.string('deadLetter.topic', deadLetterOptions.topic, 'a topic to publish on');
    if (deadLetterOptions.maxPayloadBytes !== undefined)
      check.positiveInteger('deadLetter.maxPayloadBytes', deadLetterOptions.maxPayloadBytes);
  }
  const idle = settings.idleAdvance;

  return (source) =>
    new Observable<R>((destination) => {
      const rowsToWrite = new Subject<WindowRow<K>>();
      const lateRowsToWrite = new Subject<LateRow<K>>();
      // The rejections of the message being handled: the first a dead letter carries goes with it.
      const refused: Rejection[] = [];
      let state: DurableWindowedCountState<E, K>;
      try {
        state = DurableWindowedCountState.open<E, K>({
          stateDirectory,
          durability,
          settings,
          maxRowsInFlight,
          checkpointEvery,
          now: settings.now,
          sendRow: (row) => rowsToWrite.next(row),
          ...(writeLate === undefined ? {} : { sendLateRow: (row: LateRow<K>) => lateRowsToWrite.next(row) }),
          ...(maxLateCounts === undefined ? {} : { maxLateCounts }),
          onReject: (rejection) => {
            refused.push(rejection);
            (options.onReject ?? warnOnReject)(rejection);
          },
          strict: options.strict,
        });
      } catch (error) {
        destination.error(error);
        return;
      }

      let intake: Subscription | undefined;
      let writes: Subscription | undefined;
      let lateWrites: Subscription | undefined;
      let stopSubscription: Subscription | undefined;
      let stopTimer: ReturnType<typeof setTimeout> | undefined;

      const finish = (error?: unknown) => {
        if (state.phase === 'closed') return;
        intake?.unsubscribe();
        clearTimeout(stopTimer);
        idleAdvance?.stop();
        stopSubscription?.unsubscribe();
        let failure = error;
        // The held PUBACKs leave only if their batch is saved; then the whole state is.
        try {
          acknowledgements.release();
        } catch (saveError) {
          failure ??= saveError;
        }
        try {
          state.close();
        } catch (saveError) {
          failure ??= saveError;
        }
        writes?.unsubscribe();
        lateWrites?.unsubscribe();
        deadLetters?.close();
        if (failure === undefined) destination.complete();
        else destination.error(failure);
      };

      // Runs a step that touches the state files; a failure (disk full, directory gone)
      // ends the stream with its error. Returns whether the step went through.
      const saving = (step: () => void): boolean => {
        try {
          step();
          return true;
        } catch (error) {
          finish(error);
          return false;
        }
      };

      // A callback above (onSubscribe, a synchronous writer or stop signal) may have ended it.
      const ended = () => state.phase === 'closed' || state.phase === 'stopping';
      const acknowledgements = new AcknowledgementBatch((messages) => state.flush(messages), finish);
      const deadLetters = deadLetterOptions === undefined ? undefined : new DeadLetters(deadLetterOptions, finish);

      const idleAdvance =
        idle === undefined
          ? undefined
          : new IdleAdvance({
              after: idle.after,
              watermarkDelay: settings.watermarkDelay,
              scheduler: idle.scheduler ?? asyncScheduler,
              windows: state.windows,
              liveness: idle.liveness,
              advance: (to) => {
                // Recorded before it takes effect: a restart must close the same windows.
                if (!saving(() => state.advanceWatermark(to))) return;
                state.pump();
                saving(() => state.checkpointIfDue());
              },
            });

      const report = (paused: boolean) => {
        const pendingRows = state.backlog;
        onBackpressure?.({ paused, pendingRows });
        options.statistics?.report({
          stage: 'durable',
          state: paused ? 'paused' : 'taking',
          reason: paused
            ? `intake paused: ${pendingRows} rows wait for the writer (the broker queues the messages)`
            : `intake resumed: ${pendingRows} rows wait for the writer`,
        });
      };

      // prepare's events for the message being handled: synchronous, or an error.
      const prepared = new Subject<MqttMessage>();
      const events: E[] = [];
      let preparing = false;
      const prepareHooks: DurablePrepareHooks = {
        onReject: (rejection) => {
          refused.push(rejection);
          state.countRejection(rejection.kind);
          (options.onReject ?? warnOnReject)(rejection as Rejection<E>);
        },
      };
      const preparation = options.prepare(prepared, prepareHooks).subscribe({
        next: (event) => {
          if (!preparing) {
            finish(
              new Error(
                'durableWindowedCount: prepare emitted an event after its message was handled; it must be synchronous',
              ),
            );
            return;
          }
          events.push(event);
        },
        error: (error: unknown) => finish(error),
      });

      const onMessage = (message: MqttMessage) => {
        if (!state.taking) return; // unacknowledged: the broker sends it again
        const messageId = message.qos > 0 ? message.messageId : undefined;
        const digest = messageId === undefined ? undefined : payloadDigest(message.payload);
        if (!state.accept(messageId, digest)) {
          message.ack();
          return;
        }
        events.length = 0;
        refused.length = 0;
        preparing = true;
        try {
          // With dead letters, this operator alone acknowledges: a decoding step that
          // acknowledges what it rejects would let the PUBACK leave before the dead letter.
          prepared.next(deadLetters === undefined ? message : { ...message, ack: acknowledgedHere });
        } finally {
          preparing = false;
        }
        if (state.phase === 'closed') return;
        const deadLettering = deadLetters !== undefined && messageId !== undefined;
        const deadKind = (rejection: Rejection) => DEAD_LETTER_KINDS.has(rejection.kind);
        // A message rejected whole is not remembered: if its dead letter is lost in a
        // crash, the broker's redelivery is rejected, and dead-lettered, again.
        const rejectedWhole = deadLettering && events.length === 0 && refused.some(deadKind);
        if (!saving(() => state.record(messageId, digest, events, !rejectedWhole))) return;
        // Counting may have refused its events too (a far-future time).
        const deadLetter = deadLettering ? refused.find(deadKind) : undefined;
        if (deadLetter !== undefined && deadLetters !== undefined) {
          // The journal first (earlier messages' PUBACKs with it); this PUBACK after the dead letter's.
          if (!saving(() => acknowledgements.release())) return;
          deadLetters.send(message, deadLetter, () => message.ack());
        } else if (!saving(() => acknowledgements.acknowledge(message, state.unflushed))) return;
        idleAdvance?.arrived();
        state.pump();
        if (state.backlog >= maxPendingRows) pauseIntake();
        if (saving(() => state.checkpointIfDue())) idleAdvance?.arm();
      };

      const startIntake = () => {
        if (state.phase !== 'running' && state.phase !== 'paused') return;
        if (intake !== undefined) return;
        const resuming = state.phase === 'paused';
        state.enter('running');
        // Told once running: a listener that reads the statistics sees intake taken up.
        if (resuming) report(false);
        intake = source.subscribe({
          next: onMessage,
          error: (error: unknown) => finish(error),
          complete: () => beginStop(),
        });
      };

      const pauseIntake = () => {
        if (intake === undefined) return;
        state.enter('paused');
        report(true);
        const stopped = intake;
        intake = undefined;
        // After the current message returns, and after the batch's acknowledgements
        // are released: unsubscribing first would close the connection under them.
        queueMicrotask(() => {
          if (saving(() => acknowledgements.release())) stopped.unsubscribe();
        });
      };

      // Graceful stop: no more messages; the open windows' counts so far are written
      // too (they keep counting after the next start, and a larger count replaces them).
      const beginStop = () => {
        if (state.phase === 'stopping' || state.phase === 'closed') return;
        state.enter('stopping');
        idleAdvance?.stop();
        const saved = saving(() => {
          acknowledgements.release();
          intake?.unsubscribe();
          intake = undefined;
          state.checkpoint();
        });
        if (!saved) return;
        state.writeOpenWindows();
        state.pump();
        if (state.backlog === 0) {
          finish();
          return;
        }
        stopTimer = setTimeout(() => finish(), stopTimeoutMs);
      };

      // A row settled (acknowledged, or refused for good) frees its write slot.
      const afterSettled = () => {
        if (state.phase === 'closed') return;
        state.pump();
        if (state.phase === 'stopping') {
          if (state.backlog === 0) finish();
          return;
        }
        if (state.phase === 'paused' && state.backlog <= maxPendingRows / 2) startIntake();
        saving(() => state.checkpointIfDue());
      };
      const writerHooks: DurableWriterHooks<K> = {
        onReject: (rejection) => {
          if (state.phase === 'closed') return;
          // Reported first: a strict report throws into the writer, which ends with
          // that error, and the row stays saved.
          state.countRejection(rejection.kind);
          reject(options, rejection);
          state.rowSettled(rejection.input, false);
          afterSettled();
        },
      };
      writes = options.write(rowsToWrite, writerHooks).subscribe({
        next: (result) => {
          if (state.phase === 'closed') return;
          state.rowSettled(result.value, true);
          destination.next(result);
          afterSettled();
        },
        error: (error: unknown) => finish(error),
        complete: () => finish(),
      });
      if (writeLate !== undefined) {
        const lateHooks: DurableWriterHooks<K> = {
          onReject: (rejection) => {
            if (state.phase === 'closed') return;
            state.countRejection(rejection.kind);
            reject(options, rejection);
            state.lateRowSettled(rejection.input as LateRow<K>, false);
            afterSettled();
          },
        };
        lateWrites = writeLate(lateRowsToWrite, lateHooks).subscribe({
          next: (result) => {
            if (state.phase === 'closed') return;
            state.lateRowSettled(result.value, true);
            afterSettled();
          },
          error: (error: unknown) => finish(error),
          complete: () => finish(),
        });
      }

      stopSubscription = options.stop?.subscribe(() => beginStop());
      options.statistics?.add(state);
      if (deadLetters !== undefined) options.statistics?.add(deadLetters);
      onSubscribe?.(state.stats);
      if (ended()) return;
      // The replay may have made rows (and a long journal): save, then write them.
      if (!saving(() => state.checkpoint())) return;
      state.pump();
      if (ended()) return;
      if (state.backlog >= maxPendingRows) {
        state.enter('paused');
        report(true);
      } else {
        state.enter('running');
        startIntake();
      }
      idleAdvance?.arrived();
      idleAdvance?.arm();

      return () => {
        preparation.unsubscribe();
        finish();
      };
    });
}

/** The `ack` prepare's steps see when dead letters are on: the operator acknowledges itself. */
function acknowledgedHere(): void {
  /* durableWindowedCount acknowledges the message once its effect (or its dead letter) is saved */
}
