/**
 * The files of a durable aggregator's state directory: a checkpoint, a journal of
 * what happened since, and a lock.
 *
 * - `checkpoint.json`: the whole state at one journal sequence number, replaced
 *   atomically (written beside, then renamed over).
 * - `journal.log`: one JSON line per record after the checkpoint, written with one
 *   `write(2)` per batch of messages before any of their acknowledgements leaves. A
 *   line in the kernel's page cache survives the death of the process; `fsync`
 *   (durability `'power'`) makes it survive a power loss too.
 * - `lock`: the pid of the process using the directory.
 *
 * A crash between renaming a checkpoint and emptying the journal leaves records the
 * checkpoint already holds: their sequence numbers tell, and they are skipped. A
 * crash in the middle of an append leaves a torn last line: it was never
 * acknowledged, so it is dropped and the broker sends its message again.
 *
 * A write that fails or is short (a full disk, a file system remounted read-only, an
 * I/O error) throws a {@link StateDirectoryError} and leaves the files as they were
 * before it: the journal is cut back to its last complete line (before anything else
 * is appended, if it cannot be cut at once), a checkpoint's temporary file is removed,
 * and the batch is kept, to be written again by the next `flush`.
 * @module
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { releaseDirectoryLock, takeDirectoryLock } from '../internal/directoryLock.js';
import { syncPath } from '../internal/syncPath.js';
import { writeFully } from '../internal/writeFully.js';
import { JournalBatch } from './journalBatch.js';
import { writeJsonWithBytes } from './jsonWithBytes.js';
import { StateDirectoryError, type StateDirectoryOperation } from './stateDirectoryError.js';

/** What a durable state directory survives; see {@link DurableWindowsOptions.durability}. */
export type Durability = 'process' | 'power';

/** The operator these files belong to, as their errors name it. */
const OPERATOR = 'durableWindowedCount';

const CHECKPOINT = 'checkpoint.json';
const JOURNAL = 'journal.log';
const PROBE = 'probe.tmp';
/** What {@link StateFiles.probe} writes: one page, the smallest amount a file system allocates. */
const PROBE_BYTES = Buffer.alloc(4096, 0x0a);

/** The journal records, and the checkpoint read back, at opening. */
export interface SavedState<C, R> {
  readonly checkpoint: C | undefined;
  /** Records after the checkpoint, in order; a torn last line (a crash in the middle of an append) is dropped. */
  readonly records: readonly R[];
}

/**
 * Whether `name` can name a state directory (and so an aggregator): 1 to 100 letters,
 * digits, '.', '_' or '-', not `.` or `..`. The command line checks `--aggregator-id`
 * with the same rule.
 * @internal
 */
export function isStateDirectoryName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,100}$/.test(name) && name !== '.' && name !== '..';
}

/**
 * The default state directory of an aggregator: `$XDG_STATE_HOME/mqtt-iot-stream/<name>`,
 * or `~/.local/state/mqtt-iot-stream/<name>`.
 *
 * @param name - one directory per aggregator, e.g. its aggregator id.
 * @returns an absolute path (not created).
 */
export function defaultStateDirectory(name: string): string {
  if (!isStateDirectoryName(name)) {
    throw new TypeError(
      `defaultStateDirectory: ${JSON.stringify(name)} is not a usable directory name (letters, digits, '.', '_', '-')`,
    );
  }
  const base = process.env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'mqtt-iot-stream', name);
}

/**
 * The state directory of one durable operator, open for its lifetime. Synchronous
 * on purpose: a batch must be in the kernel before its acknowledgements leave, and a
 * synchronous `write(2)` of a few lines costs microseconds.
 * @internal
 */
export class StateFiles<C> {
  private journal: number | undefined;
  private readonly syncEachAppend: boolean;
  /** Journal lines appended and not yet written: `writeJournalRecord` appends to it. */
  readonly batch = new JournalBatch();
  /** The journal's length in bytes up to its last complete line: what a failed write is cut back to. */
  private journalBytes = 0;
  /** Whether the journal may hold a part of a line past `journalBytes`, to cut before the next write. */
  private torn = false;

  private constructor(
    readonly directory: string,
    durability: Durability,
  ) {
    this.syncEachAppend = durability === 'power';
  }

  /** Takes the lock and reads what was saved; throws an Error naming the cause. */
  static open<C extends { readonly sequence: number }, R extends { readonly q: number }>(
    directory: string,
    durability: Durability,
  ): { files: StateFiles<C>; saved: SavedState<C, R> } {
    mkdirSync(directory, { recursive: true });
    takeDirectoryLock(directory, {
      inUseHere: `${OPERATOR}: the state directory ${directory} is already in use in this process; give each aggregator its own directory`,
      inUseBy: (holder) =>
        `${OPERATOR}: the state directory ${directory} is in use by process ${holder}; give each aggregator its own directory`,
      cannotLock: `${OPERATOR}: cannot lock the state directory ${directory}`,
    });
    const files = new StateFiles<C>(directory, durability);
    try {
      const checkpointPath = join(directory, CHECKPOINT);
      const checkpoint = existsSync(checkpointPath) ? parseCheckpoint<C>(checkpointPath) : undefined;
      const after = checkpoint?.sequence ?? 0;
      const { records, completeBytes, bytes } = readJournal<R>(join(directory, JOURNAL));
      files.journal = openSync(join(directory, JOURNAL), 'a');
      files.journalBytes = completeBytes;
      files.torn = bytes > completeBytes;
      return { files, saved: { checkpoint, records: records.filter((record) => record.q > after) } };
    } catch (error) {
      files.close();
      throw error;
    }
  }

  /**
   * Adds one record, `line` (its JSON text, one line), to the batch being built; nothing
   * reaches the file before {@link StateFiles.flush}. One `write(2)` for a batch of
   * messages costs what one costs for a single message.
   */
  append(line: string): void {
    this.batch.text(line);
    this.batch.newline();
  }

  /** Whether records wait for {@link StateFiles.flush}. */
  get unflushed(): boolean {
    return this.batch.length > 0;
  }

  /** How much of the batch is built: {@link StateFiles.dropAppendedAfter} goes back to it. */
  get batchLength(): number {
    return this.batch.length;
  }

  /** Drops the records appended after the batch was `batchLength` long (they must never be written). */
  dropAppendedAfter(batchLength: number): void {
    this.batch.truncate(batchLength);
  }

  /**
   * Writes the batch with one `write(2)` (more only after a short write); with
   * durability `'power'`, also waits for the disk. Returns only once every byte is
   * written: otherwise throws a {@link StateDirectoryError}, with the journal cut back to
   * its last complete line and the batch kept for the next call.
   */
  flush(): void {
    if (this.batch.length === 0) return;
    const fd = this.requireOpen();
    const bytes = this.batch.bytes();
    try {
      if (this.torn) ftruncateSync(fd, this.journalBytes);
      this.torn = false;
      // Part of the batch may reach the journal before a failure: cut back if so.
      this.torn = true;
      writeFully(fd, bytes);
      if (this.syncEachAppend) fsyncSync(fd);
    } catch (error) {
      this.cutTornTail();
      throw this.failure('writing the journal', error);
    }
    this.torn = false;
    this.journalBytes += bytes.length;
    this.batch.clear();
  }

  /**
   * Replaces the checkpoint with `state` and empties the journal, including the batch
   * not yet flushed. The state must hold every record appended so far (its `sequence`
   * says up to which). A failure throws a {@link StateDirectoryError}; the previous
   * checkpoint and the journal stay valid, and the batch is kept unless the new
   * checkpoint is in place.
   */
  checkpoint(state: C): void {
    const fd = this.requireOpen();
    const path = join(this.directory, CHECKPOINT);
    const temporary = `${path}.tmp`;
    try {
      writeJsonWithBytes(temporary, state);
      if (this.syncEachAppend) syncPath(temporary);
      renameSync(temporary, path);
      if (this.syncEachAppend) syncPath(this.directory);
    } catch (error) {
      // A half-written checkpoint takes room and is never read: gone, if the directory lets us.
      try {
        unlinkSync(temporary);
      } catch {
        /* not there, or the directory refuses that too */
      }
      throw this.failure('writing a checkpoint', error);
    }
    // In place: the state it holds covers the batch, and every line of the journal.
    this.batch.clear();
    try {
      ftruncateSync(fd, 0);
    } catch (error) {
      // The journal's lines are all in the checkpoint (skipped by their sequence numbers
      // at the next start), and appending after them keeps it valid.
      throw this.failure('writing a checkpoint', error);
    }
    this.journalBytes = 0;
    this.torn = false;
  }

  /**
   * Whether the directory takes a small write now: a page written to a file beside the
   * others, then removed. Throws a {@link StateDirectoryError} when it does not.
   */
  probe(): void {
    const path = join(this.directory, PROBE);
    try {
      writeFileSync(path, PROBE_BYTES);
      unlinkSync(path);
    } catch (error) {
      try {
        unlinkSync(path);
      } catch {
        /* not there */
      }
      throw this.failure('probing', error);
    }
  }

  /** Closes the journal and releases the lock. Safe to call twice. */
  close(): void {
    if (this.journal !== undefined) {
      closeSync(this.journal);
      this.journal = undefined;
    }
    releaseDirectoryLock(this.directory);
  }

  private requireOpen(): number {
    if (this.journal === undefined) throw new Error(`${OPERATOR}: the state directory ${this.directory} is closed`);
    return this.journal;
  }

  /** After a failed write: the journal back to its last complete line, now if it can be (else before the next write). */
  private cutTornTail(): void {
    if (!this.torn || this.journal === undefined) return;
    try {
      ftruncateSync(this.journal, this.journalBytes);
      this.torn = false;
    } catch {
      /* a read-only file system refuses this too: flush cuts it before writing again */
    }
  }

  private failure(operation: StateDirectoryOperation, error: unknown): StateDirectoryError {
    return error instanceof StateDirectoryError
      ? error
      : new StateDirectoryError({ directory: this.directory, operation, cause: error });
  }
}

function parseCheckpoint<C>(path: string): C {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as C;
  } catch (error) {
    // Written beside and renamed: a damaged checkpoint is not a crash, it is damage.
    throw new Error(
      `${OPERATOR}: the checkpoint ${path} cannot be read (${(error as Error).message}); move the state directory away to start from zero`,
      { cause: error },
    );
  }
}

/** The journal's records, and its length in bytes, whole and up to its last complete line. */
function readJournal<R>(path: string): { records: R[]; completeBytes: number; bytes: number } {
  if (!existsSync(path)) return { records: [], completeBytes: 0, bytes: 0 };
  const content = readFileSync(path);
  const completeBytes = content.lastIndexOf(0x0a) + 1;
  const lines = content.toString('utf8', 0, completeBytes).split('\n');
  // After the last newline: nothing, or a line without its newline, an append the
  // process died in (never acknowledged), which is dropped.
  lines.pop();
  const records: R[] = [];
  for (let i = 0; i < lines.length; i++) {
    try {
      records.push(JSON.parse(lines[i] as string) as R);
    } catch (error) {
      throw new Error(
        `${OPERATOR}: the journal ${path} is damaged at line ${i + 1}; move the state directory away to start from zero`,
        { cause: error },
      );
    }
  }
  return { records, completeBytes, bytes: content.length };
}
