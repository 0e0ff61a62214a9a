/**
 * The bounded write queue every writing operator runs on (toMqtt, cassandraSink,
 * lightWhile): at most `concurrency` values in flight, at most `maxQueued` waiting,
 * a full queue errored or rejected, the backlog reported, and completion once the
 * source completed and every value was settled. An operator supplies only what
 * writing one value means, and settles it through its {@link WriteSlot}: done (with
 * a result or none), rejected (reported through `onReject`/`strict`), or the whole
 * stream failed.
 *
 * Modelled on RxJS's `mergeInternals` (one strategy under several operators), with
 * what a writer needs on top: a bounded queue, results in input order when asked,
 * and rejections that free their slot.
 * @module
 */
import { gaugeStatistic, type StatisticsSource } from '../observe/statistic.js';
import type { Observable, Subscriber, Subscription } from 'rxjs';
import { reject, type RejectionKind, type RejectOptions } from '../reject.js';
import { optionChecks } from './options.js';
import {
  QueueFullError,
  queueFullReason,
  type WriteBacklog,
  type WriteQueueOptions,
  type WritingOperator,
} from '../writeQueue.js';

/** {@link WriteQueueOptions}, checked, with the operator's defaults applied. @internal */
export interface WriteQueueSettings<T> {
  readonly operator: WritingOperator;
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly onQueueFull: 'error' | 'reject';
  readonly onBacklog: ((backlog: WriteBacklog) => void) | undefined;
  readonly rejectOptions: RejectOptions<T>;
}

/**
 * The defaults of {@link WriteQueueOptions} every writing operator shares (its
 * `concurrency` default is the operator's own); the options' TSDoc quotes them.
 */
const WRITE_QUEUE_DEFAULTS = { maxQueued: 10_000, onQueueFull: 'error' } as const;

/**
 * Checks the shared options when the operator is made, so a bad one throws there,
 * with the operator's name, before anything is opened.
 * @internal
 */
export function writeQueueSettings<T>(
  operator: WritingOperator,
  options: WriteQueueOptions<T>,
  defaultConcurrency: number,
): WriteQueueSettings<T> {
  const check = optionChecks(operator);
  return {
    operator,
    concurrency: check.positiveInteger('concurrency', options.concurrency ?? defaultConcurrency, { infinity: true }),
    maxQueued: check.integer('maxQueued', options.maxQueued ?? WRITE_QUEUE_DEFAULTS.maxQueued, {
      min: 0,
      infinity: true,
    }),
    onQueueFull: check.oneOf('onQueueFull', options.onQueueFull ?? WRITE_QUEUE_DEFAULTS.onQueueFull, [
      'error',
      'reject',
    ]),
    onBacklog: check.optionalFunc('onBacklog', options.onBacklog, '(backlog) => void'),
    rejectOptions: options,
  };
}

/** What {@link BoundedWriter} needs besides the shared options. @internal */
export interface BoundedWriterSettings<T> extends WriteQueueSettings<T> {
  /**
   * `'input'`: results are emitted in the order of the values, and a value's slot is
   * freed only once its result is emitted (toMqtt). `'completion'`: as each value
   * is settled (cassandraSink, lightWhile).
   */
  readonly order: 'input' | 'completion';
  /** The far end's state for the queue-full sentence, e.g. `the broker at … is not connected`. */
  readonly state: () => string;
  /**
   * Frees what the operator holds (an owned client, timers), once, when the stream
   * ends or is unsubscribed. The end is passed on after a returned promise settles,
   * so that a finished stream holds no socket.
   */
  readonly release?: () => Promise<void> | void;
}

/**
 * One value's turn: the operator settles it exactly once, with `done` or `reject`
 * (or ends the whole stream with {@link BoundedWriter.fail}). Calls after the value
 * was settled or the stream ended are ignored, so late callbacks need no guard.
 * @internal
 */
export interface WriteSlot<R> {
  /** Passes a result on at once, keeping the slot (completion order only: lightWhile's work). */
  next(result: R): void;
  /** The value is written: frees its slot, then emits `result` if given (after earlier values' in input order). */
  done(): void;
  done(result: R): void;
  /**
   * The value cannot be written: frees its slot, then reports it through `onReject`
   * (or ends the stream with a {@link RejectionError} when `strict`).
   */
  reject(kind: RejectionKind, reason: string): void;
}

/** The queue size past which a half-drained queue is compacted (instead of at every value). */
const COMPACT_AT = 1024;

/**
 * The queue, the slots and the end of one subscription of a writing operator.
 * Create it in the operator's `new Observable(...)`, set up what `fail` needs, then
 * {@link subscribe} to the source; call {@link unsubscribe} in the teardown.
 * @internal
 */
export class BoundedWriter<T, R> {
  /** Values waiting for a slot, from `head` on (no shift per value while a backlog drains). */
  private readonly queue: T[] = [];
  private head = 0;
  /** Slots taken: being written, or (input order) settled and waiting for an earlier value. */
  private active = 0;
  /** Input order only: the slots taken, oldest first. */
  private readonly flight: Slot<T, R>[] = [];
  private sourceDone = false;
  private ended = false;
  // Re-entrancy guards: emitting a result may make a paced source emit at once, which
  // lands in take() and pump() again; the outer loop picks that value up instead.
  private pumping = false;
  private flushing = false;
  private source: Subscription | undefined;
  private lastBacklog: WriteBacklog | undefined;

  constructor(
    private readonly destination: Subscriber<R>,
    private readonly settings: BoundedWriterSettings<T>,
    private readonly write: (value: T, slot: WriteSlot<R>) => void,
  ) {}

  /** Whether the stream ended or was unsubscribed: work still running should stop. */
  get closed(): boolean {
    return this.ended;
  }

  /** Values waiting for a slot now. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Slots taken now (values being written, or settled and waiting for an earlier one). */
  get inFlight(): number {
    return this.active;
  }

  /** The live statistics of this queue, as the `write_queue` stage. */
  statistics(): StatisticsSource {
    const { concurrency, maxQueued } = this.settings;
    return {
      stage: 'write_queue',
      statistics: () => [
        gaugeStatistic('write_queue_length', 'Values waiting for a write slot', this.queued),
        gaugeStatistic('write_queue_in_flight', 'Values being written now', this.inFlight),
        gaugeStatistic('write_queue_concurrency', 'Write slots', concurrency),
        gaugeStatistic('write_queue_capacity', 'Values that may wait for a slot before the queue is full', maxQueued),
      ],
    };
  }

  subscribe(source: Observable<T>): void {
    this.source = source.subscribe({
      next: (value) => this.take(value),
      error: (error: unknown) => this.fail(error),
      complete: () => {
        this.sourceDone = true;
        this.pump();
      },
    });
    // Ended while subscribing (a synchronous source overflowed the queue): stop it.
    if (this.ended) this.source.unsubscribe();
  }

  /** Ends the stream with `error`, once; values queued or in flight are abandoned. */
  readonly fail = (error: unknown): void => {
    this.end(() => this.destination.error(error));
  };

  /** The teardown: stops the source and drops the queue without ending the stream. */
  unsubscribe(): void {
    if (this.ended) return;
    this.close();
    void this.settings.release?.();
  }

  /** @internal */
  emitNow(slot: Slot<T, R>, result: R): void {
    if (!this.ended && !slot.settled) this.destination.next(result);
  }

  /** @internal */
  settle(slot: Slot<T, R>, hasResult: boolean, result: R | undefined): void {
    if (this.ended || slot.settled) return;
    slot.settled = true;
    if (this.settings.order === 'input') {
      slot.hasResult = hasResult;
      slot.result = result;
      this.flush();
    } else {
      // Freed before the result leaves: a source paced on results finds room at once.
      this.active--;
      if (hasResult) this.destination.next(result as R);
    }
    this.pump();
  }

  /** @internal */
  refuse(slot: Slot<T, R>, kind: RejectionKind, reason: string): void {
    if (this.ended || slot.settled) return;
    slot.settled = true;
    // Freed at once, even ahead of earlier values: a refused value never waits for them.
    if (this.settings.order === 'input') this.flight.splice(this.flight.indexOf(slot), 1);
    this.active--;
    this.report(slot.value, kind, reason);
    if (this.settings.order === 'input') this.flush();
    this.pump();
  }

  private take(value: T): void {
    if (this.ended) return;
    const { concurrency, maxQueued } = this.settings;
    if (this.active >= concurrency && this.queue.length - this.head >= maxQueued) {
      this.overflow(value);
      return;
    }
    this.queue.push(value);
    this.pump();
  }

  private overflow(value: T): void {
    const { operator, concurrency, maxQueued, onQueueFull } = this.settings;
    const state = this.settings.state();
    if (onQueueFull === 'reject')
      this.report(value, 'queue-full', queueFullReason(operator, concurrency, maxQueued, state));
    else this.fail(new QueueFullError({ operator, concurrency, maxQueued, state }));
  }

  /** Hands a refused value to `onReject`; a strict (or throwing) report ends the stream. */
  private report(value: T, kind: RejectionKind, reason: string): void {
    try {
      reject(this.settings.rejectOptions, { operator: this.settings.operator, kind, reason, input: value });
    } catch (error) {
      this.fail(error);
    }
  }

  /** Starts queued values while slots are free; completes once everything is settled. */
  private pump(): void {
    if (this.pumping || this.ended) return;
    this.pumping = true;
    try {
      while (!this.ended && this.active < this.settings.concurrency && this.head < this.queue.length) {
        const value = this.queue[this.head] as T;
        this.queue[this.head++] = undefined as T; // let the value be collected
        if (this.head === this.queue.length) {
          this.queue.length = 0;
          this.head = 0;
        } else if (this.head >= COMPACT_AT && this.head * 2 >= this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        this.start(value);
      }
    } finally {
      this.pumping = false;
    }
    if (this.ended) return;
    this.reportBacklog();
    if (this.sourceDone && this.active === 0 && this.head === this.queue.length)
      this.end(() => this.destination.complete());
  }

  private start(value: T): void {
    const slot = new Slot(this, value);
    this.active++;
    if (this.settings.order === 'input') this.flight.push(slot);
    try {
      this.write(value, slot);
    } catch (error) {
      this.fail(error);
    }
  }

  /** Input order: frees the settled slots at the head and emits their results, oldest first. */
  private flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.ended && this.flight.length > 0 && this.flight[0]!.settled) {
        const slot = this.flight.shift()!;
        this.active--;
        if (slot.hasResult) this.destination.next(slot.result as R);
      }
    } finally {
      this.flushing = false;
    }
  }

  private reportBacklog(): void {
    const onBacklog = this.settings.onBacklog;
    if (onBacklog === undefined) return;
    const queued = this.queue.length - this.head;
    if (this.lastBacklog?.inFlight === this.active && this.lastBacklog.queued === queued) return;
    this.lastBacklog = { inFlight: this.active, queued };
    try {
      onBacklog(this.lastBacklog);
    } catch (error) {
      this.fail(error);
    }
  }

  private close(): void {
    this.ended = true;
    this.source?.unsubscribe();
    this.queue.length = 0;
    this.head = 0;
    this.flight.length = 0;
  }

  /** Ends once: releases what the operator holds, then passes the end on. */
  private end(signal: () => void): void {
    if (this.ended) return;
    this.close();
    const released = this.settings.release?.();
    if (released === undefined) signal();
    else void released.then(signal, signal);
  }
}

/** @internal */
class Slot<T, R> implements WriteSlot<R> {
  settled = false;
  /** Input order: the result, held until every earlier value's was emitted. */
  hasResult = false;
  result: R | undefined;

  constructor(
    private readonly writer: BoundedWriter<T, R>,
    readonly value: T,
  ) {}

  next(result: R): void {
    this.writer.emitNow(this, result);
  }

  done(result?: R): void {
    // arguments.length, not `result !== undefined`: undefined is a result like any other.
    this.writer.settle(this, arguments.length > 0, result);
  }

  reject(kind: RejectionKind, reason: string): void {
    this.writer.refuse(this, kind, reason);
  }
}
