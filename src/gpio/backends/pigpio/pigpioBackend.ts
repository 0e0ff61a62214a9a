/**
 * The pigpio backend: the npm `pigpio` package (Raspberry Pi 1–4), an optional peer
 * dependency loaded with a dynamic import only when this backend is chosen.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
// Types only: the adapter is checked against pigpio's own declarations, while the
// package itself is loaded lazily and may be absent.
import type * as Pigpio from 'pigpio';
import {
  checkPin,
  edgeMatches,
  type GpioBackend,
  type InputPin,
  type InputPinOptions,
  type Level,
  type LevelChange,
  type OutputPin,
  type OutputPinOptions,
} from '../../backend.js';
import { GpioBackendUnavailableError } from '../../gpioBackendUnavailableError.js';
import { detectBoard, diagnosePigpioFailure, type BoardInfo } from './pigpioDiagnosis.js';

type PigpioModule = typeof Pigpio;
type PigpioGpio = InstanceType<PigpioModule['Gpio']>;

/** The pigpio backend, with pigpio's process-wide shutdown. */
export interface PigpioGpioBackend extends GpioBackend {
  /**
   * Calls `pigpio.terminate()`: stops the C library's threads and releases the
   * hardware. Call it once, when the program has released every pin and is about to
   * exit; pigpio initialises itself again if a pin is opened later.
   */
  terminate(): void;
}

/** @internal What the loader touches, replaceable in tests. */
export interface PigpioLoaderEnvironment {
  /** Imports pigpio; `warnings` is what it printed with console.warn while loading. */
  importPigpio(): Promise<{ module: unknown; warnings: string }>;
  readBoard(): BoardInfo;
  uid(): number | undefined;
  lockFilePresent(): boolean;
}

let firstImport: Promise<{ module: unknown; warnings: string }> | undefined;

const realEnvironment: PigpioLoaderEnvironment = {
  // Node evaluates pigpio once, so what it printed the first time is kept for
  // every later diagnosis.
  importPigpio: () => (firstImport ??= importCapturingWarnings(() => import('pigpio'))),
  readBoard: () => detectBoard(readText('/proc/device-tree/model'), readText('/proc/cpuinfo')),
  uid: () => process.getuid?.(),
  lockFilePresent: () => existsSync('/var/run/pigpio.pid'),
};

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

let loaded: Promise<PigpioGpioBackend> | undefined;

/**
 * Loads the `pigpio` package and initialises its C library, once per process.
 * Rejects with a {@link GpioBackendUnavailableError} that says why and what to do
 * when pigpio cannot run: not installed, its C library or native addon missing, not
 * root, the pigpiod daemon in the way, a Raspberry Pi 5 (unsupported: use `gpiod`),
 * or not a Raspberry Pi.
 *
 * pigpio's C library installs its own signal handlers when initialised: Ctrl+C ends
 * the program through pigpio ("sigHandler: Unhandled signal 2, terminating").
 *
 * @example
 * ```ts
 * import { fromGpioButton, loadPigpioBackend } from 'mqtt-iot-stream';
 * const pigpio = await loadPigpioBackend(); // on a Pi, as root
 * fromGpioButton(17, { backend: pigpio, debounce: 300 }).subscribe(console.log);
 * ```
 * @see {@link loadGpiodBackend} for the Raspberry Pi 5
 * @returns the backend
 */
export function loadPigpioBackend(): Promise<PigpioGpioBackend> {
  loaded ??= loadPigpioBackendWith(realEnvironment).catch((error: unknown) => {
    loaded = undefined; // let a later attempt (after fixing the cause) try again
    throw error;
  });
  return loaded;
}

/** @internal The loader over a given environment. */
export async function loadPigpioBackendWith(environment: PigpioLoaderEnvironment): Promise<PigpioGpioBackend> {
  const board = environment.readBoard();
  const fail = (facts: Omit<Parameters<typeof diagnosePigpioFailure>[0], 'board'>, cause?: unknown): never => {
    const diagnosis = diagnosePigpioFailure({
      ...facts,
      board,
      uid: environment.uid(),
      lockFilePresent: environment.lockFilePresent(),
    });
    throw new GpioBackendUnavailableError(diagnosis.message, { backend: 'pigpio', causes: diagnosis.causes, cause });
  };
  // pigpio would only print its "not a raspberry pi" banner on a Pi 5: say why at once.
  if (board.isRaspberryPi5) fail({});

  let imported: { module: unknown; warnings: string } | undefined;
  try {
    imported = await environment.importPigpio();
  } catch (error) {
    fail({ importError: error }, error);
  }
  const pigpio = unwrapDefault(imported!.module) as PigpioModule;
  try {
    pigpio.getTick();
  } catch (error) {
    fail({ nativeMissing: true, loadWarnings: imported!.warnings }, error);
  }
  try {
    pigpio.initialize();
  } catch (error) {
    fail({ initError: error }, error);
  }
  return new PigpioBackend(pigpio);
}

// pigpio catches a failure to load its native addon and reports it with a large
// console.warn box; keep that text (to name the cause) instead of printing it.
async function importCapturingWarnings(load: () => Promise<unknown>): Promise<{ module: unknown; warnings: string }> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(' '));
  };
  try {
    const module = await load();
    return { module, warnings: warnings.join('\n') };
  } finally {
    console.warn = warn;
  }
}

function unwrapDefault(module: unknown): unknown {
  // import() of a CommonJS package gives its exports as `default` (named exports
  // are detected heuristically); the CommonJS build's require gives them directly.
  const candidate = module as { default?: unknown; Gpio?: unknown } | null;
  if (
    candidate !== null &&
    typeof candidate === 'object' &&
    candidate.Gpio === undefined &&
    candidate.default !== undefined
  ) {
    return candidate.default;
  }
  return module;
}

/** How this backend's errors name it. */
const PIGPIO = 'pigpio backend';

interface SharedInput {
  readonly gpio: PigpioGpio;
  readonly options: InputPinOptions;
  readonly watchers: Set<Watcher>;
  readonly useAlerts: boolean;
  listening: boolean;
  opens: number;
}

interface Watcher {
  readonly onChange: (change: LevelChange) => void;
  readonly onError: (error: Error) => void;
  readonly onUnexpected: ((report: unknown, reason: string) => void) | undefined;
}

/**
 * One pigpio `Gpio` per pin, shared by every open of that pin: pigpio keeps one
 * interrupt handler per GPIO, so a second `enableInterrupt` would steal the first
 * one's events, and the first `disableInterrupt` would silence both.
 */
class PigpioBackend implements PigpioGpioBackend {
  readonly name = 'pigpio';
  private readonly inputs = new Map<number, SharedInput>();
  private readonly outputs = new Set<number>();

  constructor(private readonly pigpio: PigpioModule) {}

  terminate(): void {
    this.pigpio.terminate();
  }

  openInput(pin: number, options: InputPinOptions): InputPin {
    checkPin(pin, PIGPIO);
    if (this.outputs.has(pin)) throw new Error(`${PIGPIO}: GPIO ${pin} is already open as an output`);
    const { Gpio } = this.pigpio;
    let shared = this.inputs.get(pin);
    if (shared !== undefined && !sameOptions(shared.options, options)) {
      throw new Error(`${PIGPIO}: GPIO ${pin} is already open as an input with other options`);
    }
    if (shared === undefined) {
      const pullUpDown = options.pull === 'up' ? Gpio.PUD_UP : options.pull === 'down' ? Gpio.PUD_DOWN : Gpio.PUD_OFF;
      const gpio = new Gpio(pin, { mode: Gpio.INPUT, pullUpDown });
      const steady = options.glitchFilterMicros ?? 0;
      // pigpio's glitch filter acts on alerts only, not on interrupts.
      if (steady > 0) gpio.glitchFilter(steady);
      shared = { gpio, options, watchers: new Set(), useAlerts: steady > 0, listening: false, opens: 0 };
      this.inputs.set(pin, shared);
    }
    shared.opens++;
    const input = shared;
    let released = false;
    const own = new Set<Watcher>();
    return {
      pin,
      read: () => toLevel(input.gpio.digitalRead()),
      tick: () => this.pigpio.getTick(),
      now: () => new Date(),
      watch: (onChange, onError, onUnexpected) => {
        if (released) throw new Error(`${PIGPIO}: GPIO ${pin} was released`);
        const watcher: Watcher = { onChange, onError, onUnexpected };
        own.add(watcher);
        input.watchers.add(watcher);
        this.listen(input);
        return () => {
          own.delete(watcher);
          input.watchers.delete(watcher);
          this.listen(input);
        };
      },
      release: () => {
        if (released) return;
        released = true;
        for (const watcher of own) input.watchers.delete(watcher);
        own.clear();
        this.listen(input);
        if (--input.opens === 0) {
          if ((input.options.glitchFilterMicros ?? 0) > 0) input.gpio.glitchFilter(0);
          this.inputs.delete(pin);
        }
      },
    };
  }

  openOutput(pin: number, options: OutputPinOptions = {}): OutputPin {
    checkPin(pin, PIGPIO);
    if (this.outputs.has(pin)) throw new Error(`${PIGPIO}: GPIO ${pin} is already open as an output`);
    if (this.inputs.has(pin)) throw new Error(`${PIGPIO}: GPIO ${pin} is already open as an input`);
    const { Gpio } = this.pigpio;
    const gpio = new Gpio(pin, { mode: Gpio.OUTPUT });
    gpio.digitalWrite(options.initialLevel ?? 0);
    this.outputs.add(pin);
    let released = false;
    return {
      pin,
      write: (level: Level) => {
        if (released) throw new Error(`${PIGPIO}: GPIO ${pin} was released`);
        gpio.digitalWrite(level);
      },
      release: () => {
        if (released) return;
        released = true;
        this.outputs.delete(pin);
      },
    };
  }

  // Enables pigpio's callback while someone watches, disables it otherwise: an
  // enabled interrupt or alert keeps the Node.js process alive.
  private listen(input: SharedInput): void {
    const { Gpio } = this.pigpio;
    const wanted = input.watchers.size > 0;
    if (wanted === input.listening) return;
    input.listening = wanted;
    if (wanted) {
      if (input.useAlerts) {
        input.gpio.on('alert', (level, tick) => this.dispatch(input, level, tick));
        input.gpio.enableAlert();
      } else {
        const edge =
          input.options.edge === 'rising'
            ? Gpio.RISING_EDGE
            : input.options.edge === 'falling'
              ? Gpio.FALLING_EDGE
              : Gpio.EITHER_EDGE;
        input.gpio.on('interrupt', (level, tick) => this.dispatch(input, level, tick));
        input.gpio.enableInterrupt(edge);
      }
    } else if (input.useAlerts) {
      input.gpio.disableAlert();
      input.gpio.removeAllListeners('alert');
    } else {
      input.gpio.disableInterrupt();
      input.gpio.removeAllListeners('interrupt');
    }
  }

  private dispatch(input: SharedInput, level: number, tick: number): void {
    const watchers = [...input.watchers];
    if (level !== 0 && level !== 1) {
      for (const watcher of watchers)
        watcher.onUnexpected?.(
          { level, tick },
          `pigpio reported level ${level} (2 is an interrupt timeout, which this backend never sets)`,
        );
      return;
    }
    // Alerts report every change; the edge choice is applied here (interrupts apply it in the kernel).
    if (input.useAlerts && !edgeMatches(input.options.edge, level)) return;
    const change: LevelChange = { level, tick, at: new Date() };
    for (const watcher of watchers) {
      if (input.watchers.has(watcher)) watcher.onChange(change);
    }
  }
}

function sameOptions(a: InputPinOptions, b: InputPinOptions): boolean {
  return a.pull === b.pull && a.edge === b.edge && (a.glitchFilterMicros ?? 0) === (b.glitchFilterMicros ?? 0);
}

function toLevel(value: number): Level {
  return value === 0 ? 0 : 1;
}
