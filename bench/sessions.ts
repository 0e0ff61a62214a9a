// The persistent MQTT 5 sessions that the draining benchmarks have the broker fill, then drain.
import { connectAsync } from 'mqtt';
import { persistentSessionOptions } from './durable-pipeline.js';

/** Makes the persistent session `clientId`, subscribed to `filter` at `qos`, and leaves it, so the broker queues for it. */
export async function makeSession(url: string, clientId: string, filter: string, qos: 0 | 1 = 1): Promise<void> {
  const { url: _url, ...options } = persistentSessionOptions(url, clientId);
  const maker = await connectAsync(url, { ...options, reconnectPeriod: 0 });
  await maker.subscribeAsync(filter, { qos });
  await maker.endAsync();
}

/** Ends the session `clientId`, so the broker forgets it. */
export async function endSession(url: string, clientId: string): Promise<void> {
  const cleaner = await connectAsync(url, { clientId, clean: true, protocolVersion: 5, reconnectPeriod: 0 });
  await cleaner.endAsync();
}
