// Where publish takes its lines from: a file (the library's NextLineState, which also
// tells the byte offset after each line, for the position file) or standard input.
// Both follow the same rules: line endings removed, empty lines skipped.
import { createInterface, type Interface } from 'node:readline';
import { NextLineState } from '../files/NextLineState.js';

/** One line to publish, and where the next one starts in its file (none for stdin). */
export interface SourceLine {
  readonly text: string;
  readonly offset?: number;
}

/** The next line on each call; `undefined` when there is none (stdin ended). */
export interface LineSource {
  next(): SourceLine | undefined | Promise<SourceLine | undefined>;
  close(): void;
}

/** A file's lines from `start` (a byte offset), starting over after the last one. */
export class FileLines implements LineSource {
  private readonly cursor: NextLineState;

  constructor(path: string, start = 0) {
    this.cursor = new NextLineState(path, { start });
  }

  /** Where the next line starts (after a start past the end: 0). */
  get offset(): number {
    return this.cursor.offset;
  }

  next(): SourceLine | undefined {
    const text = this.cursor.next();
    return text === undefined ? undefined : { text, offset: this.cursor.offset };
  }

  close(): void {
    this.cursor.close();
  }
}

/** Lines held before stdin is paused: a pipe faster than the broker does not fill memory. */
const HIGH_WATER_LINES = 1_000;

/** The lines of a stream (stdin), as they come; `undefined` once it has ended and all were taken. */
export class StreamLines implements LineSource {
  private readonly lines: string[] = [];
  private readonly waiting: ((line: SourceLine | undefined) => void)[] = [];
  private ended = false;
  private paused = false;
  private closed = false;
  private readonly reader: Interface;
  /** Lines read, empty ones not counted. */
  received = 0;

  constructor(private readonly input: NodeJS.ReadableStream = process.stdin) {
    this.reader = createInterface({ input, crlfDelay: Infinity });
    this.reader.on('line', (line) => {
      if (line === '') return; // as NextLineState does: an access log has no empty line that means anything
      this.received++;
      const taker = this.waiting.shift();
      if (taker !== undefined) {
        taker({ text: line });
        return;
      }
      this.lines.push(line);
      if (this.lines.length >= HIGH_WATER_LINES && !this.paused) {
        this.paused = true;
        this.reader.pause();
      }
    });
    this.reader.on('close', () => {
      this.ended = true;
      for (const taker of this.waiting.splice(0)) taker(undefined);
    });
  }

  /** Whether the input has ended (every line may not have been taken yet). */
  get done(): boolean {
    return this.ended;
  }

  next(): SourceLine | undefined | Promise<SourceLine | undefined> {
    const line = this.lines.shift();
    if (this.paused && this.lines.length < HIGH_WATER_LINES / 2) {
      this.paused = false;
      this.reader.resume();
    }
    if (line !== undefined) return { text: line };
    if (this.ended) return undefined;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.close();
    // Stdin read to its end or not, it must not keep the process alive.
    (this.input as NodeJS.ReadStream).pause?.();
  }
}
