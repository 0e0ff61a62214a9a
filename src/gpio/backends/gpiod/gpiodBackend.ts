/**
 * The gpiod backend: libgpiod's command-line tools (`gpiomon`, `gpioget`,
 * `gpioset`, `gpiofind`) as child processes. It needs no native addon and no root
 * (membership of the `gpio` group is enough on Raspberry Pi OS), and it is the way
 * to use a Raspberry Pi 5, which pigpio does not support.
 *
 * @module
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import {
  checkPin,
  type GpioBackend,
  type InputPin,
  type InputPinOptions,
  type Level,
  type OutputPin,
  type OutputPinOptions,
  type Pull,
} from '../../backend.js';
import { GpioBackendUnavailableError } from '../../gpioBackendUnavailableError.js';
import { nanosToTick, parseGpiomonLine } from './gpiomonOutput.js';

/** Options of {@link loadGpiodBackend}. */
export interface GpiodBackendOptions {
  /**
   * The GPIO chip, e.g. `gpiochip0` (or `gpiochip4` on a Raspberry Pi 5 with a kernel
   * older than 6.6.45). Default: find each pin by its line name `GPIO<pin>`, which
   * works on every Raspberry Pi without knowing the chip.
   */
  readonly chip?: string;
  /** Where the tools are: a directory prefix such as `/usr/bin/`. Default: found on PATH. */
  readonly toolPrefix?: string;
}

/** The gpiod backend. */
export interface GpiodGpioBackend extends GpioBackend {
  /** The libgpiod version of the tools, e.g. `1.6.3`. */
  readonly libgpiodVersion: string;
  /** How many tool processes (gpiomon, gpioset) this backend is running now. */
  readonly runningProcesses: number;
}

/**
 * Checks that the libgpiod tools are installed and that there is a GPIO chip, then
 * returns the backend. Rejects with a {@link GpioBackendUnavailableError} naming the
 * cause (`not-installed`: `sudo apt install gpiod`; `no-gpio-chip`: no
 * /dev/gpiochip* here).
 *
 * How the tools are used, for libgpiod v1 and v2 alike:
 * - an input pin is watched by one `gpiomon` process per watch, with the pull as
 *   its bias and the edge choice as its edge flags; each output line becomes a level
 *   change whose tick is the kernel's event timestamp in microseconds (mod 2^32),
 *   so debouncing uses the time of the edge, not of its delivery;
 * - `read()` runs `gpioget` (blocking for a few milliseconds); on v1 it fails while a
 *   `gpiomon` holds the line, so `fromGpioButton` reads the initial state first;
 * - an output pin is held by a `gpioset` process; each write of a new level replaces
 *   that process, so the line is briefly released between writes (fine for an LED,
 *   not for a protocol). A failing `gpioset` is reported by the next write;
 * - `glitchFilterMicros` becomes v2's `--debounce-period` (the kernel's debouncer,
 *   close to but not verified identical to pigpio's filter); v1 has none and refuses.
 *
 * Untested without hardware: edge delivery and timing from a real chip, gpioset
 * holding a real line. The output parser, version detection, argument building and
 * the processes' error path (the real `gpiomon` failing for lack of a chip) are
 * tested here.
 *
 * @example
 * ```ts
 * import { fromGpioButton, loadGpiodBackend } from 'mqtt-iot-stream';
 * const gpiod = await loadGpiodBackend(); // Raspberry Pi 5: sudo apt install gpiod
 * fromGpioButton(17, { backend: gpiod, pull: 'up', debounce: 300 }).subscribe(console.log);
 * ```
 * @see {@link loadPigpioBackend} for Raspberry Pi 1–4
 * @param options - the chip, the tools' location
 * @returns the backend
 */
export async function loadGpiodBackend(options: GpiodBackendOptions = {}): Promise<GpiodGpioBackend> {
  const prefix = options.toolPrefix ?? '';
  const version = await new Promise<string>((resolve, reject) => {
    execFile(`${prefix}gpiomon`, ['--version'], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(
          new GpioBackendUnavailableError(
            'The gpiod GPIO backend cannot be used: the libgpiod tools are not installed (no gpiomon on PATH): install them with `sudo apt install gpiod`.',
            { backend: 'gpiod', causes: ['not-installed'], cause: error },
          ),
        );
        return;
      }
      const found = parseLibgpiodVersion(`${stdout}\n${stderr}`);
      if (found === undefined) {
        reject(
          new GpioBackendUnavailableError(
            `The gpiod GPIO backend cannot be used: \`gpiomon --version\` did not print a libgpiod version (${error?.message ?? stdout.slice(0, 80)}).`,
            { backend: 'gpiod', causes: ['unknown'], cause: error ?? undefined },
          ),
        );
        return;
      }
      resolve(found);
    });
  });
  const chips = listGpioChips();
  if (chips.length === 0) {
    throw new GpioBackendUnavailableError(
      'The gpiod GPIO backend cannot be used: this machine has no GPIO character device (/dev/gpiochip*): run it on the board itself (in a container, pass the device through).',
      { backend: 'gpiod', causes: ['no-gpio-chip'] },
    );
  }
  return createGpiodBackend(version, options);
}

/** Reads `gpiomon --version` output (`gpiomon (libgpiod) v1.6.3`). @internal */
export function parseLibgpiodVersion(text: string): string | undefined {
  return /\(libgpiod\)\s+v?(\d+\.\d+(?:\.\d+)?\S*)/.exec(text)?.[1];
}

function listGpioChips(): string[] {
  try {
    return readdirSync('/dev').filter((name) => /^gpiochip\d+$/.test(name));
  } catch {
    return [];
  }
}

/** How this backend's errors name it. */
const GPIOD = 'gpiod backend';

/** Where a line is: by chip and offset, or (v2) by name. @internal */
export type GpiodLine = { readonly chip: string; readonly offset: number } | { readonly name: string };

/** The arguments of `gpiomon` for one line. @internal */
export function gpiomonArguments(major: number, line: GpiodLine, options: InputPinOptions): string[] {
  const steady = options.glitchFilterMicros ?? 0;
  if (major < 2) {
    if ('name' in line)
      throw new Error(`${GPIOD}: libgpiod v1 needs a chip and offset (resolve the name with gpiofind)`);
    if (steady > 0) throw new Error(`${GPIOD}: libgpiod v1 has no glitch filter: use debounce, or libgpiod v2`);
    const edge = options.edge === 'rising' ? ['--rising-edge'] : options.edge === 'falling' ? ['--falling-edge'] : [];
    // -b: line-buffered stdout, or events would wait in a pipe buffer.
    return ['--line-buffered', `--bias=${v1Bias(options.pull)}`, ...edge, line.chip, String(line.offset)];
  }
  const args = ['--bias', v2Bias(options.pull), '--edges', options.edge];
  if (steady > 0) args.push('--debounce-period', `${steady}us`);
  return 'name' in line ? [...args, line.name] : [...args, '--chip', line.chip, String(line.offset)];
}

/** The arguments of `gpioget` for one line. @internal */
export function gpiogetArguments(major: number, line: GpiodLine, pull: Pull): string[] {
  if (major < 2) {
    if ('name' in line) throw new Error(`${GPIOD}: libgpiod v1 needs a chip and offset`);
    return [`--bias=${v1Bias(pull)}`, line.chip, String(line.offset)];
  }
  return 'name' in line
    ? ['--bias', v2Bias(pull), line.name]
    : ['--bias', v2Bias(pull), '--chip', line.chip, String(line.offset)];
}

/** The arguments of `gpioset` holding one line at a level. @internal */
export function gpiosetArguments(major: number, line: GpiodLine, level: Level): string[] {
  if (major < 2) {
    if ('name' in line) throw new Error(`${GPIOD}: libgpiod v1 needs a chip and offset`);
    // --mode=signal: keep the line requested (and driven) until we end the process.
    return ['--mode=signal', line.chip, `${line.offset}=${level}`];
  }
  // v2 holds the line until killed by default.
  return 'name' in line ? [`${line.name}=${level}`] : ['--chip', line.chip, `${line.offset}=${level}`];
}

/** Reads `gpioget` output: `1` (v1, v2 --numeric) or `"GPIO17"=active` (v2). @internal */
export function parseGpiogetOutput(text: string): Level | undefined {
  const trimmed = text.trim();
  if (trimmed === '0' || trimmed === '1') return trimmed === '1' ? 1 : 0;
  const named = /=(active|inactive|on|off)\s*$/.exec(trimmed);
  if (named !== null) return named[1] === 'active' || named[1] === 'on' ? 1 : 0;
  return undefined;
}

function v1Bias(pull: Pull): string {
  return pull === 'up' ? 'pull-up' : pull === 'down' ? 'pull-down' : 'disable';
}

function v2Bias(pull: Pull): string {
  return pull === 'up' ? 'pull-up' : pull === 'down' ? 'pull-down' : 'disabled';
}

const STDERR_LIMIT = 4096;

/** The backend over known tools, without the chip check. @internal */
export function createGpiodBackend(version: string, options: GpiodBackendOptions = {}): GpiodGpioBackend {
  const prefix = options.toolPrefix ?? '';
  const major = Number.parseInt(version, 10);
  const processes = new Set<ChildProcess>();

  const resolveLine = (pin: number): GpiodLine => {
    if (options.chip !== undefined) return { chip: options.chip, offset: pin };
    const name = `GPIO${pin}`;
    if (major >= 2) return { name };
    let found: string;
    try {
      found = execFileSync(`${prefix}gpiofind`, [name], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 10_000,
      });
    } catch (error) {
      throw new Error(
        `${GPIOD}: gpiofind found no GPIO line named ${name} (pass the chip option, e.g. { chip: 'gpiochip0' }): ${describeExecError(error)}`,
        { cause: error },
      );
    }
    const match = /^(\S+)\s+(\d+)\s*$/.exec(found);
    if (match === null)
      throw new Error(`${GPIOD}: gpiofind printed ${JSON.stringify(found)} for ${name}, not "<chip> <offset>"`);
    return { chip: match[1]!, offset: Number(match[2]) };
  };

  const start = (tool: string, args: string[]): ChildProcess => {
    const child = spawn(`${prefix}${tool}`, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    processes.add(child);
    child.once('exit', () => processes.delete(child));
    child.once('error', () => processes.delete(child));
    return child;
  };

  const stop = (child: ChildProcess): void => {
    child.removeAllListeners('exit');
    child.removeAllListeners('close');
    child.removeAllListeners('error');
    child.stdout?.removeAllListeners('data');
    child.stderr?.removeAllListeners('data');
    // Keep the bookkeeping listener's effect: forget it once it is really gone.
    child.once('exit', () => processes.delete(child));
    child.once('error', () => processes.delete(child));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    else processes.delete(child);
  };

  return {
    name: 'gpiod',
    libgpiodVersion: version,
    get runningProcesses() {
      return processes.size;
    },

    openInput(pin: number, inputOptions: InputPinOptions): InputPin {
      checkPin(pin, GPIOD);
      const line = resolveLine(pin);
      const args = gpiomonArguments(major, line, inputOptions); // refuses what this version cannot do
      const watchers = new Set<ChildProcess>();
      let released = false;
      return {
        pin,
        read: () => {
          let output: string;
          try {
            output = execFileSync(`${prefix}gpioget`, gpiogetArguments(major, line, inputOptions.pull), {
              encoding: 'utf8',
              stdio: ['ignore', 'pipe', 'pipe'],
              timeout: 10_000,
            });
          } catch (error) {
            throw new Error(`${GPIOD}: gpioget could not read GPIO ${pin}: ${describeExecError(error)}`, {
              cause: error,
            });
          }
          const level = parseGpiogetOutput(output);
          if (level === undefined)
            throw new Error(`${GPIOD}: gpioget printed ${JSON.stringify(output)} for GPIO ${pin}, not a level`);
          return level;
        },
        // The kernel stamps gpiomon's events with CLOCK_MONOTONIC, the clock of hrtime.
        tick: () => nanosToTick(process.hrtime.bigint()),
        now: () => new Date(),
        watch: (onChange, onError, onUnexpected) => {
          if (released) throw new Error(`${GPIOD}: GPIO ${pin} was released`);
          const child = start('gpiomon', args);
          watchers.add(child);
          let pending = '';
          let stderr = '';
          let failed = false;
          const fail = (error: Error): void => {
            if (failed) return;
            failed = true;
            watchers.delete(child);
            stop(child);
            onError(error);
          };
          child.stdout!.setEncoding('utf8');
          child.stdout!.on('data', (chunk: string) => {
            pending += chunk;
            let newline: number;
            while ((newline = pending.indexOf('\n')) >= 0) {
              const text = pending.slice(0, newline);
              pending = pending.slice(newline + 1);
              if (text.trim() === '') continue;
              const parsed = parseGpiomonLine(text);
              if (parsed.kind === 'edge') {
                onChange({ level: parsed.edge.level, tick: nanosToTick(parsed.edge.timestampNanos), at: new Date() });
              } else if (parsed.kind === 'unknown') {
                onUnexpected?.(text, parsed.reason);
              }
            }
          });
          child.stderr!.setEncoding('utf8');
          child.stderr!.on('data', (chunk: string) => {
            if (stderr.length < STDERR_LIMIT) stderr += chunk.slice(0, STDERR_LIMIT - stderr.length);
          });
          child.once('error', (error) =>
            fail(
              new Error(`${GPIOD}: gpiomon could not be started for GPIO ${pin}: ${error.message}`, { cause: error }),
            ),
          );
          // 'close' (not 'exit'): every line gpiomon printed has been read by then.
          child.once('close', (code, signal) => {
            const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
            fail(
              new Error(
                `${GPIOD}: gpiomon ${how} while watching GPIO ${pin} (${args.join(' ')})${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`,
              ),
            );
          });
          return () => {
            if (!watchers.delete(child)) return;
            failed = true;
            stop(child);
          };
        },
        release: () => {
          if (released) return;
          released = true;
          for (const child of watchers) stop(child);
          watchers.clear();
        },
      };
    },

    openOutput(pin: number, outputOptions: OutputPinOptions = {}): OutputPin {
      checkPin(pin, GPIOD);
      const line = resolveLine(pin);
      let holder: ChildProcess | undefined;
      let level: Level | undefined;
      let failure: Error | undefined;
      let released = false;
      const hold = (next: Level): void => {
        if (holder !== undefined) stop(holder);
        const args = gpiosetArguments(major, line, next);
        const child = start('gpioset', args);
        holder = child;
        level = next;
        let stderr = '';
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (chunk: string) => {
          if (stderr.length < STDERR_LIMIT) stderr += chunk;
        });
        child.stdout!.resume();
        child.once('error', (error) => {
          failure = new Error(`${GPIOD}: gpioset could not be started for GPIO ${pin}: ${error.message}`, {
            cause: error,
          });
        });
        child.once('exit', (code, signal) => {
          if (holder === child) holder = undefined;
          failure = new Error(
            `${GPIOD}: gpioset ${signal !== null ? `was killed by ${signal}` : `exited with code ${code}`} while holding GPIO ${pin} at ${next}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`,
          );
        });
      };
      hold(outputOptions.initialLevel ?? 0);
      return {
        pin,
        write: (next: Level) => {
          if (released) throw new Error(`${GPIOD}: GPIO ${pin} was released`);
          if (failure !== undefined) {
            const error = failure;
            failure = undefined;
            level = undefined;
            throw error;
          }
          if (next !== level || holder === undefined) hold(next);
        },
        release: () => {
          if (released) return;
          released = true;
          if (holder !== undefined) stop(holder);
          holder = undefined;
        },
      };
    },
  };
}

function describeExecError(error: unknown): string {
  const failed = error as { stderr?: unknown; status?: unknown; code?: unknown; message?: unknown };
  const stderr = typeof failed.stderr === 'string' ? failed.stderr.trim() : '';
  if (stderr !== '') return stderr;
  if (typeof failed.code === 'string') return failed.code;
  if (typeof failed.status === 'number') return `exit code ${failed.status}`;
  return String(failed.message ?? error);
}
