/**
 * The event time read from an MQTT 5 user property instead of the payload's
 * `iottimestamp`: {@link decodeIotPayload}'s `eventTimeProperty`.
 * @module
 */
import { optionChecks } from '../internal/options.js';
import type { MqttMessageProperties } from '../mqtt/message.js';
import { describeValue } from './codec.js';
import { parseEventTime } from './timestamp.js';

/**
 * Epoch milliseconds below this (1973-03-03) are refused: such a number is far more
 * likely epoch seconds (10 digits until 2286), which read as milliseconds would land
 * every event in January 1970.
 */
const LEAST_EPOCH_MILLIS = 1e11;
/** The last instant a `Date` holds. */
const GREATEST_EPOCH_MILLIS = 8.64e15;
const DIGITS = /^\d{1,16}$/;

/** The forms the property's value may take, as the rejection names them. */
const FORMS =
  'a time like "2020-07-01 12:34:56.789012" (UTC), ISO 8601 ("2020-07-01T12:34:56.789Z") or epoch milliseconds';

/** Why a message's event-time property cannot be read. @internal */
export interface PropertyTimeProblem {
  readonly problem: string;
}

/**
 * What `name` must be beyond a non-empty string, or `undefined` when it is a name an
 * MQTT 5 user property can have: no U+0000, at most 65,535 UTF-8 bytes (MQTT 5 §1.5.4).
 * @internal
 */
export function userPropertyNameProblem(name: string): string | undefined {
  if (name.includes('\u0000')) return 'a user property name without U+0000 (MQTT strings cannot hold it)';
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: a short name needs no counting.
  if (name.length > 21_845 && Buffer.byteLength(name, 'utf8') > 65_535)
    return "a user property name of at most 65,535 UTF-8 bytes (MQTT's limit)";
  return undefined;
}

/**
 * The `eventTimeProperty` option of `caller`, checked: `undefined` (off) or the name of
 * a user property.
 * @internal
 */
export function eventTimePropertyOption(value: unknown, caller: string): string | undefined {
  if (value === undefined) return undefined;
  const check = optionChecks(caller);
  const name = check.string('eventTimeProperty', value, 'the name of a user property (a non-empty string)');
  const problem = userPropertyNameProblem(name);
  if (problem !== undefined) throw check.error('range', 'eventTimeProperty', problem, name);
  return name;
}

/** One value of the property as epoch milliseconds, or `undefined` when it is none of {@link FORMS}. */
function readTime(text: string): number | undefined {
  if (DIGITS.test(text)) {
    const millis = Number(text);
    return millis >= LEAST_EPOCH_MILLIS && millis <= GREATEST_EPOCH_MILLIS ? millis : undefined;
  }
  return parseEventTime(text);
}

function unreadable(name: string, value: unknown, which: string): PropertyTimeProblem {
  const seconds =
    typeof value === 'string' && DIGITS.test(value) && Number(value) < LEAST_EPOCH_MILLIS
      ? ' (epoch seconds? milliseconds before 1973 are refused)'
      : '';
  return {
    problem: `user property "${name}"${which} is ${describeValue(value)}, not ${FORMS}${seconds}`,
  };
}

/**
 * The event time a message carries in its MQTT 5 user property `name`, as epoch
 * milliseconds; `undefined` when it has no such property; or why it cannot be read.
 *
 * A name given several times (MQTT.js gives an array) is read when every value is
 * readable and all are the same instant; values that disagree are a problem naming the
 * first two that do.
 * @internal
 */
export function eventTimeInProperty(
  properties: MqttMessageProperties,
  name: string,
): number | undefined | PropertyTimeProblem {
  const user = properties.userProperties;
  // hasOwn: a hand-made message's plain object inherits "constructor" and friends.
  if (user === undefined || !Object.hasOwn(user, name)) return undefined;
  const value: unknown = user[name];
  if (typeof value === 'string') return readTime(value) ?? unreadable(name, value, '');
  if (!Array.isArray(value)) return unreadable(name, value, '');
  let first: number | undefined;
  for (let i = 0; i < value.length; i++) {
    const text: unknown = value[i];
    const time = typeof text === 'string' ? readTime(text) : undefined;
    if (time === undefined) return unreadable(name, text, ` (value ${i + 1} of ${value.length})`);
    if (first === undefined) first = time;
    else if (time !== first)
      return {
        problem: `user property "${name}" is given ${value.length} times, with different times: ${describeValue(value[0])} and ${describeValue(text)}`,
      };
  }
  return first;
}
