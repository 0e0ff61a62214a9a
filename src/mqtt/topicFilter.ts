/**
 * MQTT topic filters: matching a topic against a filter, shared subscriptions, and
 * the rules a topic name and a topic filter follow.
 * @module
 */
import { validateTopics } from 'mqtt';

/**
 * The filter a subscription matches topics with: `$share/<group>/<filter>` is a
 * shared subscription on `<filter>`.
 */
function filterOf(subscription: string): string {
  if (!subscription.startsWith('$share/')) return subscription;
  const afterGroup = subscription.indexOf('/', '$share/'.length);
  return afterGroup === -1 ? subscription : subscription.slice(afterGroup + 1);
}

/**
 * Whether `topic` matches `filter` by the MQTT rules: `+` is one level, a final `#`
 * is any number of levels including none, and wildcards at the start do not match
 * topics beginning with `$` (such as `$SYS/…`). A shared subscription
 * `$share/<group>/<filter>` matches as `<filter>`. `fromMqtt` uses this to pick
 * its own messages from a client shared with other subscriptions.
 *
 * @example
 * ```ts
 * import { topicMatches } from 'mqtt-iot-stream';
 * topicMatches('sensors/+/log', 'sensors/pi1/log');       // true
 * topicMatches('sensors/#', 'sensors');                   // true
 * topicMatches('$share/aggregators/rupesh/#', 'rupesh/gpiotopic'); // true
 * topicMatches('#', '$SYS/broker/uptime');                // false
 * ```
 *
 * @param filter - a topic filter, possibly with wildcards or a `$share/<group>/` prefix.
 * @param topic - the topic a message was published to.
 * @returns whether a subscription to `filter` receives messages on `topic`.
 */
export function topicMatches(filter: string, topic: string): boolean {
  return topicMatcher(filter)(topic);
}

/**
 * A function that tells whether a topic matches `filter`, prepared once: an exact
 * filter is a string comparison, a wildcard filter is split into levels once.
 * @internal
 */
export function topicMatcher(filter: string): (topic: string) => boolean {
  const plain = filterOf(filter);
  if (!plain.includes('+') && !plain.includes('#')) return (topic) => topic === plain;
  const filterLevels = plain.split('/');
  const leadingWildcard = filterLevels[0] === '#' || filterLevels[0] === '+';
  return (topic) => {
    if (leadingWildcard && topic.startsWith('$')) return false;
    const topicLevels = topic.split('/');
    for (let i = 0; i < filterLevels.length; i++) {
      const level = filterLevels[i];
      if (level === '#') return true;
      if (i >= topicLevels.length) return false;
      if (level !== '+' && level !== topicLevels[i]) return false;
    }
    return filterLevels.length === topicLevels.length;
  };
}

/** The longest topic MQTT can carry: a two-byte length, in bytes of UTF-8. */
const MAX_TOPIC_BYTES = 65_535;

// The rules every topic and filter follow (MQTT 3.1.1 §4.7.3, MQTT 5 §4.7.3): not empty,
// no NUL character, at most 65,535 bytes of UTF-8. What a topic must be when it breaks one.
function basicTopicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'a non-empty topic';
  if (topic.includes('\u0000')) return 'a topic without NUL characters';
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) return `a topic of at most ${MAX_TOPIC_BYTES} bytes`;
  return undefined;
}

/**
 * What a topic to publish to must be, when `topic` is not one (in the words of the
 * options toolkit: `topic must be <this>, got …`); `undefined` when it is one.
 * `toMqtt` and the command line's `publish --topic` check with it.
 * @internal
 */
export function topicNameProblem(topic: string): string | undefined {
  return (
    basicTopicProblem(topic) ??
    (/[+#]/.test(topic) ? 'a topic to publish to, without the wildcards + and # (they are for subscribing)' : undefined)
  );
}

/**
 * What a topic filter must be, when `filter` is not one (`+` a whole level, `#` the
 * whole last level, MQTT.js's rule); `undefined` when it is one. `fromMqtt` and the
 * command line's `aggregate --topic` check with it.
 * @internal
 */
export function topicFilterProblem(filter: string): string | undefined {
  return (
    basicTopicProblem(filter) ??
    (validateTopics([filter]) === null
      ? undefined
      : 'a topic filter: + stands for a whole level and # for the whole last level')
  );
}
