/**
 * The plain core of {@link durableWindowedCount} and {@link durableWindowedAggregate}:
 * windows whose every change is journaled in a state directory before it is
 * acknowledged, with checkpoints, replay and redelivery recognition. Synchronous, no RxJS.
 * @module
 */
import { reject, type Rejection, type RejectionKind, type RejectOptions } from '../reject.js';
import { deriveWindowSettings, type WindowSettings } from '../window/options.js';
import type { DurableWindowSettings } from './durableOptions.js';
import { STAT_NAMES } from '../window/snapshot.js';
import { eventTimeMillis } from '../window/EventTimeWindows.js';
import type { WindowStats } from '../window/WindowedCountState.js';
import type { WindowRow } from '../window/windowRow.js';
import { Histogram, SECONDS_BOUNDS, SIZE_BOUNDS } from '../observe/Histogram.js';
import {
  counterStatistic,
  gaugeStatistic,
  type Readiness,
  type Statistic,
  type StatisticsSource,
} from '../observe/statistic.js';
import { windowGauges } from '../window/windowStatistics.js';
import { PendingRows, savedRowToRow, type LateRow, type SavedRow } from './pendingRows.js';
import type { Base64Bytes } from './jsonWithBytes.js';
import { RecentDeliveries } from './recentDeliveries.js';
import { PublisherSequences, type PublisherSequence, type SavedSequences } from './publisherSequences.js';
import { StateDirectoryError } from './stateDirectoryError.js';
import { StateFiles, type Durability } from './stateFiles.js';
import type { DurableWindows, DurableWindowsKind, JournaledEvent } from './durableWindowsKind.js';
import { writeJournalRecord, type JournalRecord } from './journalRecord.js';

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
  /** Late-count rows not yet acknowledged by the late writer (0 when late counts are not kept). */
  readonly pendingLateRows: number;
  /** Late-count rows the late writer acknowledged. */
  readonly lateRowsWritten: number;
  /** Whether intake is stopped because too many rows wait for the writer. */
  readonly paused: boolean;
  /** How many times intake stopped for that reason. */
  readonly pauses: number;
  /** Checkpoints written. */
  readonly checkpoints: number;
  /** Journal records written since the last checkpoint. */
  readonly journalRecords: number;
}

/**
 * Where a {@link DurableWindowsState} is in its life: reading its saved state,
 * taking messages, not taking them while rows wait for the writer, writing its open
 * windows before it ends, ended.
 */
export type DurablePhase = 'restoring' | 'running' | 'paused' | 'stopping' | 'closed';

/** What {@link DurableWindowsState} needs, all checked already by the operator. @internal */
export interface DurableWindowsStateOptions<E, K, W extends WindowRow<K>> extends RejectOptions<E | W> {
  /** What the windows hold: counts or aggregates. */
  readonly kind: DurableWindowsKind<E, K, W>;
  readonly stateDirectory: string;
  readonly durability: Durability;
  /** The window settings, checked: fixed windows or sessions. */
  readonly settings: DurableWindowSettings<E, K>;
  readonly maxRowsInFlight: number;
  readonly checkpointEvery: number;
  /** The clock: arrival times (journaled, so a replay sees the same), checkpoint timing. */
  readonly now: () => number;
  /** Hands a row to the writer. */
  readonly sendRow: (row: W) => void;
  /**
   * Hands a late-count row to the late writer; without it, late events are reported
   * and counted in the statistics but their counts are not kept.
   */
  readonly sendLateRow?: (row: LateRow<K>) => void;
  /** (window, key) late counts held in memory at most; past it the oldest starts a new part. */
  readonly maxLateCounts?: number;
}

/** The checkpoint file. */
interface Checkpoint<K> {
  readonly format: 1;
  /** The operator that saved it (absent in checkpoints of versions that had only durableWindowedCount). */
  readonly operator?: string;
  readonly sequence: number;
  /** The windows' snapshot (a count or an aggregate one, by kind). */
  readonly counter: unknown;
  readonly pendingRows: SavedRow<K>[];
  /** Late counts held: window start, window end, key, part, count (oldest first). */
  readonly lateCounts?: [windowStart: number, windowEnd: number, key: K, part: number, count: number][];
  /** Late-count rows not yet acknowledged. */
  readonly pendingLateRows?: SavedRow<K>[];
  /** The digest last counted under each packet identifier (see RecentDeliveries): base64, as read back. */
  readonly deliveries: string | Base64Bytes;
  /** The sequence numbers counted per publisher (see PublisherSequences); absent when none. */
  readonly publishers?: SavedSequences;
  readonly savedAt: string;
}

/** Late counts held by default: far more (window, status) pairs than a burst of late data makes. */
const MAX_LATE_COUNTS = 10_000;

/** One (window, key)'s late count in the part now being counted. */
interface LateCount<K> {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly key: K;
  readonly part: number;
  count: number;
}

/** A checkpoint at most this long after a change, however few records (bounds the replay after a quiet crash). */
const CHECKPOINT_INTERVAL_MS = 5_000;

/**
 * Window counts in a state directory: each counted event is a journal line written
 * before its message's acknowledgement leaves, the whole state a checkpoint every
 * `checkpointEvery` lines (or 5 s after a change), and {@link DurableWindowsState.open}
 * reads the checkpoint and replays the journal after it. Rows go to `sendRow` and stay
 * saved until {@link DurableWindowsState.rowSettled}; at most `maxRowsInFlight`
 * are out at once, and a newer count of a waiting (window, key) replaces the older.
 *
 * A step that cannot save throws a {@link StateDirectoryError}. What it could not write
 * is kept and written first by the next save, so the state in memory is always what the
 * files hold plus that batch, none of whose messages may be acknowledged before it is
 * written. For a failure that may pass (a full disk, a read-only file system, an I/O
 * error) the caller pauses intake, tells {@link DurableWindowsState.savingFailed},
 * and resumes once {@link DurableWindowsState.retrySaving} succeeds; for another,
 * it ends the stream.
 * @internal
 */
export class DurableWindowsState<
  E,
  K extends string | number,
  W extends WindowRow<K> = WindowRow<K>,
> implements StatisticsSource {
  readonly stage = 'durable';
  private phaseNow: DurablePhase = 'restoring';
  private readonly kind: DurableWindowsKind<E, K, W>;
  private readonly counter: DurableWindows<K, W>;
  private readonly pending: PendingRows<K, W>;
  /** Late-count rows not yet acknowledged; undefined when late counts are not kept. */
  private readonly pendingLate: PendingRows<K, LateRow<K>> | undefined;
  /** (window, key) → its late count in the current part, oldest first. */
  private readonly lateCounts = new Map<string, LateCount<K>>();
  /** The journal sequence number of the event being counted: a new late part is named after it. */
  private countingSequence = 0;
  private readonly deliveries: RecentDeliveries;
  private readonly sequences: PublisherSequences;
  private sequence: number;
  private journalLength: number;
  private lastCheckpointAt: number;
  /** Whether something changed since the last checkpoint. */
  private dirty = false;
  /** Set while an event's effect reached the counter but not the journal (a throwing accessor, a strict rejection). */
  private unjournaled = false;
  /** The event being counted, handed to a rejection. */
  private current: E | undefined;
  /** The arrival time the counter's clock reads (the journaled one, while replaying). */
  private arrival = 0;
  private readonly rejections: Map<RejectionKind, number>;
  private readonly eventDelay = new Histogram(SECONDS_BOUNDS);
  private readonly checkpointDuration = new Histogram(SECONDS_BOUNDS);
  private readonly acknowledgementBatch = new Histogram(SIZE_BOUNDS);
  private readonly counts = {
    messages: 0,
    duplicates: 0,
    rowsWritten: 0,
    lateRowsWritten: 0,
    pauses: 0,
    checkpoints: 0,
  };
  /** The state directory failure intake waits on, until {@link DurableWindowsState.retrySaving} succeeds. */
  private failure: StateDirectoryError | undefined;
  /** How many times the state directory failed (each failure until a retry succeeded counts once). */
  private stateDirectoryFailures = 0;
  readonly replayedRecords: number;
  /** Events counted by earlier runs (restored and replayed): the `_total` statistics count this process's. */
  private readonly eventsCountedBefore: number;
  /** The live counters, as {@link DurableWindowsOptions.onSubscribe} hands them. */
  readonly stats: DurableWindowStats;

  private constructor(
    private readonly options: DurableWindowsStateOptions<E, K, W>,
    private readonly files: StateFiles<Checkpoint<K>>,
    saved: { readonly checkpoint: Checkpoint<K> | undefined; readonly records: readonly JournalRecord[] },
  ) {
    const kind = options.kind;
    this.kind = kind;
    this.rejections = new Map(kind.rejectionKinds.map((rejectionKind) => [rejectionKind, 0]));
    this.counter = kind.makeWindows(
      // The options were checked once, by the operator: not again per subscription.
      deriveWindowSettings<DurableWindowSettings<E, K>, JournaledEvent<K>, K>(options.settings, {
        eventTime: (event) => event.time,
        key: (event) => event.key,
        now: () => this.arrival,
        onReject: (rejection) => this.reportCounterRejection(rejection),
        strict: false,
        ...(options.sendLateRow === undefined ? {} : { onLate: (start: number, key: K) => this.countLate(start, key) }),
        // Update mode writes rows as counts change, all partial: the window's closing
        // row, final, comes from here (append mode's rows are final already).
        ...(options.settings.outputMode === 'update'
          ? {
              onWindowClosed: (rows: readonly WindowRow<K>[]) => {
                for (const row of rows) this.pending.add(row as W);
              },
            }
          : {}),
      }) as DurableWindowSettings<JournaledEvent<K>, K>,
      (row) => this.pending.add(row),
    );
    this.pending = new PendingRows<K, W>(options.maxRowsInFlight, options.sendRow);
    this.pendingLate =
      options.sendLateRow === undefined
        ? undefined
        : new PendingRows<K, LateRow<K>>(options.maxRowsInFlight, options.sendLateRow);
    this.deliveries = new RecentDeliveries(saved.checkpoint?.deliveries);
    this.sequences = new PublisherSequences(saved.checkpoint?.publishers);
    this.sequence = saved.checkpoint?.sequence ?? 0;
    this.journalLength = saved.records.length;
    this.replayedRecords = saved.records.length;
    this.lastCheckpointAt = options.now();
    this.stats = this.liveStats();
    this.replay(saved);
    this.eventsCountedBefore = this.counter.eventsCounted;
  }

  /**
   * Takes the state directory and continues where it was: the checkpoint, then every
   * journal record after it. Throws an Error naming the directory and what to do.
   */
  static open<E, K extends string | number, W extends WindowRow<K>>(
    options: DurableWindowsStateOptions<E, K, W>,
  ): DurableWindowsState<E, K, W> {
    const { files, saved } = StateFiles.open<Checkpoint<K>, JournalRecord>(options.stateDirectory, options.durability);
    try {
      return new DurableWindowsState(options, files, saved);
    } catch (error) {
      files.close();
      throw new Error(
        `${options.kind.operator}: cannot restore the state in ${options.stateDirectory}: ${(error as Error).message}. ` +
          'Start with the options it was saved with, or give another state directory (its open windows are then not continued)',
        { cause: error },
      );
    }
  }

  get phase(): DurablePhase {
    return this.phaseNow;
  }

  /** Moves to another phase; `'closed'` only through {@link DurableWindowsState.close}. */
  enter(phase: Exclude<DurablePhase, 'restoring' | 'closed'>): void {
    if (this.phaseNow === 'closed') return;
    if (phase === 'paused' && this.phaseNow !== 'paused') this.counts.pauses++;
    this.phaseNow = phase;
  }

  /** Whether messages are taken now. */
  get taking(): boolean {
    return this.phaseNow === 'running';
  }

  /**
   * A message arrived: counts it, and says whether it must be handled (`false`: a
   * redelivery of one already counted, to acknowledge and skip). The `dup` flag is not
   * asked for: a broker restored from its last save (Mosquitto killed, autosave) sends
   * the messages that were queued then again as first deliveries, same packet
   * identifier, no `dup`, although we counted and acknowledged them since. A message from
   * an outbox sent again after its publisher restarted is a new PUBLISH: its `origin`
   * (publisher id and sequence number) tells.
   */
  accept(messageId: number | undefined, digest: number | undefined, origin?: PublisherSequence): boolean {
    this.counts.messages++;
    if (
      (messageId !== undefined && digest !== undefined && this.deliveries.counted(messageId, digest)) ||
      (origin !== undefined && this.sequences.counted(origin))
    ) {
      this.counts.duplicates++;
      return false;
    }
    return true;
  }

  /**
   * Counts a message's events and journals them (or, with none, the message itself, so
   * its redelivery is recognised). Throws on a throwing accessor or a strict rejection:
   * the stream must then end without saving this state. With `remember` false (a
   * rejected message going to a dead letter), its redelivery is not recognised: it is
   * rejected, and dead-lettered, again.
   */
  record(
    messageId: number | undefined,
    digest: number | undefined,
    events: readonly E[],
    remember = true,
    origin?: PublisherSequence,
  ): void {
    const { eventTime, key: keyOf } = this.options.settings;
    const { extrasOf } = this.kind;
    if (!remember) {
      messageId = undefined;
      origin = undefined;
    }
    const p = origin?.publisher;
    const s = origin?.seq;
    if (events.length === 0 && (messageId !== undefined || origin !== undefined))
      this.journal({
        m: messageId,
        h: digest,
        n: undefined,
        t: undefined,
        k: undefined,
        v: undefined,
        d: undefined,
        p,
        s,
      });
    const batchLength = this.files.batchLength;
    const { sequence, journalLength } = this;
    let journaled = 0;
    try {
      for (const event of events) {
        const time = eventTimeMillis(eventTime(event));
        const key = keyOf(event);
        if (typeof key !== 'string' && typeof key !== 'number') {
          throw new TypeError(
            `${this.kind.operator}: key must return a string or a number to be saved, got ${typeof key}`,
          );
        }
        const extras = extrasOf?.(event);
        const arrival = this.options.now();
        this.arrival = arrival;
        this.current = event;
        this.unjournaled = true;
        this.countingSequence = this.sequence + 1;
        const valid = Number.isFinite(time);
        const t = valid ? time : null;
        if (extras === undefined) {
          this.counter.push({ time, key });
          this.journal({ m: messageId, h: digest, n: arrival, t, k: key, v: undefined, d: undefined, p, s });
        } else {
          const { value, distinct } = extras;
          this.counter.push({ time, key, value, distinct });
          const v = typeof value === 'number' && Number.isFinite(value) ? value : null;
          const d =
            distinct === undefined
              ? undefined
              : typeof distinct === 'string' || typeof distinct === 'number'
                ? distinct
                : null;
          this.journal({ m: messageId, h: digest, n: arrival, t, k: key, v, d, p, s });
        }
        this.unjournaled = false;
        journaled++;
        if (valid) this.eventDelay.observe(Math.max(0, arrival - time) / 1000);
      }
    } catch (error) {
      // The message is not acknowledged, so its redelivery must count it whole: none of
      // it may be saved, neither its earlier events' lines (the batch is written when the
      // stream ends, for the messages acknowledged before it) nor a state that counted them.
      this.files.dropAppendedAfter(batchLength);
      this.sequence = sequence;
      this.journalLength = journalLength;
      if (journaled > 0) this.unjournaled = true;
      throw error;
    } finally {
      this.current = undefined;
    }
    if (messageId !== undefined && digest !== undefined) this.deliveries.remember(messageId, digest);
    if (origin !== undefined) this.sequences.remember(origin);
  }

  /** Counts a rejection made before counting (decoding, parsing): see {@link DurableWriterHooks}. */
  countRejection(kind: RejectionKind): void {
    this.rejections.set(kind, (this.rejections.get(kind) ?? 0) + 1);
  }

  /** Whether journal lines wait for {@link DurableWindowsState.flush}. */
  get unflushed(): boolean {
    return this.files.unflushed;
  }

  /** Writes the journal lines of a batch of `messages` messages, with one `write(2)`. */
  flush(messages: number): void {
    if (!this.files.unflushed) return;
    this.files.flush();
    this.acknowledgementBatch.observe(messages);
  }

  /** Moves the watermark without an event (idle advance), journaled first. Returns whether it moved. */
  advanceWatermark(to: number): boolean {
    if (!(to > (this.counter.watermark ?? Number.NEGATIVE_INFINITY))) return false;
    const { sequence, journalLength } = this;
    const batchLength = this.files.batchLength;
    this.journal({ a: to });
    try {
      this.files.flush();
    } catch (error) {
      // Not saved, so it does not happen: the next advance tries again.
      this.files.dropAppendedAfter(batchLength);
      this.sequence = sequence;
      this.journalLength = journalLength;
      throw error;
    }
    this.counter.advanceWatermark(to);
    return true;
  }

  /** What idle advance reads. */
  get windows(): { readonly earliestOpenWindowEnd: number | undefined; readonly maxEventTime: number | undefined } {
    return this.counter;
  }

  /** Saves the whole state and empties the journal (not when an event is half-recorded). */
  checkpoint(): void {
    if (this.unjournaled) return;
    const started = performance.now();
    this.files.checkpoint({
      format: 1,
      operator: this.kind.operator,
      sequence: this.sequence,
      counter: this.counter.snapshot(),
      pendingRows: this.pending.saved((row) => this.kind.saveRow(row)),
      ...(this.pendingLate === undefined
        ? {}
        : {
            lateCounts: [...this.lateCounts.values()].map(
              ({ windowStart, windowEnd, key, part, count }) =>
                [windowStart, windowEnd, key, part, count] as [number, number, K, number, number],
            ),
            pendingLateRows: this.pendingLate.saved(),
          }),
      deliveries: this.deliveries.save(),
      ...(this.sequences.size === 0 ? {} : { publishers: this.sequences.save() }),
      savedAt: new Date().toISOString(),
    });
    this.checkpointDuration.observe((performance.now() - started) / 1000);
    this.journalLength = 0;
    this.lastCheckpointAt = this.options.now();
    this.dirty = false;
    this.counts.checkpoints++;
  }

  /** A checkpoint when the journal is `checkpointEvery` long, or 5 s after a change (not while the directory fails). */
  checkpointIfDue(): void {
    if (this.failure !== undefined) return;
    if (
      this.journalLength >= this.options.checkpointEvery ||
      (this.dirty && this.options.now() - this.lastCheckpointAt >= CHECKPOINT_INTERVAL_MS)
    )
      this.checkpoint();
  }

  /**
   * The state directory could not be written (`failure` transient): intake must stay
   * paused until {@link DurableWindowsState.retrySaving} succeeds. Readiness and
   * the statistics say so.
   */
  savingFailed(failure: StateDirectoryError): void {
    if (this.failure === undefined) this.stateDirectoryFailures++;
    this.failure = failure;
  }

  /** The state directory failure intake waits on, if any. */
  get stateDirectoryFailure(): StateDirectoryError | undefined {
    return this.failure;
  }

  /**
   * Tries the state directory again after {@link DurableWindowsState.savingFailed}:
   * a one-page write, the journal lines kept since the failure, a checkpoint. Returns
   * whether all went through (intake may resume, and the batch's acknowledgements
   * leave); throws a failure that will not pass by itself (the directory removed).
   */
  retrySaving(): boolean {
    if (this.failure === undefined) return true;
    try {
      this.files.probe();
      this.files.flush();
      this.checkpoint();
    } catch (error) {
      if (!(error instanceof StateDirectoryError && error.transient)) throw error;
      this.failure = error;
      return false;
    }
    this.failure = undefined;
    return true;
  }

  /** The open windows' counts so far, as rows to write (a graceful stop: they keep counting after the next start). */
  writeOpenWindows(): void {
    for (const row of this.counter.openRows()) this.pending.add(row);
  }

  /** Sends waiting rows (and late-count rows) while write slots are free. */
  pump(): void {
    this.pending.pump();
    this.pendingLate?.pump();
  }

  /** Rows and late-count rows not yet acknowledged: what intake pauses on. */
  get backlog(): number {
    return this.pending.size + (this.pendingLate?.size ?? 0);
  }

  /** The late writer acknowledged `row` (`written`), or refused it for good. */
  lateRowSettled(row: LateRow<K>, written: boolean): void {
    if (written) this.counts.lateRowsWritten++;
    this.pendingLate?.settled(row);
    this.dirty = true;
  }

  /** Rows counted and not yet acknowledged by the writer. */
  get pendingRows(): number {
    return this.pending.size;
  }

  /**
   * The writer acknowledged `row` (`written`), or refused it for good: it leaves the
   * saved state unless a newer count came meanwhile.
   */
  rowSettled(row: W, written: boolean): void {
    if (written) this.counts.rowsWritten++;
    this.pending.settled(row);
    this.dirty = true;
  }

  /**
   * Ends for good: writes still out are abandoned (their rows stay saved), the state is
   * saved (unless an event is half-recorded) and the directory released. A failure to
   * save is thrown after the directory is released.
   */
  close(): void {
    if (this.phaseNow === 'closed') return;
    this.phaseNow = 'closed';
    try {
      this.files.flush();
      this.pending.abandonWrites();
      this.pendingLate?.abandonWrites();
      this.checkpoint();
    } finally {
      this.files.close();
    }
  }

  /** See {@link StatisticsSource}. */
  statistics(): Statistic[] {
    const stats = this.stats;
    return [
      counterStatistic('messages_total', 'MQTT messages taken from the broker, redeliveries included', stats.messages),
      counterStatistic(
        'duplicate_messages_total',
        'Redelivered messages recognised as already counted and not counted again',
        stats.duplicates,
      ),
      counterStatistic(
        'events_counted_total',
        'Events counted in at least one window',
        stats.eventsCounted - this.eventsCountedBefore,
      ),
      ...[...this.rejections].map(([kind, count]) =>
        counterStatistic(
          'rejections_total',
          'Inputs refused, by kind (payload, line, timestamp, future, late, message, row)',
          count,
          { kind },
        ),
      ),
      counterStatistic(
        'late_events_total',
        'Events late for at least one of their windows (not counted there)',
        this.rejections.get('late') ?? 0,
      ),
      ...windowGauges(stats),
      gaugeStatistic('pending_rows', 'Rows counted and not yet acknowledged by the writer', stats.pendingRows),
      gaugeStatistic('rows_in_flight', 'Rows being written now', stats.rowsInFlight),
      counterStatistic('rows_written_total', 'Rows the writer acknowledged', stats.rowsWritten),
      gaugeStatistic(
        'late_rows_pending',
        'Late-count rows not yet acknowledged by the late writer',
        stats.pendingLateRows,
      ),
      counterStatistic(
        'late_rows_written_total',
        'Late-count rows the late writer acknowledged',
        stats.lateRowsWritten,
      ),
      gaugeStatistic(
        'intake_paused',
        '1 while intake is stopped because rows wait for the writer or the state directory cannot be written',
        stats.paused ? 1 : 0,
      ),
      counterStatistic(
        'intake_pauses_total',
        'Times intake stopped because rows waited for the writer or the state directory could not be written',
        stats.pauses,
      ),
      gaugeStatistic(
        'state_directory_failing',
        '1 while the state directory cannot be written (full, read-only, I/O errors): intake is paused meanwhile',
        this.failure === undefined ? 0 : 1,
      ),
      counterStatistic(
        'state_directory_failures_total',
        'Times the state directory could not be written and intake paused until it could',
        this.stateDirectoryFailures,
      ),
      gaugeStatistic('journal_records', 'Journal records written since the last checkpoint', stats.journalRecords),
      counterStatistic('checkpoints_total', 'Checkpoints written', stats.checkpoints),
      gaugeStatistic('replayed_records', 'Journal records replayed at start', stats.replayedRecords),
      {
        name: 'event_delay_seconds',
        help: 'From an event time to the arrival of its message (by this machine clock)',
        type: 'histogram',
        value: this.eventDelay.value(),
      },
      {
        name: 'checkpoint_duration_seconds',
        help: 'Time to write a checkpoint',
        type: 'histogram',
        value: this.checkpointDuration.value(),
      },
      {
        name: 'acknowledgement_batch_size',
        help: 'Messages acknowledged per journal write',
        type: 'histogram',
        value: this.acknowledgementBatch.value(),
      },
    ];
  }

  /** See {@link StatisticsSource}: ready while taking messages. */
  readiness(): Readiness {
    switch (this.phaseNow) {
      case 'running':
        return { ready: true, reason: 'counting' };
      case 'restoring':
        return { ready: false, reason: `restoring the saved state in ${this.options.stateDirectory}` };
      case 'paused':
        return this.failure === undefined
          ? { ready: false, reason: `intake paused: ${this.pending.size} rows wait for the writer` }
          : { ready: false, reason: `intake paused: ${this.failure.message}; nothing acknowledged since` };
      case 'stopping':
        return { ready: false, reason: 'stopping: writing the open windows' };
      case 'closed':
        return { ready: false, reason: 'stopped' };
    }
  }

  private replay(saved: {
    readonly checkpoint: Checkpoint<K> | undefined;
    readonly records: readonly JournalRecord[];
  }) {
    if (saved.checkpoint !== undefined) {
      const savedBy = saved.checkpoint.operator ?? 'durableWindowedCount';
      if (savedBy !== this.kind.operator) throw new Error(`the state was saved by ${savedBy}`);
      this.counter.restore(saved.checkpoint.counter);
      const watermark = this.counter.watermark;
      for (const row of saved.checkpoint.pendingRows) this.pending.add(this.kind.loadRow(row, watermark));
      if (this.pendingLate !== undefined) {
        for (const [windowStart, windowEnd, key, part, count] of saved.checkpoint.lateCounts ?? [])
          this.lateCounts.set(lateId(windowStart, key), { windowStart, windowEnd, key, part, count });
        for (const row of saved.checkpoint.pendingLateRows ?? [])
          this.pendingLate.add(savedRowToRow(row, watermark) as LateRow<K>);
      }
    }
    for (const record of saved.records) {
      this.sequence = record.q;
      if (record.m !== undefined && record.h !== undefined) this.deliveries.remember(record.m, record.h);
      if (record.p !== undefined && record.s !== undefined)
        this.sequences.remember({ publisher: record.p, seq: record.s });
      if (record.a !== undefined) this.counter.advanceWatermark(record.a);
      if (record.k !== undefined) {
        this.arrival = record.n ?? 0;
        this.countingSequence = record.q;
        const time = record.t ?? Number.NaN;
        const key = record.k as K;
        // A line of the other kind: a count line has no value, an aggregate line always one.
        if ((record.v === undefined) !== (this.kind.extrasOf === undefined))
          throw new Error(
            `journal record ${record.q} was written by ${record.v === undefined ? 'durableWindowedCount' : 'durableWindowedAggregate'}`,
          );
        if (record.v === undefined) this.counter.push({ time, key });
        else this.counter.push({ time, key, value: record.v, distinct: record.d });
      }
    }
  }

  /**
   * One event late for (window, key): its late count grows, and the new count waits to
   * be written. At most `maxLateCounts` are held; the oldest is then dropped and its
   * (window, key) starts a new part when it is late again, so memory stays bounded and
   * no written count is ever replaced by a smaller one. Runs in replay too, with the
   * same sequence numbers, so a restart rebuilds the same parts.
   */
  private countLate(start: number, key: K): void {
    const id = lateId(start, key);
    let late = this.lateCounts.get(id);
    if (late === undefined) {
      if (this.lateCounts.size >= (this.options.maxLateCounts ?? MAX_LATE_COUNTS)) {
        const oldest = this.lateCounts.keys().next().value as string;
        this.lateCounts.delete(oldest);
      }
      // Late counts are refused with sessions (durableOptions): these are fixed windows.
      const windowEnd = start + (this.options.settings as WindowSettings<E, K>).windowDuration;
      late = { windowStart: start, windowEnd, key, part: this.countingSequence, count: 0 };
      this.lateCounts.set(id, late);
    }
    late.count++;
    this.pendingLate?.add({
      windowStart: new Date(start),
      windowEnd: new Date(late.windowEnd),
      key,
      count: late.count,
      final: true,
      part: late.part,
    });
  }

  private journal(record: Omit<JournalRecord, 'q'>): void {
    writeJournalRecord(this.files.batch, ++this.sequence, record);
    this.journalLength++;
    this.dirty = true;
  }

  // While replaying, rejections are not reported again (they were, before the restart).
  private reportCounterRejection(rejection: Rejection<JournaledEvent<K>>): void {
    if (this.phaseNow === 'restoring') return;
    this.countRejection(rejection.kind);
    reject(this.options, { ...rejection, operator: this.kind.operator, input: this.current as E });
  }

  private liveStats(): DurableWindowStats {
    const counts = this.counts;
    return Object.defineProperties(
      {},
      {
        ...Object.fromEntries(
          ([...STAT_NAMES, 'openWindows', 'stateSize', 'watermark', 'maxEventTime'] as const).map((name) => [
            name,
            { get: () => this.counter[name], enumerable: true },
          ]),
        ),
        ...Object.fromEntries(
          (Object.keys(counts) as (keyof typeof counts)[]).map((name) => [
            name,
            { get: () => counts[name], enumerable: true },
          ]),
        ),
        replayedRecords: { value: this.replayedRecords, enumerable: true },
        paused: { get: () => this.phaseNow === 'paused', enumerable: true },
        openRows: { value: () => this.counter.openRows() },
        pendingRows: { get: () => this.pending.size, enumerable: true },
        pendingLateRows: { get: () => this.pendingLate?.size ?? 0, enumerable: true },
        rowsInFlight: { get: () => this.pending.inFlight, enumerable: true },
        journalRecords: { get: () => this.journalLength, enumerable: true },
      },
    ) as DurableWindowStats;
  }
}

function lateId(windowStart: number, key: unknown): string {
  return `${windowStart}/${typeof key}/${String(key)}`;
}
