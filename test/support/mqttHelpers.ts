// Small helpers for the MQTT integration tests: waiting for a condition with a
// generous deadline (never a fixed sleep), and clients that are always closed.
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

/** Polls `condition` until it holds; fails after `deadlineMs` saying what was awaited. */
export async function waitFor(condition: () => boolean, what: string | (() => string), deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const clients = new Set<MqttClient>();

/** Connects a test client (MQTT 5 unless told otherwise); closeClients() ends it. */
export async function testClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, ...options });
  client.on('error', () => undefined);
  clients.add(client);
  return client;
}

/** Ends every test client; call from afterEach/after. */
export async function closeClients(): Promise<void> {
  await Promise.all([...clients].map((client) => client.endAsync(true)));
  clients.clear();
}

/** Counts broker log lines matching `pattern`. */
export function countLog(log: string, pattern: RegExp): number {
  return log.split('\n').filter((line) => pattern.test(line)).length;
}
