/**
 * Reads a text file one line at a time, on demand: the Pi publisher takes the
 * *next* line of its access log on every button press.
 * @module
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { optionChecks } from '../internal/options.js';

/** Options of {@link NextLineState}. */
export interface NextLineOptions {
  /** Start again from the first line after the last one. Default `true`. */
  loop?: boolean;
  /** Bytes read from the file at a time, an integer ≥ 1. Default 64 KiB. */
  chunkSize?: number;
  /**
   * The byte offset to read the first line from, an integer ≥ 0: a
   * {@link NextLineState.offset} saved earlier, to go on where a previous run stopped.
   * Past the end of the file (it was truncated or rotated) reading starts at 0.
   * Default `0`.
   */
  start?: number;
}

/** The defaults of {@link NextLineOptions}, which their TSDoc quotes. */
const NEXT_LINE_DEFAULTS = { loop: true, chunkSize: 65_536, start: 0 } as const;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const NO_BYTES = Buffer.alloc(0);

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
    start: check.integer('start', options.start ?? NEXT_LINE_DEFAULTS.start, { min: 0 }),
  };
}

/**
 * A cursor over the lines of a file that holds at most one chunk and one line in
 * memory, whatever the file's size. Line endings (`\n`, `\r\n`) are removed; empty
 * lines are skipped (an access log has none that mean anything). Lines are cut at the
 * newline byte, then decoded as UTF-8, so {@link NextLineState.offset} counts bytes of
 * the file exactly, whatever the text holds.
 *
 * @example
 * ```ts
 * import { NextLineState } from 'mqtt-iot-stream';
 * const cursor = new NextLineState('access.log');
 * const first = cursor.next(); // the first line, or undefined for an empty file
 * const resumeAt = cursor.offset; // save it; new NextLineState('access.log', { start: resumeAt }) goes on from there
 * cursor.close();
 * ```
 */
export class NextLineState {
  private fd: number | undefined;
  private readonly chunk: Buffer;
  // Bytes read and not yet given out as a line: pending[pendingStart…].
  private pending: Buffer = NO_BYTES;
  private pendingStart = 0;
  // Where the next read starts in the file.
  private position: number;
  private readonly loop: boolean;
  // Lines given out since the pass over the file began, and where it began: a pass from
  // 0 without a line means the file has none; one from `start` may just be at the end.
  private linesSincePassStart = 0;
  private passStart: number;

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
    const { loop, chunkSize, start } = nextLineSettings(options, 'NextLineState');
    this.loop = loop;
    this.chunk = Buffer.allocUnsafe(chunkSize);
    this.fd = openSync(path, 'r');
    this.position = start;
    // A start past the end: the file was truncated or replaced since the offset was saved.
    if (start > 0 && readSync(this.fd, this.chunk, 0, 1, start - 1) === 0) this.position = 0;
    this.passStart = this.position;
  }

  /**
   * The byte offset in the file just past the last line returned (its newline
   * included): where the next line starts. Save it and pass it as `start` to go on
   * from there after a restart.
   */
  get offset(): number {
    return this.position - (this.pending.length - this.pendingStart);
  }

  /**
   * The next non-empty line, or `undefined` when the file is exhausted (without
   * `loop`) or holds no line at all.
   */
  next(): string | undefined {
    if (this.fd === undefined) throw new Error(`NextLineState: the cursor over ${this.path} is closed`);
    for (;;) {
      const newline = this.pending.indexOf(NEWLINE, this.pendingStart);
      if (newline >= 0) {
        const line = this.lineOf(this.pendingStart, newline);
        this.pendingStart = newline + 1;
        if (line !== undefined) return line;
        continue;
      }
      const bytesRead = readSync(this.fd, this.chunk, 0, this.chunk.length, this.position);
      if (bytesRead > 0) {
        this.position += bytesRead;
        this.pending = Buffer.concat([this.pending.subarray(this.pendingStart), this.chunk.subarray(0, bytesRead)]);
        this.pendingStart = 0;
        continue;
      }
      // End of file: a last line without a final newline still counts.
      const last = this.lineOf(this.pendingStart, this.pending.length);
      this.pending = NO_BYTES;
      this.pendingStart = 0;
      if (last !== undefined) return last;
      if (!this.loop || (this.linesSincePassStart === 0 && this.passStart === 0)) return undefined;
      this.position = 0;
      this.passStart = 0;
      this.linesSincePassStart = 0;
    }
  }

  // The line in pending[from, to) without its \r, or undefined when it is empty.
  private lineOf(from: number, to: number): string | undefined {
    const end = to > from && this.pending[to - 1] === CARRIAGE_RETURN ? to - 1 : to;
    if (end === from) return undefined;
    this.linesSincePassStart++;
    return this.pending.toString('utf8', from, end);
  }

  /** Closes the file. Calling it again does nothing. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
