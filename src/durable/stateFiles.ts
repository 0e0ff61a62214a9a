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
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What a durable state directory survives; see {@link DurableWindowedCountOptions.durability}. */
export type Durability = 'process' | 'power';

/** The operator these files belong to, as their errors name it. */
const OPERATOR = 'durableWindowedCount';

const CHECKPOINT = 'checkpoint.json';
const JOURNAL = 'journal.log';
const LOCK = 'lock';

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
export class StateFiles<C, R extends { readonly q: number }> {
  private journal: number | undefined;
  private readonly syncEachAppend: boolean;
  /** Journal lines appended and not yet written. */
  private batch = '';

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
  ): { files: StateFiles<C, R>; saved: SavedState<C, R> } {
    mkdirSync(directory, { recursive: true });
    takeLock(directory);
    const files = new StateFiles<C, R>(directory, durability);
    try {
      const checkpointPath = join(directory, CHECKPOINT);
      const checkpoint = existsSync(checkpointPath) ? parseCheckpoint<C>(checkpointPath) : undefined;
      const after = checkpoint?.sequence ?? 0;
      const records = readJournal<R>(join(directory, JOURNAL));
      files.journal = openSync(join(directory, JOURNAL), 'a');
      return { files, saved: { checkpoint, records: records.filter((record) => record.q > after) } };
    } catch (error) {
      files.close();
      throw error;
    }
  }

  /**
   * Adds one record to the batch being built; nothing reaches the file before
   * {@link StateFiles.flush}. One `write(2)` for a batch of messages costs what one
   * costs for a single message.
   */
  append(record: R): void {
    this.batch += `${JSON.stringify(record)}\n`;
  }

  /** Whether records wait for {@link StateFiles.flush}. */
  get unflushed(): boolean {
    return this.batch !== '';
  }

  /** How much of the batch is built: {@link StateFiles.dropAppendedAfter} goes back to it. */
  get batchLength(): number {
    return this.batch.length;
  }

  /** Drops the records appended after the batch was `batchLength` long (they must never be written). */
  dropAppendedAfter(batchLength: number): void {
    this.batch = this.batch.slice(0, batchLength);
  }

  /** Writes the batch with one `write(2)`; with durability `'power'`, also waits for the disk. */
  flush(): void {
    if (this.batch === '') return;
    const fd = this.requireOpen();
    writeSync(fd, this.batch);
    this.batch = '';
    if (this.syncEachAppend) fsyncSync(fd);
  }

  /**
   * Replaces the checkpoint with `state` and empties the journal, including the batch
   * not yet flushed. The state must hold every record appended so far (its `sequence`
   * says up to which).
   */
  checkpoint(state: C): void {
    const fd = this.requireOpen();
    this.batch = '';
    const path = join(this.directory, CHECKPOINT);
    const temporary = `${path}.tmp`;
    writeFileSync(temporary, JSON.stringify(state));
    if (this.syncEachAppend) syncFile(temporary);
    renameSync(temporary, path);
    if (this.syncEachAppend) syncFile(this.directory);
    ftruncateSync(fd, 0);
  }

  /** Closes the journal and releases the lock. Safe to call twice. */
  close(): void {
    if (this.journal !== undefined) {
      closeSync(this.journal);
      this.journal = undefined;
    }
    releaseLock(this.directory);
  }

  private requireOpen(): number {
    if (this.journal === undefined) throw new Error(`${OPERATOR}: the state directory ${this.directory} is closed`);
    return this.journal;
  }
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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

function readJournal<R>(path: string): R[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
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
  return records;
}

/** Directories locked by this process: a second operator on one of them is refused too. */
const lockedHere = new Set<string>();

function takeLock(directory: string): void {
  const path = join(directory, LOCK);
  if (lockedHere.has(path))
    throw new Error(
      `${OPERATOR}: the state directory ${directory} is already in use in this process; give each aggregator its own directory`,
    );
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      lockedHere.add(path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(path, 'utf8'));
    if (Number.isInteger(holder) && holder !== process.pid && isRunning(holder)) {
      throw new Error(
        `${OPERATOR}: the state directory ${directory} is in use by process ${holder}; give each aggregator its own directory`,
      );
    }
    // Left by a process that died (or by this one, not closed): take it over.
    unlinkSync(path);
  }
  throw new Error(`${OPERATOR}: cannot lock the state directory ${directory}`);
}

function releaseLock(directory: string): void {
  const path = join(directory, LOCK);
  if (!lockedHere.delete(path)) return;
  try {
    if (Number(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
  } catch {
    // Already gone: nothing to release.
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
