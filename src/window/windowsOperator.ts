/**
 * The RxJS side that {@link windowedCount} and {@link windowedAggregate} share, for fixed
 * windows and sessions alike: one window state per subscription, restored from the initial
 * state, its live counters and statistics, its idle advance, and the flush when the source
 * completes.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { subscribeOperator } from '../internal/operatorSubscriber.js';
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import { IdleAdvance } from './idleAdvance.js';
import type { EventTimeSettings } from './options.js';
import type { WindowState } from './windowState.js';
import type { WindowRow } from './windowRow.js';
import { windowStatistics } from './windowStatistics.js';

/** What an operator's options ask of each subscription's state. @internal */
export interface WindowsOperatorHooks<S, T> {
  /** Restored into each subscription's state before its first event. */
  readonly initialState?: T | undefined;
  /** Told of each subscription's state, before its first event. */
  readonly onSubscribe?: ((stats: S) => void) | undefined;
  /** Where each subscription's live statistics go. */
  readonly statistics?: LiveStatistics | undefined;
}

/**
 * An operator that pushes each event into a fresh window state per subscription.
 *
 * @param settings - the checked settings the state is made with.
 * @param make - makes a subscription's state, emitting to `emit`.
 * @param hooks - the state to restore, `onSubscribe` and `statistics`. The state is
 *   restored once when the operator is made, so that a bad snapshot throws there. Restored
 *   windows close by the clock too (idle advance), counting the silence from the subscription.
 * @internal
 */
export function windowsOperator<
  E,
  K,
  R extends WindowRow<K>,
  T,
  S extends WindowState<E, R> & { restore(saved: T): void },
>(
  settings: Pick<EventTimeSettings<E, K>, 'idleAdvance' | 'watermarkDelay' | 'flushOnComplete'>,
  make: (emit: (row: R) => void) => S,
  hooks: WindowsOperatorHooks<NoInfer<S>, T>,
): OperatorFunction<E, R> {
  const { initialState, onSubscribe, statistics } = hooks;
  // Restored once now, so that a bad snapshot throws here rather than on subscribe.
  if (initialState !== undefined) make(() => {}).restore(initialState);
  return (source) =>
    new Observable<R>((destination) => {
      const windows = make((row) => destination.next(row));
      if (initialState !== undefined) windows.restore(initialState);
      onSubscribe?.(windows);
      statistics?.add(windowStatistics(windows));
      const idleAdvance = IdleAdvance.of(settings, windows, (to) => windows.advanceWatermark(to));
      // Restored windows close by the clock too, counting the silence from now: when
      // the last event before the snapshot arrived is not known.
      if (initialState !== undefined) {
        idleAdvance?.arrived();
        idleAdvance?.arm();
      }

      // A throw (strict rejections, throwing accessors) ends the stream; the idle timer
      // stops when it ends or is unsubscribed.
      return subscribeOperator(source, destination, {
        next(event) {
          idleAdvance?.arrived();
          windows.push(event);
          idleAdvance?.arm();
        },
        complete() {
          if (settings.flushOnComplete) windows.flush();
          destination.complete();
        },
        finalize: () => idleAdvance?.stop(),
      });
    });
}
