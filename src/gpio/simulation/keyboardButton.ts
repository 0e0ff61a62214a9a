/**
 * `keyboardButton`: the Enter key as the push button of a simulated GPIO backend,
 * for demos without hardware.
 *
 * @module
 */
import { checkPin } from '../backend.js';
import type { SimulatedGpio } from './simulatedGpio.js';

/** Options of {@link keyboardButton}. */
export interface KeyboardButtonOptions {
  /** Where key presses come from. Default `process.stdin`. */
  readonly input?: NodeJS.ReadableStream;
  /** How long each press holds the button down, in milliseconds. Default 100. */
  readonly holdMs?: number;
  /** Contact bounce to add to each press and release (see {@link SimulatedPressOptions}). */
  readonly bounceMicros?: readonly number[];
}

/**
 * Presses the simulated button on `pin` each time Enter is read from the input: a
 * press, then a release `holdMs` later (on the backend's clock). Returns the
 * function that stops listening: it removes its listener, pauses the input if this
 * driver started it flowing (so `process.stdin` no longer keeps the process alive),
 * cancels a pending release and releases the button if it is down.
 *
 * @example
 * ```ts
 * import { fromGpioButton, keyboardButton, sharedSimulatedGpio } from 'mqtt-iot-stream';
 * const stop = keyboardButton(sharedSimulatedGpio(), 17);
 * const presses = fromGpioButton(17, { backend: 'simulated', edge: 'falling' })
 *   .subscribe(() => console.log('pressed'));
 * // later: presses.unsubscribe(); stop();
 * ```
 * @see {@link SimulatedGpio}
 * @param gpio - the simulated backend to press on
 * @param pin - the button's pin
 * @param options - input stream, hold time, bounce
 * @returns the function that stops the driver
 */
export function keyboardButton(gpio: SimulatedGpio, pin: number, options: KeyboardButtonOptions = {}): () => void {
  checkPin(pin);
  const input = options.input ?? process.stdin;
  const holdMicros = (options.holdMs ?? 100) * 1000;
  const bounce = options.bounceMicros === undefined ? {} : { bounceMicros: options.bounceMicros };
  let cancelRelease: (() => void) | undefined;
  let previousWasCarriageReturn = false;

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
    }
  };

  const wasFlowing = (input as { readableFlowing?: boolean | null }).readableFlowing === true;
  input.on('data', onData);
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    input.removeListener('data', onData);
    if (!wasFlowing) input.pause();
    if (cancelRelease !== undefined) {
      cancelRelease();
      release();
    }
  };
}
