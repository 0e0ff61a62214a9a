/**
 * Reading the default output of libgpiod's `gpiomon` tool, versions 1 and 2.
 *
 * libgpiod v1 (`tools/gpiomon.c`, e.g. Debian 12 and Raspberry Pi OS Bookworm):
 * ```text
 * event:  RISING EDGE offset: 17 timestamp: [1589554219.545618376]
 * event: FALLING EDGE offset: 17 timestamp: [     164.000012345]
 * ```
 * libgpiod v2 (e.g. Debian 13, Raspberry Pi OS Trixie): seconds.nanoseconds, tab,
 * `rising`/`falling`, tab, the line (`"GPIO17"`, or `gpiochip0 17 "GPIO17"` when a
 * chip was given, or `gpiochip0 17` for an unnamed line; unquoted with
 * `--unquoted`; an ISO 8601 time with `--utc`/`--localtime` or the realtime clock):
 * ```text
 * 1589554219.545618376	rising	"GPIO17"
 * 164.000012345	falling	gpiochip0 17 "GPIO17"
 * ```
 *
 * @module
 */
import type { Level } from '../../backend.js';

/** One edge reported by `gpiomon`. */
export interface GpiomonEdge {
  /** The level after the edge: 1 for a rising edge, 0 for a falling one. */
  readonly level: Level;
  /** The kernel's event timestamp in nanoseconds (monotonic clock by default). */
  readonly timestampNanos: bigint;
  /** The line offset, when the output names it. */
  readonly offset: number | undefined;
  /** The line name, when the output names it (v2). */
  readonly lineName: string | undefined;
  /** The chip, when the output names it (v2 with a chip). */
  readonly chip: string | undefined;
  /** Which libgpiod output format the line was in. */
  readonly format: 'v1' | 'v2';
}

/** What one line of `gpiomon` output is. */
export type GpiomonLine =
  | { readonly kind: 'edge'; readonly edge: GpiomonEdge }
  | { readonly kind: 'banner' } // v2 --banner: "Monitoring line 'GPIO17'..."
  | { readonly kind: 'unknown'; readonly reason: string };

const V1 = /^event:\s+(RISING|FALLING) EDGE offset:\s+(\d+) timestamp:\s+\[\s*(\d+)\.(\d{1,9})\]\s*$/;
const V2 = /^(\S+)\t(rising|falling)\t(.*)$/;
const V2_SECONDS = /^(\d+)\.(\d{9})$/;
const V2_ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{9})(Z?)$/;
const V2_LINE = /^(?:(\S+) (\d+))?(?: ?(?:"([^"]*)"|([^"\s]+)))?$/;

/**
 * Parses one line of `gpiomon`'s default output (libgpiod v1 or v2).
 *
 * @example
 * ```ts
 * import { parseGpiomonLine } from 'mqtt-iot-stream';
 * parseGpiomonLine('event: FALLING EDGE offset: 17 timestamp: [1589554219.545618376]');
 * // { kind: 'edge', edge: { level: 0, offset: 17, timestampNanos: 1589554219545618376n, format: 'v1', ... } }
 * ```
 * @param line - one line, without its newline
 * @returns the edge, a banner, or why the line was not understood
 */
export function parseGpiomonLine(line: string): GpiomonLine {
  const text = line.replace(/\r$/, '');
  const v1 = V1.exec(text);
  if (v1 !== null) {
    const [, direction, offset, seconds, nanos] = v1;
    return edge({
      level: direction === 'RISING' ? 1 : 0,
      // v1 prints nanoseconds with %09ld, so the digits are a zero-padded fraction.
      timestampNanos: BigInt(seconds!) * 1_000_000_000n + BigInt(nanos!.padEnd(9, '0')),
      offset: Number(offset),
      lineName: undefined,
      chip: undefined,
      format: 'v1',
    });
  }
  if (/^Monitoring lines? /.test(text)) return { kind: 'banner' };
  const v2 = V2.exec(text);
  if (v2 !== null) {
    const [, time, direction, lineId] = v2;
    const nanos = v2Nanos(time!);
    const id = V2_LINE.exec(lineId!.trim());
    if (nanos !== undefined && id !== null) {
      const [, chip, offset, quoted, unquoted] = id;
      return edge({
        level: direction === 'rising' ? 1 : 0,
        timestampNanos: nanos,
        offset: offset === undefined ? undefined : Number(offset),
        lineName: quoted ?? unquoted,
        chip,
        format: 'v2',
      });
    }
  }
  return {
    kind: 'unknown',
    reason: `not a gpiomon event line (libgpiod v1 or v2 default format): ${JSON.stringify(text.slice(0, 120))}`,
  };
}

function edge(value: GpiomonEdge): GpiomonLine {
  return { kind: 'edge', edge: value };
}

function v2Nanos(time: string): bigint | undefined {
  const seconds = V2_SECONDS.exec(time);
  if (seconds !== null) return BigInt(seconds[1]!) * 1_000_000_000n + BigInt(seconds[2]!);
  const iso = V2_ISO.exec(time);
  if (iso !== null) {
    // --localtime prints no zone; reading it as UTC keeps differences right, which is all ticks need.
    const millis = Date.parse(`${iso[1]!}Z`);
    if (Number.isNaN(millis)) return undefined;
    return BigInt(millis / 1000) * 1_000_000_000n + BigInt(iso[2]!);
  }
  return undefined;
}

/**
 * A kernel timestamp in nanoseconds as a 32-bit microsecond tick (wrapping at
 * 2^32 µs, like pigpio's), so debouncing works the same on every backend.
 * @internal
 */
export function nanosToTick(nanos: bigint): number {
  return Number((nanos / 1000n) % 4_294_967_296n);
}
