/**
 * Turning the `backend` option of the GPIO operators into a backend: instances and
 * the simulated backend at once (so tests stay synchronous), pigpio and gpiod through
 * a lazy import on subscribe.
 *
 * @module
 */
import { defer, Observable, switchMap } from 'rxjs';
import { optionChecks } from '../internal/options.js';
import type { GpioBackend } from './backend.js';
import { loadGpiodBackend } from './backends/gpiod/gpiodBackend.js';
import { loadPigpioBackend } from './backends/pigpio/pigpioBackend.js';
import { sharedSimulatedGpio } from './simulation/simulatedGpio.js';

/**
 * Which GPIO backend an operator uses: `'pigpio'` (Raspberry Pi 1–4, needs the
 * optional `pigpio` package, its C library and root), `'gpiod'` (any Linux board with
 * the libgpiod command-line tools, including the Raspberry Pi 5), `'simulated'` (the
 * process-wide {@link "mqtt-iot-stream/testing"!SimulatedGpio}, real clock), or a backend instance.
 */
export type GpioBackendChoice = 'pigpio' | 'gpiod' | 'simulated' | GpioBackend;

const BACKEND_NAMES = ['pigpio', 'gpiod', 'simulated'] as const;

/**
 * Runs `use` with the chosen backend. Instances and `'simulated'` are used
 * synchronously; `'pigpio'` and `'gpiod'` are loaded (dynamic import, tool
 * detection) when the result is subscribed, and a loading failure errors it. An
 * unknown choice throws an error naming `operator`, the operator it was given to.
 * @internal
 */
export function withGpioBackend<T>(
  choice: GpioBackendChoice,
  use: (backend: GpioBackend) => Observable<T>,
  operator: string,
): Observable<T> {
  if (typeof choice === 'object' && choice !== null) return use(choice);
  switch (optionChecks(operator).oneOf('backend', choice, BACKEND_NAMES, 'a GpioBackend')) {
    case 'simulated':
      return new Observable<T>((subscriber) => use(sharedSimulatedGpio()).subscribe(subscriber));
    case 'pigpio':
      return defer(() => loadPigpioBackend()).pipe(switchMap(use));
    case 'gpiod':
      return defer(() => loadGpiodBackend()).pipe(switchMap(use));
  }
}
