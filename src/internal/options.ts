/**
 * Checking an operator's options when the operator is made, with one wording and one
 * rule for every operator.
 *
 * The wording: `<operator>: <option> must be <what it takes>, got <the value>`, e.g.
 * `fromMqtt: qos must be 0, 1 or 2, got 3`, with "an integer", "≥" and "got" throughout.
 *
 * The rule: a `TypeError` when the value is not of the option's type: not a number, not
 * a string, not a function, not a boolean, or text that does not read as what the
 * option takes (a duration, a topic, a path). A `RangeError` when it is of the right
 * type but not a value the option allows: out of range, empty, repeated, or not one of
 * the choices (`NaN` is a number out of every range).
 *
 * Defaults are not applied here: each operator keeps one defaults object that its code
 * reads and its TSDoc quotes, and passes `options.x ?? DEFAULTS.x`.
 * @module
 */
import { durationMillis } from '../duration.js';

/** The range of {@link OptionChecks.integer} and {@link OptionChecks.number}. @internal */
export interface NumberRange {
  /** The least value allowed, inclusive. */
  readonly min?: number;
  /** The greatest value allowed, inclusive. */
  readonly max?: number;
  /** Whether `Infinity` is allowed too ("no bound"). Default `false`. */
  readonly infinity?: boolean;
  /** What the number is, as the message names it. Default `'an integer'` (`'a number'` for `number`). */
  readonly noun?: string;
  /** Why the range is what it is, in parentheses after it, e.g. `"pigpio's limit"`. */
  readonly note?: string;
}

/** The range of {@link OptionChecks.duration}. @internal */
export interface DurationRange {
  /** The least number of milliseconds allowed, inclusive. */
  readonly min?: number;
  /** Whether 0 is refused too: a positive duration. */
  readonly positive?: boolean;
  /** Whether `Infinity` is allowed ("never"). Default `false`: the duration must be finite. */
  readonly infinity?: boolean;
  /** Whether only whole milliseconds are allowed. Default `false`. */
  readonly integer?: boolean;
}

/** A choice of {@link OptionChecks.oneOf}. @internal */
export type Choice = string | number | boolean;

/**
 * The checks of one operator's options; every error names the operator, the option
 * and the value, e.g. `optionChecks('cassandraSink').integer('retries',
 * options.retries ?? CASSANDRA_SINK_DEFAULTS.retries, { min: 0, infinity: true })`.
 * @internal
 */
export class OptionChecks {
  /** @param operator - the operator the messages name. */
  constructor(readonly operator: string) {}

  /** An integer in `range` (and `Infinity` if the range allows it). */
  integer(option: string, value: unknown, range: NumberRange = {}): number {
    return this.inRange(option, value, range, true);
  }

  /** An integer ≥ 1 (and `Infinity` if `range.infinity`). */
  positiveInteger(option: string, value: unknown, range: Pick<NumberRange, 'infinity'> = {}): number {
    return this.inRange(option, value, { ...range, min: 1 }, true);
  }

  /** A number in `range`, not `NaN`. */
  number(option: string, value: unknown, range: NumberRange = {}): number {
    return this.inRange(option, value, range, false);
  }

  /** A {@link Duration} in `range`, as milliseconds. Finite unless `range.infinity`. */
  duration(option: string, value: unknown, range: DurationRange = {}): number {
    // Text that is not a duration is a TypeError naming the option (durationMillis).
    const ms = durationMillis(value as number | string, this.operator, option);
    const fits =
      (Number.isFinite(ms) || (ms === Infinity && range.infinity === true)) &&
      (range.positive !== true || ms > 0) &&
      ms >= (range.min ?? -Infinity) &&
      (range.integer !== true || Number.isInteger(ms) || ms === Infinity);
    if (!fits) throw this.error('range', option, durationText(range), value);
    return ms;
  }

  /** One of `choices`; `or` names a further kind of value the caller handles itself. */
  oneOf<const C extends Choice>(option: string, value: unknown, choices: readonly C[], or?: string): C {
    if (choices.includes(value as C)) return value as C;
    const listed = choices.map((choice) => (typeof choice === 'string' ? `'${choice}'` : String(choice)));
    if (or !== undefined) listed.push(or);
    const expected = listed.length === 1 ? listed[0]! : `${listed.slice(0, -1).join(', ')} or ${listed.at(-1)!}`;
    const rightType = choices.some((choice) => typeof choice === typeof value);
    throw this.error(rightType ? 'range' : 'type', option, expected, value);
  }

  /** A function; `shape` shows its signature in the message, e.g. `'(event) => key'`. */
  func<F>(option: string, value: unknown, shape?: string): F {
    if (typeof value !== 'function')
      throw this.error('type', option, shape === undefined ? 'a function' : `a function ${shape}`, value);
    return value as F;
  }

  /** `undefined`, or a function. */
  optionalFunc<F>(option: string, value: unknown, shape?: string): F | undefined {
    return value === undefined ? undefined : this.func<F>(option, value, shape);
  }

  /** `true` or `false`. */
  boolean(option: string, value: unknown): boolean {
    if (typeof value !== 'boolean') throw this.error('type', option, 'true or false', value);
    return value;
  }

  /** `undefined`, `true` or `false`. */
  optionalBoolean(option: string, value: unknown): boolean | undefined {
    return value === undefined ? undefined : this.boolean(option, value);
  }

  /**
   * A non-empty string; `noun` says what it is, e.g. `'a directory path'`. An empty
   * one is a `TypeError` too: no text is no path and no name.
   */
  string(option: string, value: unknown, noun = 'a non-empty string'): string {
    if (typeof value !== 'string' || value === '') throw this.error('type', option, noun, value);
    return value;
  }

  /** The `TypeError` for an option that was left out; `example` shows a value it takes. */
  required(option: string, example?: string): TypeError {
    return new TypeError(`${this.operator}: ${option} is required${example === undefined ? '' : ` (${example})`}`);
  }

  /** The error for an option that is not `expected`, in the one wording. */
  error(kind: 'type' | 'range', option: string, expected: string, value: unknown): TypeError | RangeError {
    const message = `${this.operator}: ${option} must be ${expected}, got ${describeValue(value)}`;
    return kind === 'type' ? new TypeError(message) : new RangeError(message);
  }

  private inRange(option: string, value: unknown, range: NumberRange, integer: boolean): number {
    if (typeof value === 'number') {
      if (value === Infinity && range.infinity) return value;
      const fits =
        (integer ? Number.isInteger(value) : Number.isFinite(value)) &&
        value >= (range.min ?? -Infinity) &&
        value <= (range.max ?? Infinity);
      if (fits) return value;
    }
    const expected = rangeText(range, integer ? 'an integer' : 'a number');
    throw this.error(typeof value === 'number' ? 'range' : 'type', option, expected, value);
  }
}

/** The option checks of `operator`. @internal */
export function optionChecks(operator: string): OptionChecks {
  return new OptionChecks(operator);
}

/** `an integer from 0 to 53`, `an integer ≥ 1 or Infinity`, `a number ≤ 20 (why)`. */
function rangeText(range: NumberRange, noun: string): string {
  const { min, max } = range;
  let text = range.noun ?? noun;
  if (min !== undefined && max !== undefined) text += ` from ${min} to ${max}`;
  else if (min !== undefined) text += ` ≥ ${min}`;
  else if (max !== undefined) text += ` ≤ ${max}`;
  if (range.infinity) text += ' or Infinity';
  if (range.note !== undefined) text += ` (${range.note})`;
  return text;
}

/** `a positive duration`, `a duration ≥ 0`, `a duration ≥ 1 ms in integer milliseconds`, `a finite duration`. */
function durationText(range: DurationRange): string {
  let text: string;
  if (range.positive) text = 'a positive duration';
  else if (range.min === undefined) text = range.infinity ? 'a duration' : 'a finite duration';
  else text = range.min === 0 ? 'a duration ≥ 0' : `a duration ≥ ${range.min} ms`;
  if (range.integer) text += ' in integer milliseconds';
  if (range.infinity) text += ' or Infinity';
  return text;
}

/**
 * A value as a message shows it: text quoted (`"final"`), numbers as they print (`NaN`,
 * `1.5`), a function, array or object by what it is, short enough for one line.
 * @internal
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
    case 'function':
      return 'a function';
    case 'symbol':
      return value.toString();
    case 'object': {
      if (value === null) return 'null';
      const prototype: unknown = Object.getPrototypeOf(value);
      // Plain data as JSON when short; anything else (a Map, a Date, a client) by its class.
      if (Array.isArray(value) || prototype === Object.prototype || prototype === null) {
        let json: string | undefined;
        try {
          json = JSON.stringify(value);
        } catch {
          json = undefined;
        }
        if (json !== undefined && json.length <= 60) return json;
        return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
      }
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
    }
    default:
      return String(value);
  }
}
