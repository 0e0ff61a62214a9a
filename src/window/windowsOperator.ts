/**
 * The RxJS side that {@link windowedCount} and {@link windowedAggregate} share: one window
 * state per subscription, its idle advance, and the flush when the source completes.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { subscribeOperator } from '../internal/operatorSubscriber.js';
import { IdleAdvance } from './idleAdvance.js';
import type { WindowSettings } from './options.js';
import type { WindowState } from './windowState.js';
import type { WindowRow } from './windowRow.js';

/**
 * An operator that pushes each event into a fresh window state per subscription.
 *
 * @param settings - the checked window settings the state was made with.
 * @param subscribe - makes a subscription's state, emitting to `emit`, and does what a
 *   new subscription needs (restoring a snapshot, telling `onSubscribe`, adding statistics).
 * @param restored - whether `subscribe` restored saved windows: they then close by the
 *   clock too, counting the silence from the subscription.
 * @internal
 */
export function windowsOperator<E, K, R extends WindowRow<unknown>>(
  settings: WindowSettings<E, K>,
  subscribe: (emit: (row: R) => void) => WindowState<E, R>,
  restored: boolean,
): OperatorFunction<E, R> {
  return (source) =>
    new Observable<R>((destination) => {
      const windows = subscribe((row) => destination.next(row));
      const idleAdvance = IdleAdvance.of(settings, windows, (to) => windows.advanceWatermark(to));
      // Restored windows close by the clock too, counting the silence from now: when
      // the last event before the snapshot arrived is not known.
      if (restored) {
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
