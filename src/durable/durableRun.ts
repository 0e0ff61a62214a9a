/**
 * One subscription of `durableWindowedCount`: intake, writers, graceful stop.
 * @module
 */
import { Subject, type Observable, type Subscriber, type Subscription } from 'rxjs';
import type { MqttMessage } from '../mqtt/message.js';
import { reject, warnOnReject, type Rejection, type RejectOptions } from '../reject.js';
import { IdleAdvance } from '../window/idleAdvance.js';
import type { WindowRow } from '../window/windowRow.js';
import type { WriteResult } from '../writeQueue.js';
import { AcknowledgementBatch } from './acknowledgementBatch.js';
import { DEAD_LETTER_KINDS, DeadLetters } from './deadLetters.js';
import type { DurableSettings, DurableWriterHooks } from './durableOptions.js';
import { DurableWindowsState } from './DurableWindowsState.js';
import { MessagePreparation } from './messagePreparation.js';
import type { LateRow } from './pendingRows.js';
import { publisherSequenceOf } from './publisherSequences.js';
import { payloadDigest } from './recentDeliveries.js';
import { StateDirectoryPause } from './stateDirectoryPause.js';

/** The most messages a batch holds with durability `'process'`: see {@link AcknowledgementBatch}'s `maxHeld`. */
const MAX_HELD_PROCESS = 64;

/**
 * Wires one subscription: messages from the source go through `prepare` into the
 * plain core ({@link DurableWindowsState}), whose rows go to the writers, whose
 * results go to the subscriber. Intake pauses (unsubscribes from the source) while
 * `maxPendingRows` rows wait and resumes at half; a stop writes the open windows and
 * waits for the writers. The core's phase says where it stands; {@link finish} ends
 * the stream once, whatever the cause.
 * @internal
 */
export class DurableRun<E, K extends string | number, W extends WindowRow<K>, R extends WriteResult<W>> {
  private readonly rowsToWrite = new Subject<W>();
  private readonly lateRowsToWrite = new Subject<LateRow<K>>();
  /** The rejections of the message being handled: the first a dead letter carries goes with it. */
  private readonly refused: Rejection[] = [];
  private readonly state: DurableWindowsState<E, K, W>;
  private readonly acknowledgements: AcknowledgementBatch;
  private readonly directoryPause: StateDirectoryPause;
  private readonly deadLetters: DeadLetters | undefined;
  private readonly idleAdvance: IdleAdvance | undefined;
  private readonly preparation: MessagePreparation<E>;
  private intake: Subscription | undefined;
  private readonly writers: Subscription[] = [];
  private stopSubscription: Subscription | undefined;
  private stopTimer: ReturnType<typeof setTimeout> | undefined;

  /** Reads the saved state (throws when it cannot), then subscribes to `prepare`. */
  constructor(
    private readonly source: Observable<MqttMessage>,
    private readonly destination: Subscriber<R>,
    private readonly resolved: DurableSettings<E, K, W, R>,
  ) {
    const { options, kind, settings, writeLate, maxLateCounts } = resolved;
    this.state = DurableWindowsState.open<E, K, W>({
      kind,
      stateDirectory: resolved.stateDirectory,
      durability: resolved.durability,
      settings,
      maxRowsInFlight: resolved.maxRowsInFlight,
      checkpointEvery: resolved.checkpointEvery,
      now: settings.now,
      sendRow: (row) => this.rowsToWrite.next(row),
      ...(writeLate === undefined ? {} : { sendLateRow: (row: LateRow<K>) => this.lateRowsToWrite.next(row) }),
      ...(maxLateCounts === undefined ? {} : { maxLateCounts }),
      onReject: (rejection) => this.refuse(rejection),
      strict: options.strict,
    });
    this.acknowledgements = new AcknowledgementBatch(
      (messages) => this.state.flush(messages),
      (error) => this.directoryPause.failed(error),
      // A write(2) per 64 messages costs little next to them; an fsync would not.
      resolved.durability === 'process' ? MAX_HELD_PROCESS : Number.POSITIVE_INFINITY,
    );
    this.directoryPause = new StateDirectoryPause({
      state: this.state,
      stateDirectory: resolved.stateDirectory,
      ...(options.statistics === undefined ? {} : { statistics: options.statistics }),
      stopIntake: () => {
        const stopped = this.intake;
        this.intake = undefined;
        // After the current message returns: unsubscribing under it would close its connection.
        if (stopped !== undefined) queueMicrotask(() => stopped.unsubscribe());
      },
      releaseAcknowledgements: () => this.acknowledgements.release(),
      resumeIntake: () => {
        if (this.state.backlog > resolved.maxPendingRows / 2) return false;
        this.startIntake(false);
        return true;
      },
      fail: this.finish,
    });
    this.deadLetters =
      resolved.deadLetter === undefined ? undefined : new DeadLetters(resolved.deadLetter, this.finish);
    this.idleAdvance = IdleAdvance.of(settings, this.state.windows, (to) => {
      // Recorded before it takes effect: a restart must close the same windows.
      if (!this.saving(() => this.state.advanceWatermark(to))) return;
      this.state.pump();
      this.saving(() => this.state.checkpointIfDue());
    });
    const prepareHooks = {
      onReject: (rejection: Rejection) => {
        this.state.countRejection(rejection.kind);
        this.refuse(rejection);
      },
    };
    this.preparation = new MessagePreparation(options.prepare, prepareHooks, this.finish);
  }

  /** Subscribes the writers and the stop signal, writes the rows the replay made, then takes messages. */
  begin(): void {
    const { options, writeLate, maxPendingRows } = this.resolved;
    const { state } = this;
    this.writers.push(
      this.subscribeWriter(options.write, this.rowsToWrite, (row, written) => state.rowSettled(row, written), true),
    );
    if (writeLate !== undefined)
      this.writers.push(
        this.subscribeWriter(writeLate, this.lateRowsToWrite, (row, written) => state.lateRowSettled(row, written)),
      );
    this.stopSubscription = options.stop?.subscribe(() => this.beginStop());
    options.statistics?.add(state);
    if (this.deadLetters !== undefined) options.statistics?.add(this.deadLetters);
    this.resolved.onSubscribe?.(state.stats);
    if (this.ended) return;
    // The replay may have made rows (and a long journal): save, then write them.
    if (!this.saving(() => state.checkpoint())) return;
    state.pump();
    if (this.ended) return;
    if (state.backlog >= maxPendingRows) {
      state.enter('paused');
      this.report(true);
    } else {
      state.enter('running');
      this.startIntake();
    }
    this.idleAdvance?.arrived();
    this.idleAdvance?.arm();
  }

  /** The subscriber unsubscribed: save and let go of everything. */
  unsubscribe(): void {
    this.preparation.close();
    this.finish();
  }

  /** Ends the stream, once: releases what is held, saves the state, and completes or errors. */
  private readonly finish = (error?: unknown): void => {
    if (this.state.phase === 'closed') return;
    this.intake?.unsubscribe();
    clearTimeout(this.stopTimer);
    this.directoryPause.stop();
    this.idleAdvance?.stop();
    this.stopSubscription?.unsubscribe();
    let failure = error;
    // The held PUBACKs leave only if their batch is saved; then the whole state is.
    for (const save of [() => this.acknowledgements.release(), () => this.state.close()]) {
      try {
        save();
      } catch (saveError) {
        failure ??= saveError;
      }
    }
    for (const writer of this.writers) writer.unsubscribe();
    this.deadLetters?.close();
    if (failure === undefined) this.destination.complete();
    else this.destination.error(failure);
  };

  /**
   * Runs a step that touches the state files. A failure pauses intake until the directory
   * takes writes again (a full disk, read-only, I/O errors), or ends the stream (the
   * directory gone): see {@link StateDirectoryPause}.
   */
  private saving(step: () => void): boolean {
    try {
      step();
      return true;
    } catch (error) {
      this.directoryPause.failed(error);
      return false;
    }
  }

  /** A callback (onSubscribe, a synchronous writer or stop signal) may have ended it. */
  private get ended(): boolean {
    return this.state.phase === 'closed' || this.state.phase === 'stopping';
  }

  private refuse(rejection: Rejection): void {
    this.refused.push(rejection);
    (this.resolved.options.onReject ?? warnOnReject)(rejection as Rejection<E>);
  }

  private report(paused: boolean): void {
    const pendingRows = this.state.backlog;
    this.resolved.onBackpressure?.({ paused, pendingRows });
    this.resolved.options.statistics?.report({
      stage: 'durable',
      state: paused ? 'paused' : 'taking',
      reason: paused
        ? `intake paused: ${pendingRows} rows wait for the writer (the broker queues the messages)`
        : `intake resumed: ${pendingRows} rows wait for the writer`,
    });
  }

  private readonly onMessage = (message: MqttMessage): void => {
    const { state, deadLetters, acknowledgements, refused } = this;
    if (!state.taking) return; // unacknowledged: the broker sends it again
    const messageId = message.qos > 0 ? message.messageId : undefined;
    const digest = messageId === undefined ? undefined : payloadDigest(message.payload);
    // A message an outbox sent again after its publisher restarted: a new PUBLISH.
    const origin = publisherSequenceOf(message.properties);
    if (!state.accept(messageId, digest, origin)) {
      message.ack();
      return;
    }
    refused.length = 0;
    // With dead letters, this operator alone acknowledges: a decoding step that
    // acknowledges what it rejects would let the PUBACK leave before the dead letter.
    this.preparation.prepare(deadLetters === undefined ? message : { ...message, ack: acknowledgedHere });
    if (state.phase === 'closed') return;
    const events = this.preparation.events;
    const deadLettering = deadLetters !== undefined && messageId !== undefined;
    const deadKind = (rejection: Rejection) => DEAD_LETTER_KINDS.has(rejection.kind);
    // A message rejected whole is not remembered: if its dead letter is lost in a
    // crash, the broker's redelivery is rejected, and dead-lettered, again.
    const rejectedWhole = deadLettering && events.length === 0 && refused.some(deadKind);
    if (!this.saving(() => state.record(messageId, digest, events, !rejectedWhole, origin))) return;
    // Counting may have refused its events too (a far-future time).
    const deadLetter = deadLettering ? refused.find(deadKind) : undefined;
    if (deadLetter !== undefined && deadLetters !== undefined) {
      // The journal first (earlier messages' PUBACKs with it); this PUBACK after the dead letter's.
      if (!this.saving(() => acknowledgements.release())) return;
      deadLetters.send(message, deadLetter, () => message.ack());
    } else if (!this.saving(() => acknowledgements.acknowledge(message, state.unflushed))) return;
    this.idleAdvance?.arrived();
    state.pump();
    if (state.backlog >= this.resolved.maxPendingRows) this.pauseIntake();
    if (this.saving(() => state.checkpointIfDue())) this.idleAdvance?.arm();
  };

  /** Takes messages (again); `announce` false when the caller tells of it itself. */
  private startIntake(announce = true): void {
    const { state } = this;
    if (state.phase !== 'running' && state.phase !== 'paused') return;
    if (this.intake !== undefined || state.stateDirectoryFailure !== undefined) return;
    const resuming = state.phase === 'paused';
    state.enter('running');
    // Told once running: a listener that reads the statistics sees intake taken up.
    if (resuming && announce) this.report(false);
    this.intake = this.source.subscribe({
      next: this.onMessage,
      error: this.finish,
      complete: () => this.beginStop(),
    });
  }

  private pauseIntake(): void {
    const stopped = this.intake;
    if (stopped === undefined) return;
    this.state.enter('paused');
    this.report(true);
    this.intake = undefined;
    // After the current message returns, and after the batch's acknowledgements
    // are released: unsubscribing first would close the connection under them.
    queueMicrotask(() => {
      // Unsubscribed even when the batch cannot be written: its acknowledgements stay held.
      this.saving(() => this.acknowledgements.release());
      stopped.unsubscribe();
    });
  }

  /**
   * Graceful stop: no more messages; the open windows' counts so far are written too
   * (they keep counting after the next start, and a larger count replaces them).
   */
  private beginStop(): void {
    const { state } = this;
    if (state.phase === 'stopping' || state.phase === 'closed') return;
    state.enter('stopping');
    this.idleAdvance?.stop();
    const saved = this.saving(() => {
      this.acknowledgements.release();
      this.intake?.unsubscribe();
      this.intake = undefined;
      state.checkpoint();
    });
    if (!saved) return;
    state.writeOpenWindows();
    state.pump();
    if (state.backlog === 0) {
      this.finish();
      return;
    }
    this.stopTimer = setTimeout(() => this.finish(), this.resolved.stopTimeoutMs);
  }

  /**
   * Subscribes a writer: a row leaves the saved state when its result comes back, or
   * when the writer refuses it for good. On-time results go on to the subscriber.
   */
  private subscribeWriter<T, W extends WriteResult<T>>(
    write: (rows: Observable<T>, hooks: DurableWriterHooks<K>) => Observable<W>,
    rows: Observable<T>,
    settle: (row: T, written: boolean) => void,
    emitResults = false,
  ): Subscription {
    const hooks: DurableWriterHooks<K> = {
      onReject: (rejection) => {
        if (this.state.phase === 'closed') return;
        // Reported first: a strict report throws into the writer, which ends with
        // that error, and the row stays saved.
        this.state.countRejection(rejection.kind);
        reject(this.resolved.options as RejectOptions<WindowRow<K>>, rejection);
        settle(rejection.input as T, false);
        this.afterSettled();
      },
    };
    return write(rows, hooks).subscribe({
      next: (result) => {
        if (this.state.phase === 'closed') return;
        settle(result.value, true);
        if (emitResults) this.destination.next(result as unknown as R);
        this.afterSettled();
      },
      error: this.finish,
      complete: () => this.finish(),
    });
  }

  /** A row settled (acknowledged, or refused for good) frees its write slot. */
  private afterSettled(): void {
    const { state } = this;
    if (state.phase === 'closed') return;
    state.pump();
    if (state.phase === 'stopping') {
      if (state.backlog === 0) this.finish();
      return;
    }
    if (state.phase === 'paused' && state.backlog <= this.resolved.maxPendingRows / 2) this.startIntake();
    this.saving(() => state.checkpointIfDue());
  }
}

/** The `ack` prepare's steps see when dead letters are on: the operator acknowledges itself. */
function acknowledgedHere(): void {
  /* durableWindowedCount acknowledges the message once its effect (or its dead letter) is saved */
}
