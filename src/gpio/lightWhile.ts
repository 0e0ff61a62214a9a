/**
 * `lightWhile`: an LED on a GPIO pin lit while each value's work runs.
 *
 * @module
 */
import { defer, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { checkPin, type Level, type OutputPin } from './backend.js';
import { withGpioBackend, type GpioBackendChoice } from './gpioBackendChoice.js';

/** Options of {@link lightWhile}. */
export interface LightWhileOptions {
  /** The GPIO backend. Default `'pigpio'`. */
  readonly backend?: GpioBackendChoice;
  /**
   * Whether the LED lights at level 0 (wired from 3.3 V to the pin). Default `false`:
   * wired from the pin to ground through a resistor, lit at level 1.
   */
  readonly activeLow?: boolean;
  /**
   * How many values' work may run at once; more wait in order. Default 1, like the
   * original publisher, which handled one press at a time. The LED stays lit while
   * any work runs.
   */
  readonly concurrency?: number;
}

/**
 * Maps each value to its work (like `concatMap`) and lights an LED on an output pin
 * while that work runs: on before the work is subscribed, off once it completes or
 * errors.
 *
 * ```text
 * source      --a-----------b------|
 * work(a)       \--x--|
 * work(b)                   \--y|
 * LED         __|‾‾‾‾‾|_____|‾‾‾|______
 * output      -----x------------y--|
 * ```
 *
 * Subscribing opens the pin as an output (off), then subscribes to the source. Each
 * value's `work(value, index)` runs with the LED on; with `concurrency` above 1 the
 * LED stays on while any work runs, and goes off when the last one ends. The work's
 * values are passed on. The LED goes off before an error from the work is passed
 * on, and before completion. Unsubscribing stops the source and every running work,
 * turns the LED off and releases the pin. A backend failure (loading, opening,
 * writing) errors the output.
 *
 * @example
 * ```ts
 * import { timer, map } from 'rxjs';
 * import { fromGpioButton, lightWhile } from 'mqtt-iot-stream';
 * // The reference scenario: GPIO 4's LED is lit while the press is published.
 * fromGpioButton(17, { debounceMs: 300, backend: 'simulated' })
 *   .pipe(lightWhile(4, (press) => timer(50).pipe(map(() => press.at)), { backend: 'simulated' }))
 *   .subscribe((publishedAt) => console.log('published', publishedAt));
 * ```
 * @see {@link fromGpioButton}
 * @param pin - the LED's pin, BCM numbering (4 in the reference wiring)
 * @param work - the work for one value; the LED is lit until it completes or errors
 * @param options - backend, polarity, concurrency
 * @returns the operator
 */
export function lightWhile<T, R>(
  pin: number,
  work: (value: T, index: number) => ObservableInput<R>,
  options: LightWhileOptions = {},
): OperatorFunction<T, R> {
  checkPin(pin);
  const concurrency = options.concurrency ?? 1;
  if (!(concurrency >= 1) || (!Number.isInteger(concurrency) && concurrency !== Infinity)) {
    throw new RangeError(`concurrency must be a positive integer or Infinity, got ${concurrency}`);
  }
  const onLevel: Level = options.activeLow ? 0 : 1;
  const offLevel: Level = options.activeLow ? 1 : 0;

  return (source) => withGpioBackend(options.backend ?? 'pigpio', (backend) => new Observable<R>((destination) => {
    const led: OutputPin = backend.openOutput(pin, { initialLevel: offLevel });
    const queue: T[] = [];
    const running = new Set<Subscription>();
    let active = 0;
    let index = 0;
    let sourceDone = false;
    let sourceSubscription: Subscription | undefined;

    const write = (level: Level): boolean => {
      try {
        led.write(level);
        return true;
      } catch (error) {
        destination.error(error);
        return false;
      }
    };

    const drain = (): void => {
      while (!destination.closed && active < concurrency && queue.length > 0) run(queue.shift()!);
      if (!destination.closed && sourceDone && active === 0 && queue.length === 0) destination.complete();
    };

    const run = (value: T): void => {
      active++;
      if (active === 1 && !write(onLevel)) return;
      let finished = false;
      let subscription: Subscription | undefined = undefined;
      // Off before the work's end is passed on, so the LED is dark when the
      // subscriber hears of it.
      const finish = (): boolean => {
        finished = true;
        if (subscription !== undefined) running.delete(subscription);
        active--;
        return active > 0 || write(offLevel);
      };
      subscription = defer(() => work(value, index++)).subscribe({
        next: (result) => destination.next(result),
        error: (error: unknown) => { if (finish()) destination.error(error); },
        complete: () => { if (finish()) drain(); },
      });
      if (!finished) running.add(subscription);
    };

    sourceSubscription = source.subscribe({
      next: (value) => {
        queue.push(value);
        drain();
      },
      error: (error: unknown) => destination.error(error),
      complete: () => {
        sourceDone = true;
        drain();
      },
    });

    return () => {
      sourceSubscription?.unsubscribe();
      for (const subscription of running) subscription.unsubscribe();
      running.clear();
      queue.length = 0;
      if (active > 0) {
        active = 0;
        try { led.write(offLevel); } catch { /* the pin is going away; nothing left to tell */ }
      }
      led.release();
    };
  }));
}
