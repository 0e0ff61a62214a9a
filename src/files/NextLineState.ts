/**
 * Reads a text file one line at a time, on demand: the Pi publisher takes the
 * *next* line of its access log on every button press.
 * @module
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { optionChecks } from '../internal/options.js';

/** Options of {@link NextLineState}. */
export interface NextLineOptions {
  /** Start again from the first line after the last one. Default `true`. */
  loop?: boolean;
  /** Bytes read from the file at a time, an integer ≥ 1. Default 64 KiB. */
  chunkSize?: number;
}

/** The defaults of {@link NextLineOptions}, which their TSDoc quotes. */
const NEXT_LINE_DEFAULTS = { loop: true, chunkSize: 65_536 } as const;

/**
 * The options checked, with the defaults applied; a bad one throws an error naming
 * `operator` (`nextLine` checks them when it is made, the cursor when it is built).
 * @internal
 */
export function nextLineSettings(options: NextLineOptions, operator: string): Required<NextLineOptions> {
  const check = optionChecks(operator);
  return {
    loop: check.boolean('loop', options.loop ?? NEXT_LINE_DEFAULTS.loop),
    chunkSize: check.positiveInteger('chunkSize', options.chunkSize ?? NEXT_LINE_DEFAULTS.chunkSize),
  };
}

/**
 * A cursor over the lines of a file that holds at most one chunk and one line in
 * memory, whatever the file's size. Line endings (`\n`, `\r\n`) are removed; empty
 * lines are skipped (an access log has none that mean anything).
 *
 * @example
 * ```ts
 * import { NextLineState } from 'mqtt-iot-stream';
 * const cursor = new NextLineState('access.log');
 * const first = cursor.next(); // the first line, or undefined for an empty file
 * cursor.close();
 * ```
 */
export class NextLineState {
  private fd: number | undefined;
  private readonly chunk: Buffer;
  private pending = '';
  private pendingStart = 0;
  // Keeps a UTF-8 character split across two chunks whole.
  private decoder = new StringDecoder('utf8');
  private position = 0;
  private readonly loop: boolean;
  private linesSincePassStart = 0;

  /**
   * Opens the file now, so a missing file is an error at construction, not on the
   * first press.
   * @param path - the file to read.
   * @param options - see {@link NextLineOptions}.
   */
  constructor(
    readonly path: string,
    options: NextLineOptions = {},
  ) {
    const { loop, chunkSize } = nextLineSettings(options, 'NextLineState');
    this.loop = loop;
    this.chunk = Buffer.allocUnsafe(chunkSize);
    this.fd = openSync(path, 'r');
  }

  /**
   * The next non-empty line, or `undefined` when the file is exhausted (without
   * `loop`) or holds no line at all.
   */
  next(): string | undefined {
    if (this.fd === undefined) throw new Error(`NextLineState: the cursor over ${this.path} is closed`);
    for (;;) {
      const newline = this.pending.indexOf('\n', this.pendingStart);
      if (newline >= 0) {
        const line = this.pending.slice(this.pendingStart, newline).replace(/\r$/, '');
        this.pendingStart = newline + 1;
        if (line.length > 0) {
          this.linesSincePassStart++;
          return line;
        }
        continue;
      }
      const bytesRead = readSync(this.fd, this.chunk, 0, this.chunk.length, this.position);
      if (bytesRead > 0) {
        this.position += bytesRead;
        this.pending = this.pending.slice(this.pendingStart) + this.decoder.write(this.chunk.subarray(0, bytesRead));
        this.pendingStart = 0;
        continue;
      }
      // End of file: a last line without a final newline still counts.
      const last = (this.pending.slice(this.pendingStart) + this.decoder.end()).replace(/\r$/, '');
      this.pending = '';
      this.pendingStart = 0;
      if (last.length > 0) {
        this.linesSincePassStart++;
        return last;
      }
      if (!this.loop || this.linesSincePassStart === 0) return undefined;
      this.position = 0;
      this.linesSincePassStart = 0;
      this.decoder = new StringDecoder('utf8');
    }
  }

  /** Closes the file. Calling it again does nothing. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
