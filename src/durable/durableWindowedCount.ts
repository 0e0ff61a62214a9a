/**
 * `durableWindowedCount`: exactly-once window counts from MQTT, surviving crashes,
 * restarts, broker restarts and writer outages.
 * @module
 */
import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';
import type { MqttMessage } from '../mqtt/message.js';
import { reject, RejectionError, type Rejection } from '../reject.js';
import { durationMillis, type Duration } from '../duration.js';
import { deriveWindowSettings, resolveWindowSettings, type WindowedCountOptions } from '../window/options.js';
import { STAT_NAMES } from '../window/snapshot.js';
import { WindowedCountState, type WindowedCountSnapshot, type WindowStats } from '../window/WindowedCountState.js';
import type { WindowRow } from '../window/windowRow.js';
import type { WriteResult } from '../writeQueue.js';
import { PendingRows, savedRowToRow, type SavedRow } from './pendingRows.js';
import { payloadDigest, RecentDeliveries } from './recentDeliveries.js';
import { StateFiles, type Durability, type SavedState } from './stateFiles.js';

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
   * `(messages) => messages.pipe(decodeIotPayload({ onReject }), parseAccessLog({ … }))`.
   * Every event must come out while its message goes in (decoding and parsing are
   * synchronous): the message is acknowledged right after. An event emitted later
   * errors the stream.
   */
  prepare: (messages: Observable<MqttMessage>) => Observable<E>;
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
}

/** Live counters of a {@link durableWindowedCount} subscription. */
export interface DurableWindowStats extends WindowStats {
  /** Messages taken from the source (duplicates included). */
  readonly messages: number;
  /** Redelivered messages recognised and not counted again. */
  readonly duplicates: number;
  /** Journal records replayed at start (after the checkpoint). */
  readonly replayedRecords: number;
  /** Rows counted and not yet acknowledged by the writer. */
  readonly pendingRows: number;
  /** Rows being written now. */
  readonly rowsInFlight: number;
  /** Rows the writer acknowledged. */
  readonly rowsWritten: number;
  /** Whether intake is stopped because too many rows wait for the writer. */
  readonly paused: boolean;
  /** How many times intake stopped for that reason. */
  readonly pauses: number;
  /** Checkpoints written. */
  readonly checkpoints: number;
}

/** One journal line. `m`/`h`: packet identifier and payload digest of a QoS ≥ 1 message. */
interface JournalRecord {
  readonly q: number;
  readonly m?: number;
  readonly h?: number;
  /** Arrival (wall clock, ms), event time (ms, `null` when unreadable) and key of a counted event. */
  readonly n?: number;
  readonly t?: number | null;
  readonly k?: string | number;
  /** A watermark advance without an event (idle advance). */
  readonly a?: number;
}

/** The checkpoint file. */
interface Checkpoint<K> {
  readonly format: 1;
  readonly sequence: number;
  readonly counter: WindowedCountSnapshot<K>;
  readonly pendingRows: SavedRow<K>[];
  /** The digest last counted under each packet identifier (see RecentDeliveries). */
  readonly deliveries: string;
  readonly savedAt: string;
}

/** What the counter counts: the event's time and key, and the event itself while live. */
interface Counted<E, K> {
  readonly time: number;
  readonly key: K;
  readonly source: E | undefined;
}

const CHECKPOINT_INTERVAL_MS = 5_000;

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
 *     prepare: (messages) => messages.pipe(
 *       decodeIotPayload(),
 *       parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs })),
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
  if (typeof options.stateDirectory !== 'string' || options.stateDirectory === '') {
    throw new TypeError('durableWindowedCount: stateDirectory must be a directory path');
  }
  const durability = options.durability ?? 'process';
  if (durability !== 'process' && durability !== 'power') {
    throw new RangeError(
      `durableWindowedCount: durability must be 'process' or 'power', got ${JSON.stringify(durability)}`,
    );
  }
  if (typeof options.prepare !== 'function')
    throw new TypeError('durableWindowedCount: prepare must be a function (messages) => events');
  if (typeof options.write !== 'function')
    throw new TypeError('durableWindowedCount: write must be a function (rows) => results');
  const maxRowsInFlight = positiveInteger('maxRowsInFlight', options.maxRowsInFlight, 32);
  const maxPendingRows = positiveInteger('maxPendingRows', options.maxPendingRows, 10_000);
  const checkpointEvery = positiveInteger('checkpointEvery', options.checkpointEvery, 10_000);
  const stopTimeoutMs = durationMillis(options.stopTimeout ?? '10 s', 'durableWindowedCount', 'stopTimeout');
  const idleAfterMs = settings.idleAdvance?.after;
  const eventTimeOf = options.eventTime;
  const keyOf = options.key;

  return (source) =>
    new Observable<R>((destination) => {
      let files: StateFiles<Checkpoint<K>, JournalRecord>;
      let saved: SavedState<Checkpoint<K>, JournalRecord>;
      try {
        ({ files, saved } = StateFiles.open<Checkpoint<K>, JournalRecord>(options.stateDirectory, durability));
      } catch (error) {
        destination.error(error);
        return;
      }

      // While replaying the journal, the counter's clock reads each record's arrival
      // time, and rejections are not reported again (they were, before the restart).
      let replaying = true;
      let arrival = 0;
      let current: E | undefined;
      const report = (rejection: Rejection<Counted<E, K>>) => {
        if (replaying) return;
        const rejected = { ...rejection, operator: 'durableWindowedCount', input: current as E };
        if (options.strict) throw new RejectionError(rejected);
        reject(options, rejected);
      };
      const counter = new WindowedCountState<Counted<E, K>, K>(
        // The options were checked once, above: not again per subscription.
        deriveWindowSettings(settings, {
          eventTime: (event) => event.time,
          key: (event) => event.key,
          now: () => arrival,
          onReject: report,
          strict: false,
        }),
        (row) => pending.add(row),
      );

      const rowsToWrite = new Subject<WindowRow<K>>();
      const pending = new PendingRows<K>(maxRowsInFlight, (row) => rowsToWrite.next(row));
      let deliveries: RecentDeliveries;
      let sequence = saved.checkpoint?.sequence ?? 0;
      let journalLength = saved.records.length;
      let lastCheckpointAt = Date.now();
      let dirty = false;

      const stats = {
        messages: 0,
        duplicates: 0,
        replayedRecords: saved.records.length,
        rowsWritten: 0,
        pauses: 0,
        checkpoints: 0,
        paused: false,
      };
      const liveStats: DurableWindowStats = Object.defineProperties(stats, {
        ...Object.fromEntries(
          ([...STAT_NAMES, 'openWindows', 'stateSize', 'watermark', 'maxEventTime'] as const).map((name) => [
            name,
            { get: () => counter[name], enumerable: true },
          ]),
        ),
        pendingRows: { get: () => pending.size, enumerable: true },
        rowsInFlight: { get: () => pending.inFlight, enumerable: true },
      }) as unknown as DurableWindowStats;

      // Restore: the checkpoint, then every journal record after it, in order.
      try {
        deliveries = new RecentDeliveries(saved.checkpoint?.deliveries);
        if (saved.checkpoint !== undefined) {
          counter.restore(saved.checkpoint.counter);
          for (const row of saved.checkpoint.pendingRows) pending.add(savedRowToRow(row));
        }
        for (const record of saved.records) {
          sequence = record.q;
          if (record.m !== undefined && record.h !== undefined) deliveries.remember(record.m, record.h);
          if (record.a !== undefined) counter.advanceWatermark(record.a);
          if (record.k !== undefined) {
            arrival = record.n ?? 0;
            counter.push({ time: record.t ?? Number.NaN, key: record.k as K, source: undefined });
          }
        }
      } catch (error) {
        files.close();
        destination.error(
          new Error(
            `durableWindowedCount: cannot restore the state in ${options.stateDirectory}: ${(error as Error).message}. ` +
              'Start with the options it was saved with, or give another state directory (its open windows are then not continued)',
            { cause: error },
          ),
        );
        return;
      }
      replaying = false;

      let closed = false;
      let stopping = false;
      // Set when a message's effect reached the counter but not the journal (a strict
      // rejection or a throwing accessor): the in-memory state must then not be saved.
      let unjournaled = false;
      let intake: Subscription | undefined;
      let stopTimer: ReturnType<typeof setTimeout> | undefined;
      let idleTimer: ReturnType<typeof setTimeout> | undefined;
      let lastArrivalMs = Date.now();
      let writes: Subscription | undefined;
      let stopSubscription: Subscription | undefined;
      // Acknowledgements held back until the journal lines of their batch are written:
      // one write(2) (and, for 'power', one fsync) per batch of messages, not per message.
      let heldAcknowledgements: (() => void)[] = [];
      let batchFlush: ReturnType<typeof setImmediate> | undefined;

      const flushBatch = () => {
        clearImmediate(batchFlush);
        batchFlush = undefined;
        files.flush();
        const held = heldAcknowledgements;
        heldAcknowledgements = [];
        for (const release of held) release();
      };

      const checkpoint = () => {
        if (unjournaled) return;
        files.checkpoint({
          format: 1,
          sequence,
          counter: counter.snapshot(),
          pendingRows: pending.saved(),
          deliveries: deliveries.save(),
          savedAt: new Date().toISOString(),
        });
        journalLength = 0;
        lastCheckpointAt = Date.now();
        dirty = false;
        stats.checkpoints++;
      };

      const maybeCheckpoint = () => {
        if (journalLength >= checkpointEvery || (dirty && Date.now() - lastCheckpointAt >= CHECKPOINT_INTERVAL_MS))
          checkpoint();
      };

      const finish = (error?: unknown) => {
        if (closed) return;
        closed = true;
        intake?.unsubscribe();
        clearTimeout(stopTimer);
        clearTimeout(idleTimer);
        stopSubscription?.unsubscribe();
        let failure = error;
        try {
          flushBatch();
          pending.abandonWrites();
          checkpoint();
        } catch (saveError) {
          failure ??= saveError;
        }
        files.close();
        writes?.unsubscribe();
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

      const journal = (record: Omit<JournalRecord, 'q'>) => {
        files.append({ q: ++sequence, ...record });
        journalLength++;
        dirty = true;
      };

      const prepared = new Subject<MqttMessage>();
      const events: E[] = [];
      let preparing = false;
      const preparation = options.prepare(prepared).subscribe({
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
        if (closed || stopping) return; // unacknowledged: the broker sends it again
        stats.messages++;
        const messageId = message.qos > 0 ? message.messageId : undefined;
        const digest = messageId === undefined ? undefined : payloadDigest(message.payload);
        if (messageId !== undefined && digest !== undefined && message.dup && deliveries.counted(messageId, digest)) {
          stats.duplicates++;
          message.ack();
          return;
        }
        events.length = 0;
        preparing = true;
        try {
          prepared.next(message);
        } finally {
          preparing = false;
        }
        if (closed) return;
        try {
          if (events.length === 0) {
            if (messageId !== undefined) journal({ m: messageId, h: digest });
          }
          for (const event of events) {
            const raw = eventTimeOf(event);
            const time = typeof raw === 'number' ? raw : raw instanceof Date ? raw.getTime() : Number.NaN;
            const key = keyOf(event);
            if (typeof key !== 'string' && typeof key !== 'number') {
              throw new TypeError(
                `durableWindowedCount: key must return a string or a number to be saved, got ${typeof key}`,
              );
            }
            arrival = Date.now();
            current = event;
            unjournaled = true;
            counter.push({ time, key, source: event });
            journal({ m: messageId, h: digest, n: arrival, t: Number.isFinite(time) ? time : null, k: key });
            unjournaled = false;
          }
        } catch (error) {
          finish(error);
          return;
        } finally {
          current = undefined;
        }
        if (messageId !== undefined && digest !== undefined) deliveries.remember(messageId, digest);
        if (files.unflushed) {
          if (typeof message.holdAcknowledgements === 'function') {
            // MQTT.js hands over the next message as soon as this one is acknowledged;
            // its PUBACK waits in the corked connection until flushBatch has written the batch.
            heldAcknowledgements.push(message.holdAcknowledgements());
            batchFlush ??= setImmediate(() => saving(flushBatch));
          } else {
            files.flush();
          }
        }
        message.ack();
        lastArrivalMs = Date.now();
        pending.pump();
        if (pending.size >= maxPendingRows) pauseIntake();
        if (saving(maybeCheckpoint)) armIdleTimer();
      };

      const startIntake = () => {
        if (closed || stopping || intake !== undefined) return;
        if (stats.paused) options.onBackpressure?.({ paused: false, pendingRows: pending.size });
        stats.paused = false;
        intake = source.subscribe({
          next: onMessage,
          error: (error: unknown) => finish(error),
          complete: () => beginStop(),
        });
      };

      const pauseIntake = () => {
        if (intake === undefined) return;
        stats.paused = true;
        stats.pauses++;
        options.onBackpressure?.({ paused: true, pendingRows: pending.size });
        const stopped = intake;
        intake = undefined;
        // After the current message returns, and after the batch's acknowledgements
        // are released: unsubscribing first would close the connection under them.
        queueMicrotask(() => {
          if (saving(flushBatch)) stopped.unsubscribe();
        });
      };

      // Idle advance, as in windowedCount, but recorded: a restart must close the same windows.
      const armIdleTimer = () => {
        if (idleAfterMs === undefined || closed || stopping) return;
        clearTimeout(idleTimer);
        const earliestEnd = counter.earliestOpenWindowEnd;
        const maxEventTime = counter.maxEventTime;
        if (earliestEnd === undefined || maxEventTime === undefined) return;
        const finalAt = lastArrivalMs + (earliestEnd + settings.watermarkDelay - maxEventTime);
        const dueAt = Math.max(lastArrivalMs + idleAfterMs, finalAt);
        idleTimer = setTimeout(
          () => {
            const largest = counter.maxEventTime;
            const silentFor = Date.now() - lastArrivalMs;
            if (closed || stopping || largest === undefined || silentFor < idleAfterMs) return;
            const to = largest + silentFor - settings.watermarkDelay;
            if (to > (counter.watermark ?? Number.NEGATIVE_INFINITY)) {
              const advanced = saving(() => {
                journal({ a: to });
                files.flush();
                counter.advanceWatermark(to);
              });
              if (!advanced) return;
              pending.pump();
              if (!saving(maybeCheckpoint)) return;
            }
            armIdleTimer();
          },
          Math.max(0, dueAt - Date.now()),
        );
      };

      // Graceful stop: no more messages; the open windows' counts so far are written
      // too (they keep counting after the next start, and a larger count replaces them).
      const beginStop = () => {
        if (closed || stopping) return;
        stopping = true;
        clearTimeout(idleTimer);
        const saved = saving(() => {
          flushBatch();
          intake?.unsubscribe();
          intake = undefined;
          checkpoint();
        });
        if (!saved) return;
        for (const { windowStart, counts } of counter.snapshot().windows) {
          const windowEnd = new Date(windowStart + settings.windowDuration);
          for (const [key, count] of counts) pending.add({ windowStart: new Date(windowStart), windowEnd, key, count });
        }
        pending.pump();
        if (pending.size === 0) {
          finish();
          return;
        }
        stopTimer = setTimeout(() => finish(), stopTimeoutMs);
      };

      // A row settled (acknowledged, or refused for good) frees its write slot.
      const afterSettled = () => {
        if (closed) return;
        pending.pump();
        if (stopping) {
          if (pending.size === 0) finish();
          return;
        }
        if (stats.paused && pending.size <= maxPendingRows / 2) startIntake();
        saving(maybeCheckpoint);
      };
      const hooks: DurableWriterHooks<K> = {
        onReject: (rejection) => {
          if (closed) return;
          // Reported first: a strict report throws into the writer, which ends with
          // that error, and the row stays saved.
          reject(options, rejection);
          pending.settled(rejection.input);
          dirty = true;
          afterSettled();
        },
      };
      writes = options.write(rowsToWrite, hooks).subscribe({
        next: (result) => {
          if (closed) return;
          stats.rowsWritten++;
          pending.settled(result.value);
          dirty = true;
          destination.next(result);
          afterSettled();
        },
        error: (error: unknown) => finish(error),
        complete: () => finish(),
      });

      stopSubscription = options.stop?.subscribe(() => beginStop());
      options.onSubscribe?.(liveStats);
      if (closed) return;
      // The replay may have made rows (and a long journal): save, then write them.
      if (!saving(checkpoint)) return;
      pending.pump();
      if (pending.size >= maxPendingRows) {
        stats.paused = true;
        stats.pauses++;
        options.onBackpressure?.({ paused: true, pendingRows: pending.size });
      } else {
        startIntake();
      }
      armIdleTimer();

      return () => {
        preparation.unsubscribe();
        finish();
      };
    });
}

function positiveInteger(option: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < 1)
    throw new RangeError(`durableWindowedCount: ${option} must be an integer ≥ 1, got ${String(value)}`);
  return resolved;
}
