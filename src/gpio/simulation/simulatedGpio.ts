/**
 * A GPIO backend without hardware that behaves like pigpio for the same edge
 * sequence: pull resistors set the idle level, interrupts report edges of the chosen
 * direction, the glitch filter works on pigpio's 5 µs samples exactly as
 * `gpioGlitchFilter` does, and ticks are 32-bit microseconds that wrap around.
 *
 * @module
 */
import { optionChecks } from '../../internal/options.js';
import {
  checkGlitchFilter,
  checkPin,
  edgeMatches,
  type GpioBackend,
  type InputPin,
  type InputPinOptions,
  type Level,
  type LevelChange,
  type OutputPin,
  type OutputPinOptions,
  type Pull,
} from '../backend.js';
import { RealClock, type SimulationClock } from './simulationClock.js';

/** How a {@link SimulatedGpio} is built. */
export interface SimulatedGpioOptions {
  /**
   * The time source. Default: a {@link RealClock}. Tests pass a
   * {@link ManualClock} and advance it by hand.
   */
  readonly clock?: SimulationClock;
  /**
   * The tick at the clock's start, e.g. `2 ** 32 - 1000` to see the wrap-around
   * 1 ms in. Default 0.
   */
  readonly startTick?: number;
  /**
   * pigpio's sample period in microseconds (its `configureClock`: 1, 2, 4, 5, 8 or
   * 10; default 5). Only the glitch-filtered (alert) path samples, as in pigpio.
   */
  readonly sampleMicros?: number;
}

/** How the simulated button is pressed or released. */
export interface SimulatedPressOptions {
  /**
   * Contact bounce before the contact settles, as the durations in microseconds
   * between successive edges: `[200, 150]` means the line reaches the new level
   * now, goes back after 200 µs, and returns to the new level 150 µs later. Needs
   * an even number of entries so the line ends at the new level. Default: none.
   */
  readonly bounceMicros?: readonly number[];
}

/** One scheduled step of {@link SimulatedGpio.drive}. */
export interface DriveStep {
  /** Microseconds after the previous step (the first: after now). */
  readonly afterMicros: number;
  /** The level the line goes to. */
  readonly level: Level;
}

/** A write to a simulated output pin, as recorded. */
export interface OutputWrite {
  /** The level written. */
  readonly level: Level;
  /** The tick at which it was written. */
  readonly tick: number;
}

interface Line {
  level: Level;
  pull: Pull | undefined;
  driven: boolean; // the outside world has set the level: the pull no longer decides it
}

interface Watcher {
  readonly onChange: (change: LevelChange) => void;
  readonly onError: (error: Error) => void;
}

// pigpio's glitch filter state for one GPIO (names after alertGlitchFilter in pigpio.c).
interface GlitchFilter {
  readonly steadyMicros: number;
  reported: Level; // RBitV: the level last reported
  last: Level; // LBitV: the level of the last sample
  sampled: Level; // the level the last processed sample saw
  rawEdges: { at: number; level: Level }[]; // edges not yet seen by a sample
  cancelSample: (() => void) | undefined;
  sampleAt: number;
  cancelReport: (() => void) | undefined;
}

interface SimInput {
  readonly pin: number;
  readonly options: InputPinOptions;
  readonly watchers: Set<Watcher>;
  readonly filter: GlitchFilter | undefined;
  released: boolean;
}

interface SimOutput {
  readonly pin: number;
  level: Level;
  released: boolean;
}

/** How this backend's errors name it: the class the user builds it with. */
const SIMULATED = 'SimulatedGpio';

/**
 * The simulated GPIO backend. Drive it from a test (`press`, `release`, `drive`,
 * bounce bursts with microsecond timing) or from the keyboard
 * ({@link keyboardButton}); read back output pins (`outputLevel`, `outputHistory`)
 * and what is still open (`openInputs`, `openOutputs`, `watcherCount`, the clock's
 * `pendingTasks`) to check that teardown released everything.
 *
 * Behaviour, as pigpio for the same edges:
 * - opening an input sets the line's level from the pull (`up` → 1, `down` → 0)
 *   until the outside world (`press`, `setLevel`, …) has driven it;
 * - without a glitch filter, every edge of the chosen direction is reported at once
 *   with the level after it and the tick of the edge (pigpio's interrupts);
 * - with a glitch filter of `steady` µs, the line is sampled every `sampleMicros`
 *   and a level is reported only when a sample finds it unchanged for `steady` µs;
 *   the report carries that sample's tick, i.e. first edge + steady rounded up to
 *   the sample period (pigpio's alerts: "each (stable) edge will be timestamped
 *   steady microseconds after it was first detected"); a pulse shorter than a sample
 *   period can be missed entirely, as on the Pi;
 * - ticks are `(startTick + elapsed µs) mod 2^32`.
 *
 * @example
 * ```ts
 * import { ManualClock, SimulatedGpio, fromGpioButton } from 'mqtt-iot-stream';
 * const clock = new ManualClock();
 * const gpio = new SimulatedGpio({ clock });
 * const presses = fromGpioButton(17, { backend: gpio, pull: 'up', edge: 'falling', debounce: 300 })
 *   .subscribe((event) => console.log(event.pressed, event.tick)); // true 0, once
 * gpio.press(17, { bounceMicros: [300, 200] }); // chatter: 3 edges within 500 µs
 * clock.advance(100_000);
 * presses.unsubscribe();
 * ```
 * @see {@link "mqtt-iot-stream"!fromGpioButton}
 * @see {@link keyboardButton}
 */
export class SimulatedGpio implements GpioBackend {
  readonly name = 'simulated';
  /** The clock every tick and timer of this backend comes from. */
  readonly clock: SimulationClock;
  private readonly startTick: number;
  private readonly sampleMicros: number;
  private readonly lines = new Map<number, Line>();
  private readonly inputs = new Set<SimInput>();
  private readonly outputs = new Map<number, SimOutput>();
  private readonly history = new Map<number, OutputWrite[]>();
  private readonly openFailures = new Map<number, Error>();
  private readonly writeFailures = new Map<number, Error>();
  private readonly driveCancels = new Set<() => void>();

  constructor(options: SimulatedGpioOptions = {}) {
    this.clock = options.clock ?? new RealClock();
    this.startTick = options.startTick ?? 0;
    this.sampleMicros = optionChecks(SIMULATED).positiveInteger('sampleMicros', options.sampleMicros ?? 5);
  }

  /** The current tick: 32-bit microseconds, wrapping as pigpio's `getTick()`. */
  tick(): number {
    return this.tickAt(this.clock.elapsedMicros());
  }

  // ---- the GpioBackend interface --------------------------------------------------

  openInput(pin: number, options: InputPinOptions): InputPin {
    checkPin(pin, SIMULATED);
    this.throwInjected(pin);
    if (this.outputs.has(pin)) throw new Error(`${SIMULATED}: GPIO ${pin} is already open as an output`);
    for (const other of this.inputs) {
      if (other.pin === pin && !sameInputOptions(other.options, options)) {
        throw new Error(
          `${SIMULATED}: GPIO ${pin} is already open as an input with other options (${describe(other.options)})`,
        );
      }
    }
    const steady = checkGlitchFilter(options.glitchFilterMicros, SIMULATED);
    const line = this.line(pin);
    line.pull = options.pull;
    if (options.pull !== 'off' && !line.driven) line.level = options.pull === 'up' ? 1 : 0;
    const input: SimInput = {
      pin,
      options,
      watchers: new Set(),
      released: false,
      filter:
        steady === 0
          ? undefined
          : {
              steadyMicros: steady,
              reported: line.level,
              last: line.level,
              sampled: line.level,
              rawEdges: [],
              cancelSample: undefined,
              sampleAt: 0,
              cancelReport: undefined,
            },
    };
    this.inputs.add(input);
    return {
      pin,
      read: () => this.line(pin).level,
      tick: () => this.tick(),
      now: () => this.clock.now(),
      watch: (onChange, onError) => {
        if (input.released) throw new Error(`${SIMULATED}: GPIO ${pin} was released`);
        const watcher: Watcher = { onChange, onError };
        input.watchers.add(watcher);
        return () => {
          input.watchers.delete(watcher);
        };
      },
      release: () => this.releaseInput(input),
    };
  }

  openOutput(pin: number, options: OutputPinOptions = {}): OutputPin {
    checkPin(pin, SIMULATED);
    this.throwInjected(pin);
    if (this.outputs.has(pin)) throw new Error(`${SIMULATED}: GPIO ${pin} is already open as an output`);
    for (const input of this.inputs) {
      if (input.pin === pin) throw new Error(`${SIMULATED}: GPIO ${pin} is already open as an input`);
    }
    const output: SimOutput = { pin, level: options.initialLevel ?? 0, released: false };
    this.outputs.set(pin, output);
    this.record(pin, output.level);
    return {
      pin,
      write: (level) => {
        if (output.released) throw new Error(`${SIMULATED}: GPIO ${pin} was released`);
        const failure = this.writeFailures.get(pin);
        if (failure !== undefined) {
          this.writeFailures.delete(pin);
          throw failure;
        }
        output.level = level;
        this.record(pin, level);
      },
      release: () => {
        if (output.released) return;
        output.released = true;
        this.outputs.delete(pin);
      },
    };
  }

  // ---- the outside world: driving input lines ------------------------------------

  /** Sets the level of a line now, as an external signal would. */
  setLevel(pin: number, level: Level): void {
    checkPin(pin, SIMULATED);
    this.edge(pin, level, this.clock.elapsedMicros());
  }

  /**
   * Presses the button on `pin`: the line goes to its pressed level (0 with a
   * pull-up, 1 otherwise), with optional contact bounce.
   */
  press(pin: number, options: SimulatedPressOptions = {}): void {
    this.settle(pin, this.pressedLevel(pin), options);
  }

  /** Releases the button on `pin`: the line goes back to its idle level. */
  release(pin: number, options: SimulatedPressOptions = {}): void {
    this.settle(pin, this.pressedLevel(pin) === 0 ? 1 : 0, options);
  }

  /**
   * Schedules level changes on a line: each step happens `afterMicros` after the
   * previous one (the first after now; 0 means at once).
   */
  drive(pin: number, steps: readonly DriveStep[]): void {
    checkPin(pin, SIMULATED);
    const now = this.clock.elapsedMicros(); // read once: a real clock moves between reads
    let at = now;
    for (const step of steps) {
      if (!(step.afterMicros >= 0))
        throw new RangeError(`${SIMULATED}: afterMicros must be >= 0, got ${step.afterMicros}`);
      at += step.afterMicros;
      if (at === now) {
        this.edge(pin, step.level, at);
        continue;
      }
      const when = at;
      const cancel = this.clock.schedule(when, () => {
        this.driveCancels.delete(cancel);
        this.edge(pin, step.level, when);
      });
      this.driveCancels.add(cancel);
    }
  }

  /** Cancels every step scheduled by `drive`, `press` or `release` that has not happened. */
  cancelDrives(): void {
    for (const cancel of this.driveCancels) cancel();
    this.driveCancels.clear();
  }

  /** The current level of a line as the outside world drives it. */
  lineLevel(pin: number): Level {
    return this.line(pin).level;
  }

  // ---- failure injection -------------------------------------------------------

  /** Makes the next `openInput`/`openOutput` of `pin` throw `error`. */
  failNextOpen(pin: number, error: Error): void {
    this.openFailures.set(pin, error);
  }

  /** Makes the next `write` to output `pin` throw `error`. */
  failNextWrite(pin: number, error: Error): void {
    this.writeFailures.set(pin, error);
  }

  /** Reports `error` to everything watching `pin`, as a failing backend would. */
  failWatchers(pin: number, error: Error): void {
    for (const input of [...this.inputs]) {
      if (input.pin !== pin) continue;
      for (const watcher of [...input.watchers]) watcher.onError(error);
    }
  }

  // ---- inspection ----------------------------------------------------------------

  /** The level last written to an output pin, or `undefined` if it was never opened. */
  outputLevel(pin: number): Level | undefined {
    const writes = this.history.get(pin);
    return writes?.[writes.length - 1]?.level;
  }

  /** Every level written to an output pin since the backend was made, in order. */
  outputHistory(pin: number): readonly OutputWrite[] {
    return this.history.get(pin) ?? [];
  }

  /** The input pins currently open (one entry per open, in pin order). */
  openInputs(): number[] {
    return [...this.inputs].map((input) => input.pin).sort((a, b) => a - b);
  }

  /** The output pins currently open. */
  openOutputs(): number[] {
    return [...this.outputs.keys()].sort((a, b) => a - b);
  }

  /** The number of active watches, on one pin or on all. */
  watcherCount(pin?: number): number {
    let count = 0;
    for (const input of this.inputs) if (pin === undefined || input.pin === pin) count += input.watchers.size;
    return count;
  }

  // ---- internals -----------------------------------------------------------------

  private tickAt(elapsedMicros: number): number {
    return (this.startTick + Math.floor(elapsedMicros)) >>> 0;
  }

  private line(pin: number): Line {
    let line = this.lines.get(pin);
    if (line === undefined) {
      line = { level: 0, pull: undefined, driven: false };
      this.lines.set(pin, line);
    }
    return line;
  }

  private pressedLevel(pin: number): Level {
    // A button is wired against the pull: with a pull-up, pressing pulls the line low.
    // Before any input is opened the reference wiring (pull-up) is assumed.
    const pull = this.line(pin).pull ?? 'up';
    return pull === 'up' ? 0 : 1;
  }

  private settle(pin: number, level: Level, options: SimulatedPressOptions): void {
    const bounce = options.bounceMicros ?? [];
    if (bounce.length % 2 !== 0) {
      throw new RangeError(
        `${SIMULATED}: bounceMicros needs an even number of durations so the line ends at the new level, got ${bounce.length}`,
      );
    }
    const other: Level = level === 0 ? 1 : 0;
    const steps: DriveStep[] = [{ afterMicros: 0, level }];
    bounce.forEach((gap, index) => steps.push({ afterMicros: gap, level: index % 2 === 0 ? other : level }));
    this.drive(pin, steps);
  }

  private throwInjected(pin: number): void {
    const failure = this.openFailures.get(pin);
    if (failure !== undefined) {
      this.openFailures.delete(pin);
      throw failure;
    }
  }

  private record(pin: number, level: Level): void {
    let writes = this.history.get(pin);
    if (writes === undefined) {
      writes = [];
      this.history.set(pin, writes);
    }
    writes.push({ level, tick: this.tick() });
  }

  private edge(pin: number, level: Level, at: number): void {
    const line = this.line(pin);
    line.driven = true;
    if (line.level === level) return; // no change, no edge
    line.level = level;
    for (const input of [...this.inputs]) {
      if (input.pin !== pin || input.released) continue;
      if (input.filter === undefined) {
        // pigpio interrupt: reported at once with the level after the edge.
        if (edgeMatches(input.options.edge, level)) this.deliver(input, level, this.tickAt(at));
      } else {
        this.sampleLater(input, input.filter, level, at);
      }
    }
  }

  private sampleLater(input: SimInput, filter: GlitchFilter, level: Level, at: number): void {
    filter.rawEdges.push({ at, level });
    this.scheduleSample(input, filter);
  }

  private scheduleSample(input: SimInput, filter: GlitchFilter): void {
    const first = filter.rawEdges[0];
    if (filter.cancelSample !== undefined || first === undefined) return;
    // The first sample strictly after the edge sees it (samples on multiples of the period).
    filter.sampleAt = (Math.floor(first.at / this.sampleMicros) + 1) * this.sampleMicros;
    filter.cancelSample = this.clock.schedule(filter.sampleAt, () => this.sample(input, filter));
  }

  // One sample of the alert thread, then pigpio's alertGlitchFilter for it.
  private sample(input: SimInput, filter: GlitchFilter): void {
    const at = filter.sampleAt;
    filter.cancelSample = undefined;
    const seen = filter.rawEdges.filter((edge) => edge.at < at);
    filter.rawEdges = filter.rawEdges.filter((edge) => edge.at >= at);
    const latest = seen[seen.length - 1];
    if (latest !== undefined) filter.sampled = latest.level;
    this.scheduleSample(input, filter);
    const level = filter.sampled;
    if (level === filter.last) return;
    // Difference from the last sample: restart the steady timer.
    filter.last = level;
    filter.cancelReport?.();
    filter.cancelReport = undefined;
    if (level === filter.reported) return;
    const periods = Math.ceil(filter.steadyMicros / this.sampleMicros);
    const reportAt = at + periods * this.sampleMicros;
    filter.cancelReport = this.clock.schedule(reportAt, () => {
      filter.cancelReport = undefined;
      // pigpio checks the steady time on a sample, with that sample's level: a
      // change the same sample sees wins over the report.
      if (filter.cancelSample !== undefined && filter.sampleAt <= reportAt) {
        filter.cancelSample();
        this.sample(input, filter);
        if (filter.last !== level) return;
      }
      filter.reported = level;
      if (edgeMatches(input.options.edge, level)) this.deliver(input, level, this.tickAt(reportAt));
    });
  }

  private deliver(input: SimInput, level: Level, tick: number): void {
    const change: LevelChange = { level, tick, at: this.clock.now() };
    for (const watcher of [...input.watchers]) {
      if (input.watchers.has(watcher)) watcher.onChange(change);
    }
  }

  private releaseInput(input: SimInput): void {
    if (input.released) return;
    input.released = true;
    input.watchers.clear();
    input.filter?.cancelSample?.();
    input.filter?.cancelReport?.();
    this.inputs.delete(input);
  }
}

function sameInputOptions(a: InputPinOptions, b: InputPinOptions): boolean {
  return a.pull === b.pull && a.edge === b.edge && (a.glitchFilterMicros ?? 0) === (b.glitchFilterMicros ?? 0);
}

function describe(options: InputPinOptions): string {
  return `pull ${options.pull}, edge ${options.edge}, glitch filter ${options.glitchFilterMicros ?? 0} µs`;
}

let shared: SimulatedGpio | undefined;

/**
 * The process-wide simulated backend that `backend: 'simulated'` uses (real clock),
 * so a {@link keyboardButton} and a `fromGpioButton` can meet on it.
 */
export function sharedSimulatedGpio(): SimulatedGpio {
  shared ??= new SimulatedGpio();
  return shared;
}
