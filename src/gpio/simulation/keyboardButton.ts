/**
 * `keyboardButton`: the Enter key as the push button of a simulated GPIO backend,
 * for demos without hardware.
 *
 * @module
 */
import { Observable } from 'rxjs';
import type { Duration } from '../../duration.js';
import { optionChecks } from '../../internal/options.js';
import { checkPin } from '../backend.js';
import type { SimulatedGpio } from './simulatedGpio.js';

/** The defaults of {@link keyboardButton}'s options, which their TSDoc quotes. */
const KEYBOARD_BUTTON_DEFAULTS = { hold: 100 } as const;

/** Options of {@link keyboardButton}. */
export interface KeyboardButtonOptions {
  /** Where key presses come from. Default `process.stdin`. */
  readonly input?: NodeJS.ReadableStream;
  /** How long each press holds the button down (ms, or text like `'100 ms'`). Default 100 ms. */
  readonly hold?: Duration;
  /** Contact bounce to add to each press and release (see {@link SimulatedPressOptions}). */
  readonly bounceMicros?: readonly number[];
}

/**
 * Presses the simulated button on `pin` each time Enter is read from the input: a
 * press, then a release `hold` later (on the backend's clock). A creation function
 * like {@link "mqtt-iot-stream"!fromGpioButton}: it listens from subscription and
 * emits the number of presses so far at each press (an Enter while the button is
 * still held does nothing). Unsubscribing removes its listener, pauses the input if
 * this driver started it flowing (so `process.stdin` no longer keeps the process
 * alive), cancels a pending release and releases the button if it is down. It
 * completes when the input ends.
 *
 * @example
 * ```ts
 * import { fromGpioButton } from 'mqtt-iot-stream';
 * import { keyboardButton, sharedSimulatedGpio } from 'mqtt-iot-stream/testing';
 * const keys = keyboardButton(sharedSimulatedGpio(), 17).subscribe();
 * const presses = fromGpioButton(17, { backend: 'simulated', edge: 'falling' })
 *   .subscribe(() => console.log('pressed'));
 * // later: presses.unsubscribe(); keys.unsubscribe();
 * ```
 * @see {@link SimulatedGpio}
 * @param gpio - the simulated backend to press on
 * @param pin - the button's pin
 * @param options - input stream, hold time, bounce
 * @returns the presses, counted from 1
 */
export function keyboardButton(
  gpio: SimulatedGpio,
  pin: number,
  options: KeyboardButtonOptions = {},
): Observable<number> {
  checkPin(pin, 'keyboardButton');
  const input = options.input ?? process.stdin;
  const holdMicros = Math.round(
    optionChecks('keyboardButton').duration('hold', options.hold ?? KEYBOARD_BUTTON_DEFAULTS.hold, { min: 0 }) * 1000,
  );
  const bounce = options.bounceMicros === undefined ? {} : { bounceMicros: options.bounceMicros };

  return new Observable<number>((subscriber) => {
    let cancelRelease: (() => void) | undefined;
    let previousWasCarriageReturn = false;
    let presses = 0;

    const release = (): void => {
      cancelRelease = undefined;
      gpio.release(pin, bounce);
    };

    const onData = (chunk: string | Buffer): void => {
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      for (const character of text) {
        // "\n" (cooked terminal, pipes), "\r" (raw terminal), "\r\n" (one Enter).
        const enter = character === '\r' || (character === '\n' && !previousWasCarriageReturn);
        previousWasCarriageReturn = character === '\r';
        if (!enter) continue;
        if (cancelRelease !== undefined) continue; // still held: Enter again does nothing
        gpio.press(pin, bounce);
        cancelRelease = gpio.clock.schedule(gpio.clock.elapsedMicros() + holdMicros, release);
        subscriber.next(++presses);
      }
    };
    const onEnd = (): void => subscriber.complete();

    const wasFlowing = (input as { readableFlowing?: boolean | null }).readableFlowing === true;
    input.on('data', onData);
    input.once('end', onEnd);
    return () => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      if (!wasFlowing) input.pause();
      if (cancelRelease !== undefined) {
        cancelRelease();
        release();
      }
    };
  });
}
