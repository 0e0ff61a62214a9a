/**
 * One way, shared by every operator, to hand bad input to the user: a rejection
 * value with a readable reason, passed to `onReject`, or (with `strict`) an error
 * that ends the stream.
 *
 * @module
 */

/** Which stage of the pipeline refused an input, or why. */
export type RejectionKind =
  | 'payload' // undecodable MQTT payload (not JSON, wrong shape)
  | 'timestamp' // an event time that cannot be read
  | 'line' // an access-log line that is not one
  | 'late' // an event whose window was already final
  | 'future' // an event time too far ahead of the clock (windowedCount's maxEventTimeAhead)
  | 'value' // an event whose value to aggregate cannot be read (windowedAggregate)
  | 'message' // any other refused message (e.g. publish not authorised)
  | 'row' // a value cassandraSink cannot write (toValues throws, a value of the wrong type)
  | 'queue-full' // a value a writing operator had no room for (onQueueFull: 'reject')
  | 'gpio'; // a GPIO backend report that cannot be turned into an event

/**
 * An input that an operator did not turn into output, and why.
 * Nothing is dropped without one of these being reported.
 *
 * Hostile input stays readable: `reason` is at most 500 characters followed by
 * `… (N more characters)`, and an `input` that is a string longer than 1,000
 * characters (a 16 MiB "log line") is handed over as its first 1,000 characters
 * followed by the same marker. Other inputs (an MQTT message with a large payload)
 * are handed over as they are.
 */
export interface Rejection<I = unknown> {
  /** The operator that refused the input: `parseAccessLog`, `toMqtt`, `windowedCount`… */
  readonly operator: string;
  /** The stage that refused the input. */
  readonly kind: RejectionKind;
  /** A sentence a person can read: what was wrong, and where (500 characters at most, plus the marker). */
  readonly reason: string;
  /** The input as the operator received it; a string longer than 1,000 characters is cut (see above). */
  readonly input: I;
}

/** Longest `reason` handed to `onReject`, before the `… (N more characters)` marker. */
const MAX_REASON_LENGTH = 500;
/** Longest string `input` handed to `onReject`, before the marker. */
const MAX_INPUT_LENGTH = 1000;

/**
 * The first `max` characters of `text`, one fewer rather than split a surrogate pair.
 * @internal
 */
export function headOf(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

/**
 * `text` when it has at most `max` characters; otherwise its {@link headOf} followed
 * by `… (N more characters)`.
 * @internal
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = headOf(text, max);
  return `${head}… (${text.length - head.length} more characters)`;
}

/**
 * One line of text whatever `text` holds, of the same length: each C0 control
 * character becomes its Unicode control picture (a line feed shows as `␊`, an escape
 * as `␛`), DEL `␡`, C1 controls and the Unicode line and paragraph separators `�`.
 * Hostile input can then neither split a log line nor drive the terminal.
 * @internal
 */
export function singleLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this replaces
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return code === 0x7f ? '\u2421' : '\ufffd';
  });
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
    super(`${rejection.operator}: ${rejection.kind} rejected: ${rejection.reason}`);
  }
}

const warnedKinds = new Map<RejectionKind, number>();

/**
 * The default reporter: writes the first rejection of each kind to stderr, then
 * every 1,000th with the running count, so a flood of junk stays readable. Each
 * report is one line of at most about 600 characters whatever the reason holds: a
 * long reason is cut, line breaks and control characters are shown as symbols.
 * Pass your own `onReject` to count or store rejections.
 */
export function warnOnReject(rejection: Rejection): void {
  const seen = (warnedKinds.get(rejection.kind) ?? 0) + 1;
  warnedKinds.set(rejection.kind, seen);
  if (seen === 1 || seen % 1000 === 0) {
    const repeat = seen === 1 ? '' : ` (${seen} so far; pass onReject to handle them)`;
    // Cut again: a caller may pass a rejection that did not go through reject().
    const reason = singleLine(truncateText(String(rejection.reason), MAX_REASON_LENGTH));
    process.stderr.write(
      `mqtt-iot-stream: ${singleLine(String(rejection.operator))}: ${singleLine(String(rejection.kind))} rejected: ${reason}${repeat}\n`,
    );
  }
}

/**
 * Hands a rejection to the user as the options say: throws a
 * {@link RejectionError} when strict, otherwise reports it and returns.
 * Operators call this inside their `next` handler so a throw errors the stream.
 * The reason and a string input are cut to a readable length first (see {@link Rejection}).
 * @internal
 */
export function reject<I>(options: RejectOptions<I> | undefined, rejection: Rejection<I>): void {
  const bounded: Rejection<I> = {
    operator: rejection.operator,
    kind: rejection.kind,
    reason: truncateText(rejection.reason, MAX_REASON_LENGTH),
    // A string input is cut to a string, so it is still an I.
    input:
      typeof rejection.input === 'string' ? (truncateText(rejection.input, MAX_INPUT_LENGTH) as I) : rejection.input,
  };
  if (options?.strict) throw new RejectionError(bounded);
  (options?.onReject ?? (warnOnReject as (r: Rejection<I>) => void))(bounded);
}
