/**
 * The contract every writing operator shares ({@link toMqtt}, {@link cassandraSink},
 * {@link lightWhile}): how many values are in flight at once, how many may wait, what
 * a full queue does, how the backlog is reported, and what a result holds.
 *
 * @module
 */
import type { RejectOptions } from './reject.js';

/** The operators built on the shared write queue, as their errors and rejections name them. */
export type WritingOperator = 'toMqtt' | 'cassandraSink' | 'lightWhile';

/**
 * Options every writing operator accepts, besides its own.
 *
 * RxJS pushes: no operator can make its source stop emitting. A writing operator
 * therefore holds at most `concurrency` values in flight and `maxQueued` waiting,
 * and says what happens to one more (`onQueueFull`), rather than buffering
 * without bound. To go at the pace of the far end, drive the source by the
 * operator's results (one result per value), so that nothing ever waits.
 */
export interface WriteQueueOptions<T> extends RejectOptions<T> {
  /**
   * Values in flight at once, at most: an integer ≥ 1, or `Infinity`.
   * Default: `toMqtt` 16, `cassandraSink` 32, `lightWhile` 1.
   */
  concurrency?: number;
  /**
   * Values waiting for a free slot, at most: an integer ≥ 0, or `Infinity`
   * (no bound, and no protection against running out of memory). Default 10,000.
   * `0`: nothing waits, for a source paced on the results.
   */
  maxQueued?: number;
  /**
   * What happens to a value that arrives while `concurrency` values are in flight
   * and `maxQueued` wait: `'error'` (default) ends the stream with a
   * {@link QueueFullError}; `'reject'` hands the value to `onReject` (kind
   * `'queue-full'`) and drops it, or ends the stream with a
   * {@link RejectionError} when `strict`.
   */
  onQueueFull?: 'error' | 'reject';
  /**
   * Called whenever the number of values in flight or waiting changes, for metrics
   * and tests. A throw ends the stream with that error. Default: nothing.
   */
  onBacklog?: (backlog: WriteBacklog) => void;
}

/** What a writing operator holds, as `onBacklog` reports it. */
export interface WriteBacklog {
  /** Values being written (never more than `concurrency`). */
  readonly inFlight: number;
  /** Values received and not yet started (never more than `maxQueued`). */
  readonly queued: number;
}

/**
 * What `toMqtt` and `cassandraSink` emit, one per value written; each adds its own
 * fields (the MQTT packet identifier, the number of attempts).
 */
export interface WriteResult<T> {
  /** The value as it came from upstream. */
  readonly value: T;
}

/**
 * The error a writing operator ends with when a value arrives while its queue is
 * full and `onQueueFull` is `'error'`: the source pushes faster than the far end
 * (broker, Cassandra, the work) takes values.
 */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  /** The operator whose queue was full. */
  readonly operator: WritingOperator;
  /** Its `concurrency`. */
  readonly concurrency: number;
  /** Its `maxQueued`. */
  readonly maxQueued: number;
  /**
   * @param options - the `operator` whose queue was full, its `concurrency` and
   *   `maxQueued`, and the `state` of the far end, e.g. `the broker at mqtt://… is not connected`.
   */
  constructor(options: {
    readonly operator: WritingOperator;
    readonly concurrency: number;
    readonly maxQueued: number;
    readonly state: string;
  }) {
    const { operator, concurrency, maxQueued, state } = options;
    super(
      `${queueFullReason(operator, concurrency, maxQueued, state)}. ` +
        "Pace the source on the operator's results, raise maxQueued, or set onQueueFull: 'reject'",
    );
    this.operator = operator;
    this.concurrency = concurrency;
    this.maxQueued = maxQueued;
  }
}

/**
 * The sentence a full queue is reported with, as an error or a rejection.
 * @internal
 */
export function queueFullReason(
  operator: WritingOperator,
  concurrency: number,
  maxQueued: number,
  state: string,
): string {
  const values = concurrency === 1 ? 'value' : 'values';
  return `${operator}: ${concurrency} ${values} in flight and ${maxQueued} queued (${state}): the source is faster than they are written`;
}
