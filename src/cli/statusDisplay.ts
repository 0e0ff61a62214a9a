// Where the status goes (stderr, so stdout keeps only rows). On a terminal: one live
// line, rewritten in place every second (carriage return, then clear to the end of
// the line), cut to the terminal's width; anything else printed moves it out of the
// way and draws it again under the new output. Elsewhere (a pipe, a file, journald):
// one line every `every` ms, each starting with the time, and the lines printed in
// between as they come.

/** A terminal refreshes its live line this often. */
const REFRESH_MS = 1_000;
const CLEAR_LINE = '\r\x1b[K';

export interface StatusDisplayOptions {
  /** The status line now. */
  readonly line: () => string;
  /** Off a terminal, milliseconds between two status lines; 0: none (on a terminal: no live line). */
  readonly every: number;
  /** Default `process.stderr`. */
  readonly out?: NodeJS.WriteStream;
}

export class StatusDisplay {
  private readonly out: NodeJS.WriteStream;
  private readonly live: boolean;
  private timer: NodeJS.Timeout | undefined;
  /** Whether the live line is on the screen now (the cursor at its end). */
  private shown = false;

  constructor(private readonly options: StatusDisplayOptions) {
    this.out = options.out ?? process.stderr;
    this.live = this.out.isTTY === true && options.every > 0;
  }

  /** Whether the status is one line redrawn in place (a terminal) rather than lines in a log. */
  get onTerminal(): boolean {
    return this.out.isTTY === true;
  }

  start(): void {
    if (this.timer !== undefined || this.options.every <= 0) return;
    if (this.live) {
      this.draw();
      this.timer = setInterval(() => this.draw(), REFRESH_MS);
    } else {
      this.timer = setInterval(() => this.out.write(`${stamp()} ${this.options.line()}\n`), this.options.every);
    }
    this.timer.unref(); // the status never keeps a finished command alive
  }

  /** Prints `text` (one or more whole lines, without the final newline) on the status's stream. */
  print(text: string): void {
    this.around(() => this.out.write(`${text}\n`));
  }

  /** Prints a line about a change (the broker lost, intake paused), starting with the time off a terminal. */
  note(text: string): void {
    this.print(this.onTerminal ? text : `${stamp()} ${text}`);
  }

  /**
   * Runs `write`, which prints whole lines to this terminal (rows on stdout, when
   * stdout is the same terminal), with the live line out of the way, then draws it again.
   */
  around(write: () => void): void {
    if (!this.shown) {
      write();
      return;
    }
    this.out.write(CLEAR_LINE);
    this.shown = false;
    write();
    this.draw();
  }

  /** Stops refreshing and takes the live line off the screen. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.shown) this.out.write(CLEAR_LINE);
    this.shown = false;
  }

  private draw(): void {
    // Three columns short of the width: writing the last column wraps the line on some
    // terminals, and the terminal's own echo of Ctrl-C (^C) must fit on the line it clears.
    const width = Math.max(10, (this.out.columns || 80) - 3);
    const line = this.options.line();
    this.out.write(`\r${line.length > width ? `${line.slice(0, width - 1)}…` : line}\x1b[K`);
    this.shown = true;
  }
}

/** The time of a log line, UTC to the second, as the windows are written. */
function stamp(): string {
  return new Date().toISOString().slice(0, 19) + 'Z';
}
