/**
 * Which Cassandra errors a write may retry, and the error a sink ends with.
 * @module
 */
// Response error codes of the CQL native protocol (section 9 of its spec), as the
// driver's `types.responseErrorCodes` names them: spelled here so that this check
// runs without loading the driver, an optional dependency.
const UNAVAILABLE = 0x1000;
const OVERLOADED = 0x1001;
const IS_BOOTSTRAPPING = 0x1002;
const TRUNCATE_ERROR = 0x1003;
const WRITE_TIMEOUT = 0x1100;
const READ_TIMEOUT = 0x1200;
const WRITE_FAILURE = 0x1500;

/**
 * Server answers that say "not now" rather than "never": the write did not
 * (or may not have) happened and the same idempotent write can be sent again.
 */
const RETRYABLE_RESPONSE_CODES: ReadonlySet<number> = new Set([
  UNAVAILABLE,
  OVERLOADED,
  IS_BOOTSTRAPPING,
  WRITE_TIMEOUT,
  READ_TIMEOUT,
  WRITE_FAILURE,
  TRUNCATE_ERROR,
]);

/**
 * The driver's error class, by the name it gives its errors: by name, not
 * `instanceof`, so that errors from any copy of the driver are recognised and the
 * driver need not be loaded.
 */
function driverError(error: unknown, name: string): error is Error & { code?: unknown; innerErrors?: unknown } {
  return error instanceof Error && error.name === name;
}

/**
 * Whether an error from `client.execute` is transient, so that retrying the same
 * idempotent write can succeed: node unreachable or down (`NoHostAvailableError`,
 * unless a host refused our credentials), a timeout, a lost connection, a busy
 * connection pool, or Cassandra's unavailable / overloaded / write-timeout answers.
 * Everything else (unknown keyspace or table, type mismatch, syntax, authentication,
 * authorization, a value the driver cannot encode) is permanent.
 *
 * @param error - what `execute` rejected with.
 * @returns `true` when a retry with backoff makes sense.
 */
export function isRetryableCassandraError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const refusal = (e: unknown) =>
    driverError(e, 'AuthenticationError') ||
    (driverError(e, 'ResponseError') && !RETRYABLE_RESPONSE_CODES.has(e.code as number));
  if (driverError(error, 'NoHostAvailableError')) {
    return !Object.values((error.innerErrors ?? {}) as Record<string, unknown>).some(refusal);
  }
  if (driverError(error, 'ResponseError')) return RETRYABLE_RESPONSE_CODES.has(error.code as number);
  if (driverError(error, 'OperationTimedOutError') || driverError(error, 'BusyConnectionError')) return true;
  if ((error as { isSocketError?: boolean }).isSocketError === true) return true;
  const code = (error as { code?: unknown }).code;
  return (
    typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)
  );
}

/**
 * Whether an error from `client.execute` is the driver refusing to encode one of the
 * values for its column's type (`Expected Number, obtained 'abc'`, an invalid
 * `Date`, an `int` out of range): nothing was sent, and the error concerns that row
 * alone. The driver throws these as `TypeError` or `RangeError`; its own errors
 * and Cassandra's answers are `DriverError`s.
 * @internal
 */
export function isValueEncodingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError;
}

/**
 * The error a {@link cassandraSink} stream ends with when a write cannot be done:
 * a permanent error (at the first attempt), or a transient one that outlasted the
 * retries. `message` carries Cassandra's (or the driver's) own message; `cause` is
 * the original error.
 *
 * @typeParam T - the value type.
 */
export class CassandraWriteError<T = unknown> extends Error {
  override readonly name = 'CassandraWriteError';
  /** `keyspace.table` written to. */
  readonly target: string;
  /** The value whose row could not be written. */
  readonly value: T;
  /** How many times it was sent. */
  readonly attempts: number;
  /** Whether the last error was transient (so retries ran out). */
  readonly retryable: boolean;
  /** The driver's error. */
  override readonly cause: unknown;
  /**
   * @param options - the `target` written to, the `value`, the `attempts`, whether the
   *   last error was `retryable`, and the driver's error as `cause`.
   */
  constructor(options: {
    readonly target: string;
    readonly value: T;
    readonly attempts: number;
    readonly retryable: boolean;
    readonly cause: unknown;
  }) {
    const { target, attempts, retryable, cause } = options;
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      retryable
        ? `cassandraSink: writing to ${target} still failed after ${attempts} attempts, giving up: ${why}`
        : `cassandraSink: writing to ${target} failed: ${why}`,
    );
    this.target = target;
    this.value = options.value;
    this.attempts = attempts;
    this.retryable = retryable;
    this.cause = cause;
  }
}
