/**
 * `fromGpioButton`: a push button on a GPIO pin as an observable of press and
 * release events.
 *
 * @module
 */
import type { Duration } from '../duration.js';
import { optionChecks } from '../internal/options.js';
import { Observable } from 'rxjs';
import { reject, type RejectOptions } from '../reject.js';
import { checkGlitchFilter, checkPin, type Edge, type Level, type LevelChange, type Pull } from './backend.js';
import { withGpioBackend, type GpioBackendChoice } from './gpioBackendChoice.js';

/** The defaults of {@link fromGpioButton}'s options, which their TSDoc quotes (`activeLow` follows `pull`). */
const FROM_GPIO_BUTTON_DEFAULTS = {
  pull: 'up',
  edge: 'both',
  debounce: 0,
  emitInitial: false,
  backend: 'pigpio',
} as const;

const PULLS: readonly Pull[] = ['up', 'down', 'off'];
const EDGES: readonly Edge[] = ['rising', 'falling', 'both'];

/** Options of {@link fromGpioButton}. */
export interface GpioButtonOptions extends RejectOptions<unknown> {
  /**
   * The pin's internal resistor. Default `'up'`: the button connects the pin to
   * ground, as in the reference wiring (GPIO 17 with a pull-up).
   */
  readonly pull?: Pull;
  /**
   * Which level changes become events: `'falling'` (to 0), `'rising'` (to 1) or
   * `'both'`. Default `'both'`.
   */
  readonly edge?: Edge;
  /**
   * Bounce time (ms, or text like `'300 ms'`), with RPi.GPIO's `bouncetime` semantics: after an
   * accepted edge, every edge within the next `debounce` is ignored (an edge
   * exactly `debounce` later is still ignored; RPi.GPIO compares with `>`). Edges
   * are timed by their backend tick, not by when JavaScript saw them. Default 0
   * (none); the original publisher used 300. Note that with `edge: 'both'`, a release
   * sooner than `debounce` after the press is ignored too, as with RPi.GPIO.
   */
  readonly debounce?: Duration;
  /**
   * pigpio's glitch filter in microseconds (0 to 300000; default 0, off): a level is
   * reported only after it has been steady this long, timestamped at that moment
   * (first edge + steady). Unlike `debounce`, it also removes the release bounce
   * and short spikes. With pigpio it switches the pin from interrupts to alerts
   * (pigpio filters alerts only); the gpiod backend does not offer it.
   */
  readonly glitchFilterMicros?: number;
  /**
   * Whether level 0 means pressed. Default: `true` with a pull-up (the button pulls
   * the line low), `false` otherwise.
   */
  readonly activeLow?: boolean;
  /**
   * Emit the current state once on subscribe, before any edge (as Node-RED's GPIO
   * node's "read initial state"). Its `tick` is the backend's tick at that moment.
   * Default `false`.
   */
  readonly emitInitial?: boolean;
  /** The GPIO backend. Default `'pigpio'`. */
  readonly backend?: GpioBackendChoice;
}

/** One press or release of a {@link fromGpioButton} button. */
export interface GpioButtonEvent {
  /** The pin (BCM numbering). */
  readonly pin: number;
  /** Whether the button is down after this edge (from `level` and `activeLow`). */
  readonly pressed: boolean;
  /** The pin's level after the edge. */
  readonly level: Level;
  /** When the backend delivered the edge (wall clock). */
  readonly at: Date;
  /**
   * The backend's microsecond tick of the edge: unsigned 32-bit, wrapping every
   * 2^32 µs like pigpio's. Compare ticks with {@link tickDiff}.
   */
  readonly tick: number;
}

// Beyond half the tick range a tick difference is ambiguous, so the wall clock decides.
const HALF_TICK_RANGE_MILLIS = 2 ** 31 / 1000;

/**
 * Emits a {@link GpioButtonEvent} for each edge of a button on a GPIO pin, debounced.
 *
 * ```text
 * line (pull-up)  ‾‾‾‾|_|‾|___________|‾|_|‾‾‾‾‾‾‾   (press with chatter, release with chatter)
 * edge: 'both', debounce: 300
 * output          ----p-------------------r-------    p = {pressed: true, level: 0}
 *                     |<- 300 ms ->|                  r = {pressed: false, level: 1}
 * ```
 *
 * Subscribing opens the pin on the backend (loading pigpio or gpiod first when
 * chosen by name) with the given pull and edge; each edge the backend reports
 * passes the debounce gate (RPi.GPIO's bouncetime: ignored if within `debounce`
 * of the last accepted edge, by tick) and becomes an event. With `emitInitial` the
 * current level is emitted first. Unsubscribing stops the watch and releases the
 * pin, leaving no listener or timer behind. A backend that fails to load or open
 * the pin, or fails later, errors the observable with its error. A report the
 * backend cannot read is handed to `onReject` (kind `'gpio'`), or errors the
 * observable when `strict`. Bad options throw a `TypeError` or `RangeError` at once.
 *
 * @example
 * ```ts
 * import { fromGpioButton } from 'mqtt-iot-stream';
 * // The reference wiring: button on GPIO 17 to ground, internal pull-up.
 * fromGpioButton(17, { pull: 'up', edge: 'both', debounce: 300, backend: 'simulated' })
 *   .subscribe((event) => console.log(event.pressed ? 'pressed' : 'released', event.at));
 * ```
 * @see {@link lightWhile} to light an LED while each press is handled
 * @see {@link "mqtt-iot-stream/testing"!SimulatedGpio} to drive a button without hardware
 * @see {@link "mqtt-iot-stream/testing"!keyboardButton} to press it with the Enter key
 * @param pin - the pin, BCM numbering (e.g. 17)
 * @param options - pull, edge, debounce, glitch filter, polarity, backend
 * @returns the button's events
 */
export function fromGpioButton(pin: number, options: GpioButtonOptions = {}): Observable<GpioButtonEvent> {
  const check = optionChecks('fromGpioButton');
  checkPin(pin, check.operator);
  const pull = check.oneOf('pull', options.pull ?? FROM_GPIO_BUTTON_DEFAULTS.pull, PULLS);
  const edge = check.oneOf('edge', options.edge ?? FROM_GPIO_BUTTON_DEFAULTS.edge, EDGES);
  const debounce = check.duration('debounce', options.debounce ?? FROM_GPIO_BUTTON_DEFAULTS.debounce, { min: 0 });
  const glitchFilterMicros = checkGlitchFilter(options.glitchFilterMicros, check.operator);
  // With a pull-up the button pulls the line low: pressed is level 0.
  const activeLow = check.optionalBoolean('activeLow', options.activeLow) ?? pull === 'up';
  const emitInitial = check.boolean('emitInitial', options.emitInitial ?? FROM_GPIO_BUTTON_DEFAULTS.emitInitial);
  const debounceMicros = Math.round(debounce * 1000);
  const toEvent = (level: Level, tick: number, at: Date): GpioButtonEvent => ({
    pin,
    pressed: activeLow ? level === 0 : level === 1,
    level,
    at,
    tick,
  });

  return withGpioBackend(
    options.backend ?? FROM_GPIO_BUTTON_DEFAULTS.backend,
    (backend) =>
      new Observable<GpioButtonEvent>((subscriber) => {
        const input = backend.openInput(pin, { pull, edge, glitchFilterMicros });
        let stopWatching: (() => void) | undefined;
        // Registered before anything is emitted, so a synchronous unsubscribe downstream
        // (take(1) on the initial state) still releases the pin.
        subscriber.add(() => {
          stopWatching?.();
          stopWatching = undefined;
          input.release();
        });

        let lastAccepted: { tick: number; atMillis: number } | undefined;
        const accept = (change: LevelChange): boolean => {
          if (debounceMicros === 0 || lastAccepted === undefined) return true;
          if (change.at.getTime() - lastAccepted.atMillis >= HALF_TICK_RANGE_MILLIS) return true;
          return (change.tick - lastAccepted.tick) >>> 0 > debounceMicros;
        };

        // Read before watching: a backend that watches by holding the line (gpiod v1)
        // cannot read it while it does.
        const initial = emitInitial ? toEvent(input.read(), input.tick(), input.now()) : undefined;
        stopWatching = input.watch(
          (change) => {
            if (subscriber.closed || !accept(change)) return;
            lastAccepted = { tick: change.tick, atMillis: change.at.getTime() };
            subscriber.next(toEvent(change.level, change.tick, change.at));
          },
          (error) => subscriber.error(error),
          (report, reason) => {
            try {
              reject(options, {
                operator: 'fromGpioButton',
                kind: 'gpio',
                reason: `GPIO ${pin} (${backend.name}): ${reason}`,
                input: report,
              });
            } catch (error) {
              subscriber.error(error);
            }
          },
        );
        if (initial !== undefined && !subscriber.closed) subscriber.next(initial);
      }),
    'fromGpioButton',
  );
}
