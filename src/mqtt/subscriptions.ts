/**
 * Reference counts of the filters our operators subscribed on each client, so that
 * two `fromMqtt` on one client and one filter do not unsubscribe each other.
 * @module
 */
import type { MqttClient } from 'mqtt';

const counts = new WeakMap<MqttClient, Map<string, number>>();

/** Counts one more user of each filter; returns the filters nobody had subscribed yet. @internal */
export function acquireFilters(client: MqttClient, filters: readonly string[]): string[] {
  let perClient = counts.get(client);
  if (perClient === undefined) counts.set(client, (perClient = new Map()));
  const fresh: string[] = [];
  for (const filter of filters) {
    const count = perClient.get(filter) ?? 0;
    if (count === 0) fresh.push(filter);
    perClient.set(filter, count + 1);
  }
  return fresh;
}

/** Counts one less user of each filter; returns the filters nobody uses any more. @internal */
export function releaseFilters(client: MqttClient, filters: readonly string[]): string[] {
  const perClient = counts.get(client);
  if (perClient === undefined) return [];
  const unused: string[] = [];
  for (const filter of filters) {
    const count = (perClient.get(filter) ?? 0) - 1;
    if (count <= 0) {
      perClient.delete(filter);
      unused.push(filter);
    } else {
      perClient.set(filter, count);
    }
  }
  return unused;
}
