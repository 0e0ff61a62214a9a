// What a flag's value must look like, and what it means: each reader takes the text
// (from the command line, the environment or the default) and returns the value the
// command uses, or throws a FlagValueProblem saying what the value must be. The caller
// puts the flag's name in front. They run before a command opens anything, so a bad
// flag is one line and an exit, never a half-started broker, client or Cassandra session.
//
// Where the library has the rule, the reader asks the library: the broker URL schemes,
// the topic rules, CQL names, aggregator names and durations are each one copy, shared
// with the operators.
import { accessSync, constants, statSync } from 'node:fs';
import { isCqlIdentifier } from '../cassandra/identifier.js';
import { isStateDirectoryName } from '../durable/stateFiles.js';
import { describeDuration, durationMillis } from '../duration.js';
import { BROKER_URL_SCHEMES, SUGGESTED_BROKER_SCHEMES, urlScheme } from '../mqtt/connection.js';
import { topicFilterProblem, topicNameProblem } from '../mqtt/topicFilter.js';
import { userPropertyNameProblem } from '../payload/eventTimeProperty.js';

/** What is wrong with a flag's value, as `must be …, got "…"` (the flag's name goes in front). */
export class FlagValueProblem extends Error {
  override readonly name = 'FlagValueProblem';
}

/** Reads a flag's text into the value a command uses; throws a {@link FlagValueProblem}. */
export type FlagReader<T> = (text: string) => T;

const got = (text: string): string => `got ${JSON.stringify(text)}`;

function refuse(expected: string, text: string): never {
  throw new FlagValueProblem(`must be ${expected}, ${got(text)}`);
}

/** `1, 2 or 3` */
function listed(choices: readonly string[]): string {
  return choices.length === 1 ? choices[0]! : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)!}`;
}

/** Any text, as given (a user name, a password: the broker decides). */
export const anyText: FlagReader<string> = (text) => text;

/** Text that is not empty or blank. */
export const nonEmpty: FlagReader<string> = (text) => {
  if (text.trim() === '') throw new FlagValueProblem('must not be empty');
  return text;
};

/** One of the listed words; `why` says why those, in parentheses after them. */
export function oneOf<const C extends string>(choices: readonly C[], why?: string): FlagReader<C> {
  const expected = why === undefined ? listed(choices) : `${listed(choices)} (${why})`;
  return (text) => (choices.includes(text as C) ? (text as C) : refuse(expected, text));
}

/** One of the listed numbers (a QoS level), as a number. */
export function oneOfNumbers<const N extends number>(choices: readonly N[], why?: string): FlagReader<N> {
  const read = oneOf(choices.map(String), why);
  return (text) => Number(read(text)) as N;
}

/** A whole number within a range. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER, noun = 'a whole number'): FlagReader<number> {
  const range = max === Number.MAX_SAFE_INTEGER ? `${noun} ≥ ${min}` : `${noun} from ${min} to ${max}`;
  return (text) => {
    const value = Number(text);
    return text.trim() !== '' && Number.isInteger(value) && value >= min && value <= max ? value : refuse(range, text);
  };
}

/** A number (fractions allowed) within a range; `above` makes the least value exclusive. */
export function decimalNumber(min: number, max: number, above = false): FlagReader<number> {
  const range = above ? `a number above ${min}, up to ${max}` : `a number from ${min} to ${max}`;
  return (text) => {
    const value = Number(text);
    const fits = text.trim() !== '' && Number.isFinite(value) && (above ? value > min : value >= min) && value <= max;
    return fits ? value : refuse(range, text);
  };
}

/** A BCM GPIO number, as the GPIO operators take them. */
export const gpioPin: FlagReader<number> = wholeNumber(0, 53, 'a BCM GPIO number');

/**
 * A broker URL with a scheme MQTT.js connects with (the library's one list) and, but for
 * the Unix socket forms, a host.
 */
export const brokerUrl: FlagReader<string> = (text) => {
  const scheme = urlScheme(text);
  let host: string | undefined;
  try {
    host = new URL(text).hostname;
  } catch {
    host = undefined;
  }
  const usable = BROKER_URL_SCHEMES.includes(scheme) && (scheme.endsWith('+unix') || (host ?? '') !== '');
  return usable ? text : refuse(`a broker URL such as mqtt://localhost:1883 (${SUGGESTED_BROKER_SCHEMES})`, text);
};

/** A topic to publish to (toMqtt's rule). */
export const topicName: FlagReader<string> = (text) => {
  const problem = topicNameProblem(text);
  return problem === undefined ? text : refuse(problem, text);
};

/** A topic filter to subscribe to (fromMqtt's rule). */
export const topicFilter: FlagReader<string> = (text) => {
  const problem = topicFilterProblem(text);
  return problem === undefined ? text : refuse(problem, text);
};

/** The name of an MQTT 5 user property (the library's rule). */
export const userPropertyName: FlagReader<string> = (text) => {
  const problem = text === '' ? 'the name of a user property' : userPropertyNameProblem(text);
  return problem === undefined ? text : refuse(problem, text);
};

/** Topics starting with `$` belong to the broker ($SYS/…, $share/…): it drops what clients publish there. */
export function reservedTopicWarning(topic: string): string | undefined {
  return topic.startsWith('$')
    ? `topics starting with $ (such as $SYS/… and $share/…) are the broker's: most brokers, Mosquitto included, silently drop messages published to ${JSON.stringify(topic)}`
    : undefined;
}

/** The name of a shared-subscription group: one topic level, no wildcards. */
export const shareGroup: FlagReader<string> = (text) =>
  text !== '' && !/[/+#]/.test(text) ? text : refuse('a group name without /, + or #', text);

/** A plain CQL identifier (keyspace or table name), by the library's rule. */
export const cqlIdentifier: FlagReader<string> = (text) =>
  isCqlIdentifier(text)
    ? text
    : refuse('a plain CQL name: a letter, then letters, digits or _, at most 48 characters, not a CQL keyword', text);

/**
 * An aggregator's id: empty (one aggregator, state in `default`), or a name that can
 * name its state directory (the library's one rule: 1 to 100 letters, digits, '.', '_'
 * or '-', not `.` or `..`).
 */
export const aggregatorId: FlagReader<string> = (text) =>
  text === '' || isStateDirectoryName(text)
    ? text
    : refuse("up to 100 letters, digits, '.', '_' or '-' (not . or ..)", text);

/** Comma-separated Cassandra contact points, each `host` or `host:port`. */
export const cassandraContactPoints: FlagReader<string> = (text) => {
  const bad = text
    .split(',')
    .map((point) => point.trim())
    .find((point) => {
      const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]]+)(?::(\d+))?$/i.exec(point);
      return match === null || (match[2] !== undefined && (Number(match[2]) < 1 || Number(match[2]) > 65_535));
    });
  return bad === undefined
    ? text
    : refuse('contact points such as 127.0.0.1:9042 (host or host:port, comma-separated)', text);
};

/** A readable regular file; the path as given. */
export const readableFile: FlagReader<string> = (text) => {
  try {
    if (!statSync(text).isFile()) throw new FlagValueProblem(`must be a file, and ${JSON.stringify(text)} is not one`);
    accessSync(text, constants.R_OK);
    return text;
  } catch (error) {
    if (error instanceof FlagValueProblem) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new FlagValueProblem(`cannot be read: ${JSON.stringify(text)}: ${reason}`);
  }
};

/** A readable file, or `-` for standard input. */
export const fileOrStdin: FlagReader<string> = (text) => (text === '-' ? text : readableFile(text));

/** How a duration flag reads. */
export interface DurationFlagOptions {
  /** The least length allowed, in ms (default 0). `off` and 0 mean "none" when `off` is set. */
  readonly min?: number;
  /** The greatest length allowed, in ms. */
  readonly max?: number;
  /** Whether `off` (and 0) is taken, read as `undefined`. */
  readonly off?: boolean;
  /** Whether the length must be whole seconds (MQTT's session expiry is in seconds). */
  readonly wholeSeconds?: boolean;
}

/** The lengths of time every duration flag takes, for messages. */
export const DURATION_FORMS = "a length of time such as '1 minute', '10 s' or 500 (milliseconds)";

/**
 * A length of time: a bare number is milliseconds, text is read by the library's one
 * duration parser (the operators' options take the same: '500 ms', '10 s', '1 minute',
 * '2 hours', '7 days'). With `off`, `off` or 0 give `undefined`.
 */
export function duration(options: DurationFlagOptions & { readonly off: true }): FlagReader<number | undefined>;
export function duration(options?: DurationFlagOptions): FlagReader<number>;
export function duration(options: DurationFlagOptions = {}): FlagReader<number | undefined> {
  const { min = 0, max = Infinity, off = false, wholeSeconds = false } = options;
  const expected = `${DURATION_FORMS}${off ? ', or off' : ''}`;
  return (text) => {
    if (off && (text === 'off' || text === '0')) return undefined;
    let ms: number;
    if (/^\s*\d+(\.\d+)?\s*$/.test(text)) {
      ms = Number(text);
    } else {
      try {
        ms = durationMillis(text, '', '');
      } catch {
        return refuse(expected, text);
      }
    }
    const bare = /^\s*\d/.test(text) && !/[a-z]/i.test(text);
    const hint = bare ? ` (a bare number is milliseconds: '${text.trim()} s' is ${text.trim()} seconds)` : '';
    if (ms < min)
      throw new FlagValueProblem(
        `must be at least ${describeDuration(min)}${off ? ' (or off)' : ''}, ${got(text)}${hint}`,
      );
    if (ms > max) throw new FlagValueProblem(`must be at most ${describeDuration(max)}, ${got(text)}`);
    if (wholeSeconds && ms % 1000 !== 0) throw new FlagValueProblem(`must be whole seconds, ${got(text)}${hint}`);
    return ms;
  };
}

/** A positive length of time (a window). */
export function positiveDuration(): FlagReader<number> {
  const read = duration();
  return (text) => {
    const ms = read(text);
    if (ms <= 0) throw new FlagValueProblem(`must be ${DURATION_FORMS}, above 0, ${got(text)}`);
    return ms;
  };
}
