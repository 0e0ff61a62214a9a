/**
 * The small interface every GPIO backend implements: open an input pin and watch
 * its level changes, open an output pin and write it, release both. The pigpio,
 * gpiod and simulated backends sit behind it, so `fromGpioButton` and `lightWhile`
 * do not know which one they drive.
 *
 * @module
 */
import { optionChecks } from '../internal/options.js';

/** A logic level: 0 (low, 0 V) or 1 (high, 3.3 V). */
export type Level = 0 | 1;

/** The pin's internal resistor: pull-up, pull-down, or none (an external resistor). */
export type Pull = 'up' | 'down' | 'off';

/** Which level changes are reported: to 1 (`rising`), to 0 (`falling`), or `both`. */
export type Edge = 'rising' | 'falling' | 'both';

/** How an input pin is configured when opened. */
export interface InputPinOptions {
  /** The internal resistor. */
  readonly pull: Pull;
  /** The level changes to report. */
  readonly edge: Edge;
  /**
   * pigpio's glitch filter, in microseconds (0 or absent: none). A level change is
   * reported only once the new level has been steady for this long, and it is
   * timestamped when that became true (the first edge plus the steady time), as
   * `gpioGlitchFilter` does. Backends that cannot filter throw when asked to.
   */
  readonly glitchFilterMicros?: number;
}

/** One reported level change of an input pin. */
export interface LevelChange {
  /** The level after the change. */
  readonly level: Level;
  /**
   * The time of the change in microseconds as an unsigned 32-bit number that wraps
   * around every 2^32 µs (about 71.6 minutes), like pigpio's tick. Subtract ticks
   * with {@link tickDiff}.
   */
  readonly tick: number;
  /** The wall-clock time at which the backend delivered the change. */
  readonly at: Date;
}

/** An input pin opened by a backend. */
export interface InputPin {
  /** The pin number (BCM numbering). */
  readonly pin: number;
  /** Reads the current level (unfiltered, as pigpio's `digitalRead`). */
  read(): Level;
  /** The backend's current tick (same clock as {@link LevelChange.tick}). */
  tick(): number;
  /** The backend's current wall-clock time. */
  now(): Date;
  /**
   * Starts delivering level changes; returns the function that stops them.
   * `onError` receives failures that happen after opening (a monitor process dying,
   * a hardware error); `onUnexpected` receives a report the backend could not read
   * (e.g. an unparseable line from `gpiomon`), with the reason, and the watch goes on.
   */
  watch(
    onChange: (change: LevelChange) => void,
    onError: (error: Error) => void,
    onUnexpected?: (report: unknown, reason: string) => void,
  ): () => void;
  /** Stops every watch and gives the pin back. Idempotent. */
  release(): void;
}

/** How an output pin is configured when opened. */
export interface OutputPinOptions {
  /** The level driven as soon as the pin is opened. Default 0. */
  readonly initialLevel?: Level;
}

/** An output pin opened by a backend. */
export interface OutputPin {
  /** The pin number (BCM numbering). */
  readonly pin: number;
  /** Drives the pin to a level. */
  write(level: Level): void;
  /** Gives the pin back (leaving it as last written). Idempotent. */
  release(): void;
}

/**
 * A source of GPIO pins. Implemented by the pigpio, gpiod and simulated backends;
 * implement it yourself to plug in another library.
 */
export interface GpioBackend {
  /** A short name for messages: `pigpio`, `gpiod`, `simulated`. */
  readonly name: string;
  /** Opens an input pin. Throws when the pin cannot be opened. */
  openInput(pin: number, options: InputPinOptions): InputPin;
  /** Opens an output pin. Throws when the pin cannot be opened. */
  openOutput(pin: number, options?: OutputPinOptions): OutputPin;
}

/**
 * Microseconds from `startTick` to `endTick`, correct across one wrap-around of the
 * 32-bit tick (as pigpio's `tickDiff`). The result is in [-2^31, 2^31).
 *
 * @example
 * ```ts
 * import { tickDiff } from 'mqtt-iot-stream';
 * tickDiff(0xffffffff, 1); // 2
 * ```
 * @param startTick - the earlier tick
 * @param endTick - the later tick
 * @returns the elapsed microseconds
 */
export function tickDiff(startTick: number, endTick: number): number {
  return ((endTick >> 0) - (startTick >> 0)) | 0;
}

/**
 * Checks a BCM pin number; throws an error naming `operator` (the operator or
 * backend the pin was given to, e.g. `'lightWhile'`, `'pigpio backend'`) and the bad value.
 * @internal
 */
export function checkPin(pin: number, operator: string): void {
  optionChecks(operator).integer('pin', pin, { min: 0, max: 53, noun: 'a BCM GPIO number' });
}

/**
 * Checks {@link InputPinOptions.glitchFilterMicros} (absent is 0); throws an error
 * naming `operator` (the operator or backend it was given to) and the bad value.
 * @internal
 */
export function checkGlitchFilter(glitchFilterMicros: number | undefined, operator: string): number {
  return optionChecks(operator).integer('glitchFilterMicros', glitchFilterMicros ?? 0, {
    min: 0,
    max: 300_000,
    note: "pigpio's limit",
  });
}

/** Whether a level change matches the edge choice. @internal */
export function edgeMatches(edge: Edge, level: Level): boolean {
  return edge === 'both' || (edge === 'rising') === (level === 1);
}
