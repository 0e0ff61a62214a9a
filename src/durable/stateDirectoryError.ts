/**
 * A state directory that cannot take a write: which failures pass (a full disk, a
 * file system remounted read-only, an I/O error) and which do not.
 * @module
 */

/** What a state directory was doing when it failed, as its errors say it. @internal */
export type StateDirectoryOperation = 'writing the journal' | 'writing a checkpoint' | 'probing';

/**
 * Errors that the file system may stop giving without anyone touching the aggregator:
 * space freed, quota raised, the file system remounted read-write, a disk or a network
 * file system back from a transient I/O error. Anything else (the directory removed,
 * `EACCES`, `EBADF`) needs a person, and ends the stream.
 */
const TRANSIENT: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/**
 * The error a durable state directory fails with: `code` the errno name (`ENOSPC`,
 * `EROFS`…), `transient` whether the directory may become writable again by itself
 * (then `durableWindowedCount` pauses intake and waits for it instead of ending). The
 * message names the directory, the cause and what was being written.
 */
export class StateDirectoryError extends Error {
  override readonly name = 'StateDirectoryError';
  /** The errno name, e.g. `ENOSPC`. */
  readonly code: string;
  /** The state directory. */
  readonly directory: string;
  /** Whether the failure may pass by itself: a full disk, a read-only file system, an I/O error. */
  readonly transient: boolean;

  /**
   * @param options - the `directory`, what was being done (`operation`) and the error the
   *   file system gave (`cause`, whose `code` is kept).
   */
  constructor(options: {
    readonly directory: string;
    /** What was being done, e.g. `writing the journal`. */
    readonly operation: string;
    readonly cause: unknown;
  }) {
    const code = (options.cause as NodeJS.ErrnoException | undefined)?.code ?? 'EIO';
    const said = TRANSIENT[code] ?? (options.cause as Error | undefined)?.message ?? String(options.cause);
    super(`state directory ${options.directory}: ${said} (${code}) ${options.operation}`, { cause: options.cause });
    this.code = code;
    this.directory = options.directory;
    this.transient = code in TRANSIENT;
  }

  /** The cause in a few words, e.g. `no space left (ENOSPC)`. */
  get summary(): string {
    return `${TRANSIENT[this.code] ?? 'cannot write'} (${this.code})`;
  }
}

/** Whether `error` is a state directory failure that may pass by itself. @internal */
export function isTransientStateDirectoryError(error: unknown): error is StateDirectoryError {
  return error instanceof StateDirectoryError && error.transient;
}
