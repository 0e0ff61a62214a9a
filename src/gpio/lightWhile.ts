/**
 * `lightWhile`: an LED on a GPIO pin lit while each value's work runs.
 *
 * @module
 */
import { defer, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';
import { BoundedWriter, writeQueueSettings } from '../internal/boundedWriter.js';
import { optionChecks } from '../internal/options.js';
import type { WriteQueueOptions } from '../writeQueue.js';
import { checkPin, type Level, type OutputPin } from './backend.js';
import { withGpioBackend, type GpioBackendChoice } from './gpioBackendChoice.js';

/** The defaults of {@link lightWhile}'s options, which their TSDoc quotes. */
const LIGHT_WHILE_DEFAULTS = { concurrency: 1, activeLow: false, backend: 'pigpio' } as const;

/** Options of {@link lightWhile}. */
export interface LightWhileOptions<T = unknown> extends WriteQueueOptions<T> {
  /** The GPIO backend. Default `'pigpio'`. */
  readonly backend?: GpioBackendChoice;
  /**
   * Whether the LED lights at level 0 (wired from 3.3 V to the pin). Default `false`:
   * wired from the pin to ground through a resistor, lit at level 1.
   */
  readonly activeLow?: boolean;
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
 * value's `work(value, index)` runs with the LED on. By default one work runs at a
 * time, like the original publisher, which handled one press at a time; with
 * `concurrency` above 1 the LED stays on while any work runs, and goes off when the
 * last one ends. Values whose turn has not come wait, at most `maxQueued` (default
 * 10,000; then `onQueueFull`: a {@link QueueFullError}, or a rejection of kind
 * `'queue-full'`), and `onBacklog` reports the counts as they change: the options
 * and rules {@link toMqtt} and {@link cassandraSink} share
 * ({@link WriteQueueOptions}). The work's values are passed on as they come (its
 * output is the work's, e.g. toMqtt's acknowledgements). The LED goes off before an
 * error from the work is passed on, and before completion. Unsubscribing stops the
 * source and every running work, turns the LED off and releases the pin. A backend
 * failure (loading, opening, writing) errors the output.
 *
 * @example
 * ```ts
 * import { timer, map } from 'rxjs';
 * import { fromGpioButton, lightWhile } from 'mqtt-iot-stream';
 * // The reference scenario: GPIO 4's LED is lit while the press is published.
 * fromGpioButton(17, { debounce: 300, backend: 'simulated' })
 *   .pipe(lightWhile(4, (press) => timer(50).pipe(map(() => press.at)), { backend: 'simulated' }))
 *   .subscribe((publishedAt) => console.log('published', publishedAt));
 * ```
 * @see {@link fromGpioButton}
 * @param pin - the LED's pin, BCM numbering (4 in the reference wiring)
 * @param work - the work for one value; the LED is lit until it completes or errors
 * @param options - backend, polarity, the write-queue options
 * @returns the operator
 */
export function lightWhile<T, R>(
  pin: number,
  work: (value: T, index: number) => ObservableInput<R>,
  options: LightWhileOptions<T> = {},
): OperatorFunction<T, R> {
  const check = optionChecks('lightWhile');
  checkPin(pin, check.operator);
  check.func('work', work, '(value, index) => ObservableInput');
  const queue = writeQueueSettings<T>('lightWhile', options, LIGHT_WHILE_DEFAULTS.concurrency);
  const activeLow = check.boolean('activeLow', options.activeLow ?? LIGHT_WHILE_DEFAULTS.activeLow);
  const onLevel: Level = activeLow ? 0 : 1;
  const offLevel: Level = activeLow ? 1 : 0;

  return (source) =>
    withGpioBackend(
      options.backend ?? LIGHT_WHILE_DEFAULTS.backend,
      (backend) =>
        new Observable<R>((destination) => {
          const led: OutputPin = backend.openOutput(pin, { initialLevel: offLevel });
          const running = new Set<Subscription>();
          let index = 0;

          const setLed = (level: Level): boolean => {
            try {
              led.write(level);
              return true;
            } catch (error) {
              writer.fail(error);
              return false;
            }
          };

          const writer = new BoundedWriter<T, R>(
            destination,
            {
              ...queue,
              order: 'completion',
              state: () =>
                `the LED on GPIO ${pin} is lit for ${running.size} running ${running.size === 1 ? 'work' : 'works'}`,
            },
            (value, slot) => {
              if (running.size === 0 && !setLed(onLevel)) return;
              let ended = false;
              let subscription: Subscription | undefined = undefined;
              // Off before the work's end is passed on, so the LED is dark when the
              // subscriber hears of it.
              const end = (): boolean => {
                ended = true;
                if (subscription !== undefined) running.delete(subscription);
                return running.size > 0 || setLed(offLevel);
              };
              subscription = defer(() => work(value, index++)).subscribe({
                next: (result) => slot.next(result),
                error: (error: unknown) => {
                  if (end()) writer.fail(error);
                },
                complete: () => {
                  if (end()) slot.done();
                },
              });
              if (!ended) running.add(subscription);
            },
          );
          writer.subscribe(source);

          return () => {
            writer.unsubscribe();
            const lit = running.size > 0;
            for (const subscription of running) subscription.unsubscribe();
            running.clear();
            if (lit) {
              try {
                led.write(offLevel);
              } catch {
                /* the pin is going away; nothing left to tell */
              }
            }
            led.release();
          };
        }),
      'lightWhile',
    );
}
