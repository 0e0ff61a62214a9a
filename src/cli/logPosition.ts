// publish's place in its log, kept across restarts as the Pi's publisher needs: after
// a power cut or an update it goes on with the next line instead of line 1. A small
// JSON file, rewritten (write, then rename over) after each message the broker
// acknowledged, names the log, the byte offset of the next line and the log's identity
// (device and inode), so a rotated log (a new file under the same name) is read from
// its first line, not from the old file's offset.
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { defaultStateDirectory } from '../durable/stateFiles.js';

/** What the position file holds (and, with --outbox, each message in the outbox). */
export interface SavedPosition {
  readonly log: string;
  readonly offset: number;
  readonly device: number;
  readonly inode: number;
}

/** Where publishers keep their positions by default: `$XDG_STATE_HOME/mqtt-iot-stream/publisher/`. */
export function defaultPositionDirectory(): string {
  return defaultStateDirectory('publisher');
}

/** The default position file of a log: its name and a hash of its absolute path, in {@link defaultPositionDirectory}. */
export function defaultPositionFile(log: string): string {
  const absolute = resolve(log);
  const hash = createHash('sha256').update(absolute).digest('hex').slice(0, 12);
  return join(defaultPositionDirectory(), `${basename(absolute)}-${hash}.position`);
}

export class LogPosition {
  private readonly log: string;

  constructor(
    /** The position file. */
    readonly path: string,
    log: string,
  ) {
    this.log = resolve(log);
  }

  /**
   * The offset to start from, and a line saying why when it is not the saved one (no
   * file yet is not worth a line). A file that cannot be read or is not ours is an
   * error: it is safer to stop than to publish the whole log again.
   */
  read(): { readonly offset: number; readonly note?: string } {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { offset: 0 };
      throw new Error(`cannot read the position file ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    let saved: unknown;
    try {
      saved = JSON.parse(text);
    } catch {
      saved = {};
    }
    return this.check(saved, this.path);
  }

  /**
   * The offset to start from for a place saved in `where` (the position file, or the
   * outbox), as {@link LogPosition.read} tells it.
   */
  check(value: unknown, where: string): { readonly offset: number; readonly note?: string } {
    const saved = (typeof value === 'object' && value !== null ? value : {}) as Partial<SavedPosition>;
    if (typeof saved.offset !== 'number' || !Number.isSafeInteger(saved.offset) || saved.offset < 0)
      throw new Error(
        `the position file ${where} is not one publish wrote; remove it to start from the first line of ${this.log}`,
      );
    if (saved.log !== this.log)
      return {
        offset: 0,
        note: `${where} kept the place in ${String(saved.log)}, not in ${this.log}: from its first line`,
      };
    const { dev, ino, size } = statSync(this.log);
    if (saved.device !== dev || saved.inode !== ino)
      return { offset: 0, note: `${this.log} is a new file since the place was saved (rotated?): from its first line` };
    if (saved.offset > size)
      return { offset: 0, note: `${this.log} is shorter than the saved place (truncated?): from its first line` };
    return { offset: saved.offset };
  }

  /**
   * Makes the position file's folder and checks that it can be written, before the
   * first press: a place that cannot be kept is found at the start, not after a message.
   */
  prepare(): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      accessSync(dirname(this.path), constants.W_OK);
    } catch (error) {
      throw this.cannotSave(error);
    }
  }

  /** The place `offset` (the start of the next line to publish) as saved: with the log's identity. */
  at(offset: number): SavedPosition {
    const { dev, ino } = statSync(this.log);
    return { log: this.log, offset, device: dev, inode: ino };
  }

  /** Saves `offset` (the start of the next line to publish); the file is replaced whole, never half written. */
  save(offset: number): void {
    try {
      const position = this.at(offset);
      const temporary = `${this.path}.${process.pid}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(position)}\n`);
      renameSync(temporary, this.path);
    } catch (error) {
      throw this.cannotSave(error);
    }
  }

  private cannotSave(error: unknown): Error {
    return new Error(
      `cannot keep the place in ${this.log} in ${this.path}: ${(error as Error).message} ` +
        '(--position-file names another file; off keeps none)',
      { cause: error },
    );
  }
}
