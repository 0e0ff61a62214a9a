/**
 * MQTT topic filters: matching a topic against a filter, shared subscriptions.
 * @module
 */

/**
 * The filter a subscription matches topics with: `$share/<group>/<filter>` is a
 * shared subscription on `<filter>`.
 */
export function filterOf(subscription: string): string {
  if (!subscription.startsWith('$share/')) return subscription;
  const afterGroup = subscription.indexOf('/', '$share/'.length);
  return afterGroup === -1 ? subscription : subscription.slice(afterGroup + 1);
}

/**
 * Whether `topic` matches `filter` by the MQTT rules: `+` is one level, a final `#`
 * is any number of levels including none, and wildcards at the start do not match
 * topics beginning with `$` (such as `$SYS/…`).
 */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filterOf(filter).split('/');
  const topicLevels = topic.split('/');
  if (topic.startsWith('$') && (filterLevels[0] === '#' || filterLevels[0] === '+')) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
