/**
 * One way, shared by every operator, to hand bad input to the user: a rejection
 * value with a readable reason, passed to `onReject`, or (with `strict`) an error
 * that ends the stream.
 *
 * @module
 */

/** Which stage of the pipeline refused an input. */
export type RejectionKind =
  | 'payload'   // undecodable MQTT payload (not JSON, wrong shape)
  | 'timestamp' // an event time that cannot be read
  | 'line'      // an access-log line that is not one
  | 'late'      // an event whose window was already final
  | 'message'   // any other refused message (e.g. publish not authorised)
  | 'gpio';     // a GPIO backend report that cannot be turned into an event

/**
 * An input that an operator did not turn into output, and why.
 * Nothing is dropped without one of these being reported.
 */
export interface Rejection<I = unknown> {
  /** The stage that refused the input. */
  readonly kind: RejectionKind;
  /** A sentence a person can read: what was wrong, and where. */
  readonly reason: string;
  /** The input as the operator received it. */
  readonly input: I;
}

/** Options every operator that can refuse input accepts. */
export interface RejectOptions<I = unknown> {
  /**
   * Called once for every refused input, synchronously, before the next input is
   * handled. Default: {@link warnOnReject}, which prints to stderr.
   */
  onReject?: (rejection: Rejection<NoInfer<I>>) => void;
  /**
   * When `true`, the first refused input errors the stream with a
   * {@link RejectionError} instead of being reported and skipped. Default `false`.
   */
  strict?: boolean;
}

/** The error a strict operator ends its stream with. */
export class RejectionError<I = unknown> extends Error {
  override readonly name = 'RejectionError';
  constructor(readonly rejection: Rejection<I>) {
    super(`${rejection.kind} rejected: ${rejection.reason}`);
  }
}

const warnedKinds = new Map<RejectionKind, number>();

/**
 * The default reporter: writes the first rejection of each kind to stderr, then
 * every 1,000th with the running count, so a flood of junk stays readable.
 * Pass your own `onReject` to count or store rejections.
 */
export function warnOnReject(rejection: Rejection): void {
  const seen = (warnedKinds.get(rejection.kind) ?? 0) + 1;
  warnedKinds.set(rejection.kind, seen);
  if (seen === 1 || seen % 1000 === 0) {
    const repeat = seen === 1 ? '' : ` (${seen} so far; pass onReject to handle them)`;
    process.stderr.write(`mqtt-iot-stream: ${rejection.kind} rejected: ${rejection.reason}${repeat}\n`);
  }
}

/**
 * Hands a rejection to the user as the options say: throws a
 * {@link RejectionError} when strict, otherwise reports it and returns.
 * Operators call this inside their `next` handler so a throw errors the stream.
 * @internal
 */
export function reject<I>(options: RejectOptions<I> | undefined, rejection: Rejection<I>): void {
  if (options?.strict) throw new RejectionError(rejection);
  (options?.onReject ?? (warnOnReject as (r: Rejection<I>) => void))(rejection);
}
