// What a flag's value must look like. Each check returns the problem in words (the
// caller puts the flag's name in front), or undefined when the value will do. They
// run before a command opens anything, so a bad flag is one line and an exit, never
// a half-started broker, client or Cassandra session.
import { WindowedCountState, isCqlIdentifier } from '../index.js';
import { accessSync, constants, statSync } from 'node:fs';

/** Tells what is wrong with a flag's value, or returns undefined when it is usable. */
export type FlagCheck = (value: string) => string | undefined;

const got = (value: string): string => `got ${JSON.stringify(value)}`;

/** One of the listed words. */
export const oneOf =
  (...choices: readonly string[]): FlagCheck =>
  (value) =>
    choices.includes(value)
      ? undefined
      : `must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, ${got(value)}`;

/** A whole number within a range. */
export const wholeNumber =
  (min = 0, max = Number.MAX_SAFE_INTEGER): FlagCheck =>
  (value) => {
    const number = Number(value);
    if (value.trim() !== '' && Number.isInteger(number) && number >= min && number <= max) return undefined;
    return `must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}, ${got(value)}`;
  };

/** A number (fractions allowed) within a range. */
export const decimalNumber =
  (min: number, max: number): FlagCheck =>
  (value) => {
    const number = Number(value);
    if (value.trim() !== '' && Number.isFinite(number) && number >= min && number <= max) return undefined;
    return `must be a number from ${min} to ${max}, ${got(value)}`;
  };

/** A BCM GPIO number, as the GPIO operators take them. */
export const gpioPin: FlagCheck = (value) =>
  wholeNumber(0, 53)(value) === undefined ? undefined : `must be a BCM GPIO number from 0 to 53, ${got(value)}`;

/** The protocols MQTT.js connects with; http:// and friends are not MQTT. */
const MQTT_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

/** A broker URL: mqtt://, mqtts://, ws:// or wss://, with a host. */
export const brokerUrl: FlagCheck = (value) => {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url !== undefined && MQTT_PROTOCOLS.includes(url.protocol) && url.hostname !== '') return undefined;
  return `must be a broker URL such as mqtt://localhost:1883 (mqtt://, mqtts://, ws:// or wss://), ${got(value)}`;
};

// Topic rules shared by publishing and subscribing (MQTT 3.1.1 §4.7.3): not empty,
// no NUL character, at most 65,535 bytes of UTF-8.
function topicBasics(value: string): string | undefined {
  if (value === '') return 'must not be empty';
  if (value.includes('\u0000')) return 'must not contain a NUL character';
  if (Buffer.byteLength(value) > 65_535) return 'must be at most 65535 bytes long';
  return undefined;
}

/** A topic to publish to: no wildcards (MQTT forbids them in PUBLISH). */
export const publishTopic: FlagCheck = (value) => {
  const basic = topicBasics(value);
  if (basic !== undefined) return basic;
  if (value.includes('+') || value.includes('#')) {
    return `must be a topic to publish to, without the wildcards + and # (they are for subscribing), ${got(value)}`;
  }
  return undefined;
};

/** A topic filter to subscribe to: `+` as a whole level, `#` as the whole last level. */
export const topicFilter: FlagCheck = (value) => {
  const basic = topicBasics(value);
  if (basic !== undefined) return basic;
  const levels = value.split('/');
  const misplaced = levels.some(
    (level, index) =>
      (level.includes('+') && level !== '+') || (level.includes('#') && (level !== '#' || index !== levels.length - 1)),
  );
  return misplaced
    ? `must be a topic filter: + stands for a whole level and # for the whole last level, ${got(value)}`
    : undefined;
};

/** Topics starting with `$` belong to the broker ($SYS/…, $share/…): it drops what clients publish there. */
export function reservedTopicWarning(topic: string): string | undefined {
  return topic.startsWith('$')
    ? `topics starting with $ (such as $SYS/… and $share/…) are the broker's: most brokers, Mosquitto included, silently drop messages published to ${JSON.stringify(topic)}`
    : undefined;
}

/** The name of a shared-subscription group: one topic level, no wildcards. */
export const shareGroup: FlagCheck = (value) =>
  value !== '' && !/[/+#]/.test(value) ? undefined : `must be a group name without /, + or #, ${got(value)}`;

/** A plain CQL identifier (keyspace or table name). */
export const cqlIdentifier: FlagCheck = (value) =>
  isCqlIdentifier(value)
    ? undefined
    : `must be a plain CQL name: a letter, then letters, digits or _, at most 48 characters, not a CQL keyword, ${got(value)}`;

/** Comma-separated Cassandra contact points, each `host` or `host:port`. */
export const cassandraContactPoints: FlagCheck = (value) => {
  const bad = value
    .split(',')
    .map((point) => point.trim())
    .find((point) => {
      const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]]+)(?::(\d+))?$/i.exec(point);
      return match === null || (match[2] !== undefined && wholeNumber(1, 65_535)(match[2]) !== undefined);
    });
  return bad === undefined
    ? undefined
    : `must be contact points such as 127.0.0.1:9042 (host or host:port, comma-separated), ${got(value)}`;
};

/** Not empty. */
export const nonEmpty: FlagCheck = (value) => (value.trim() === '' ? 'must not be empty' : undefined);

/** A readable regular file. */
export const readableFile: FlagCheck = (value) => {
  try {
    if (!statSync(value).isFile()) return `must be a file, and ${JSON.stringify(value)} is not one`;
    accessSync(value, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    return `cannot be read: ${JSON.stringify(value)}: ${reason}`;
  }
};

/**
 * A window length or watermark delay as `windowedCount` takes it ('1 minute', '10 s').
 * The check asks the window state machine itself, so the CLI accepts exactly what the
 * operator does.
 */
export const duration =
  (role: 'window' | 'watermark'): FlagCheck =>
  (value) => {
    try {
      new WindowedCountState(
        {
          eventTime: () => 0,
          key: () => 0,
          windowDuration: role === 'window' ? value : '1 minute',
          watermarkDelay: role === 'watermark' ? value : 0,
        },
        () => {},
      );
      return undefined;
    } catch {
      return `must be a length of time such as '1 minute', '10 s' or '500 ms'${role === 'window' ? ' (more than 0)' : ''}, ${got(value)}`;
    }
  };
