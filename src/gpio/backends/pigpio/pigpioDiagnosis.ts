/**
 * Why pigpio cannot run here, and what to do about it: pure functions over the
 * facts a loader collects (the import error, what pigpio printed, the board model,
 * the user id), so every message can be tested without a Pi.
 *
 * @module
 */

/** What a board looks like from `/proc/device-tree/model` and `/proc/cpuinfo`. */
export interface BoardInfo {
  /** The model string, e.g. `Raspberry Pi 4 Model B Rev 1.4`, when one was found. */
  readonly model: string | undefined;
  /** Whether the board is a Raspberry Pi of any kind. */
  readonly isRaspberryPi: boolean;
  /** Whether it is a Raspberry Pi 5 family board (BCM2712: Pi 5, Pi 500, CM5), which pigpio does not support. */
  readonly isRaspberryPi5: boolean;
}

/**
 * Reads the board from the text of `/proc/device-tree/model` and `/proc/cpuinfo`
 * (either may be missing). A Pi 5 is recognised by its model name or by the
 * processor field of a new-style revision code (4 = BCM2712, e.g. `c04170`,
 * `d04170`).
 *
 * @example
 * ```ts
 * import { detectBoard } from 'mqtt-iot-stream';
 * detectBoard('Raspberry Pi 5 Model B Rev 1.0\0', undefined).isRaspberryPi5; // true
 * ```
 * @param deviceTreeModel - the content of /proc/device-tree/model (NUL-terminated on a Pi)
 * @param cpuinfo - the content of /proc/cpuinfo
 * @returns what the board is
 */
export function detectBoard(deviceTreeModel: string | undefined, cpuinfo: string | undefined): BoardInfo {
  const cpuModel = /^Model\s*:\s*(.+)$/m.exec(cpuinfo ?? '')?.[1];
  const model = cleanModel(deviceTreeModel) ?? cleanModel(cpuModel);
  const revisionText = /^Revision\s*:\s*([0-9a-fA-F]+)\s*$/m.exec(cpuinfo ?? '')?.[1];
  const revision = revisionText === undefined ? undefined : Number.parseInt(revisionText, 16);
  // New-style revision codes (bit 23 set) carry the processor in bits 12-15: 4 is BCM2712.
  const newStyle = revision !== undefined && (revision & (1 << 23)) !== 0;
  const bcm2712 = newStyle && ((revision >> 12) & 0xf) === 4;
  const namedPi = model !== undefined && /raspberry pi/i.test(model);
  const namedPi5 = model !== undefined && /raspberry pi (5|500)\b|compute module 5\b/i.test(model);
  return {
    model,
    isRaspberryPi: namedPi || newStyle,
    isRaspberryPi5: namedPi5 || bcm2712,
  };
}

function cleanModel(text: string | undefined): string | undefined {
  const cleaned = text?.replace(/\0/g, '').trim();
  return cleaned === undefined || cleaned === '' ? undefined : cleaned;
}

/** One reason pigpio cannot be used. */
export type PigpioFailureCause =
  | 'raspberry-pi-5' // pigpio does not support the Pi 5's RP1 GPIO
  | 'not-installed' // the npm package is missing
  | 'c-library-missing' // libpigpio.so cannot be loaded by the addon
  | 'native-addon-missing' // the addon was not built (or built for another Node.js)
  | 'not-root' // gpioInitialise needs root (/dev/mem)
  | 'daemon-running' // pigpiod holds /var/run/pigpio.pid
  | 'not-a-raspberry-pi' // pigpio only runs on a Pi
  | 'unknown';

/** What a pigpio loader saw while trying. */
export interface PigpioLoadFacts {
  /** The error of `import('pigpio')`, if it threw. */
  readonly importError?: unknown;
  /**
   * What pigpio printed while loading. pigpio catches a failure to load its native
   * addon, prints it with `console.warn` and exports functions that then throw.
   */
  readonly loadWarnings?: string;
  /** Whether the native addon turned out to be missing (its functions are absent). */
  readonly nativeMissing?: boolean;
  /** The error of `pigpio.initialize()` (the C library's `gpioInitialise`), if it threw. */
  readonly initError?: unknown;
  /** The board. */
  readonly board: BoardInfo;
  /** The effective user id (`process.getuid()`), when known. */
  readonly uid?: number;
  /** Whether /var/run/pigpio.pid exists (a running pigpiod, or a stale lock). */
  readonly lockFilePresent?: boolean;
}

/** The diagnosis of a pigpio load failure. */
export interface PigpioDiagnosis {
  /** Every cause found, the one to fix first first. */
  readonly causes: readonly PigpioFailureCause[];
  /** A message naming each cause and what to do about it. */
  readonly message: string;
}

const INSTALL_HINT =
  'on the Pi, install the C library (`sudo apt install pigpio`), then the package (`npm install pigpio`)';

/**
 * Explains why pigpio could not be loaded or initialised, from the facts a loader
 * collected. The message names each cause and its fix: not installed, the C library
 * missing, the native addon not built, not root, the pigpiod daemon holding the
 * lock, a Raspberry Pi 5 (unsupported: use the `gpiod` backend), or not a Pi at all.
 *
 * @example
 * ```ts
 * import { detectBoard, diagnosePigpioFailure } from 'mqtt-iot-stream';
 * const board = detectBoard('Raspberry Pi 4 Model B Rev 1.4', undefined);
 * diagnosePigpioFailure({ board, initError: new Error('pigpio error -1 in gpioInitialise'), uid: 1000 }).causes;
 * // ['not-root']
 * ```
 * @param facts - what the loader saw
 * @returns the causes and a message
 */
export function diagnosePigpioFailure(facts: PigpioLoadFacts): PigpioDiagnosis {
  const causes: PigpioFailureCause[] = [];
  const details: string[] = [];
  const add = (cause: PigpioFailureCause, detail: string): void => {
    if (causes.includes(cause)) return;
    causes.push(cause);
    details.push(detail);
  };
  const { board } = facts;
  if (board.isRaspberryPi5) {
    add(
      'raspberry-pi-5',
      `this is a ${board.model ?? 'Raspberry Pi 5'}, and pigpio does not support the Raspberry Pi 5: use backend 'gpiod' instead (the libgpiod tools: \`sudo apt install gpiod\`)`,
    );
  }
  if (facts.importError !== undefined) {
    const text = errorText(facts.importError);
    if (/ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND|Cannot find (package|module) ['"]?pigpio/.test(text)) {
      add('not-installed', `the optional package 'pigpio' is not installed: ${INSTALL_HINT}`);
    } else if (/libpigpio\.so/.test(text)) {
      add(
        'c-library-missing',
        'the pigpio C library (libpigpio.so) cannot be loaded: install it with `sudo apt install pigpio`, then `npm rebuild pigpio`',
      );
    } else {
      add('unknown', `import('pigpio') failed: ${firstLine(text)}`);
    }
  } else if (facts.nativeMissing || (facts.loadWarnings ?? '') !== '') {
    const log = facts.loadWarnings ?? '';
    if (/libpigpio\.so/.test(log)) {
      add(
        'c-library-missing',
        "pigpio's native addon cannot load the pigpio C library (libpigpio.so): install it with `sudo apt install pigpio`, then `npm rebuild pigpio`",
      );
    } else {
      const why = /Could not locate the bindings file/.test(log)
        ? 'was never built (npm installed it without running its build, or the build failed)'
        : /NODE_MODULE_VERSION|compiled against a different Node\.js/.test(log)
          ? 'was built for another Node.js version'
          : /did not self-register/.test(log)
            ? 'did not register (usually a build made before the C library was installed)'
            : 'cannot be loaded';
      add(
        'native-addon-missing',
        `pigpio's native addon ${why}: it builds only on a Raspberry Pi with the C library present, so run \`sudo apt install pigpio\` and then \`npm rebuild pigpio\` on the Pi`,
      );
    }
  }
  if (facts.initError !== undefined) {
    if (facts.uid !== undefined && facts.uid !== 0) {
      add(
        'not-root',
        `pigpio needs root to reach the GPIO registers (/dev/mem), and this process runs as uid ${facts.uid}: start it with sudo (e.g. \`sudo node app.js\`)`,
      );
    }
    if (facts.lockFilePresent) {
      add(
        'daemon-running',
        'the lock file /var/run/pigpio.pid exists, so the pigpiod daemon (or a crashed pigpio program) owns the GPIO: stop it with `sudo systemctl stop pigpiod` (or remove the stale file)',
      );
    }
  }
  if (!board.isRaspberryPi && !board.isRaspberryPi5) {
    add(
      'not-a-raspberry-pi',
      "this machine does not look like a Raspberry Pi (no Raspberry Pi model in /proc/device-tree/model or /proc/cpuinfo), and pigpio runs only on one: use backend 'simulated' to run pipelines elsewhere",
    );
  }
  if (facts.initError !== undefined && causes.length === 0) {
    add(
      'unknown',
      `pigpio could not initialise: ${firstLine(errorText(facts.initError))} (see the pigpio C library's message above)`,
    );
  }
  if (causes.length === 0) add('unknown', 'pigpio failed for a reason not recognised');
  const message =
    causes.length === 1
      ? `The pigpio GPIO backend cannot be used: ${details[0]}.`
      : `The pigpio GPIO backend cannot be used:\n${details.map((detail, index) => `  ${index + 1}. ${detail}`).join('\n')}`;
  return { causes, message };
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === 'string' ? code + ': ' : ''}${error.message}`;
  }
  return String(error);
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}
