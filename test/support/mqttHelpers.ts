// Small helpers for the MQTT integration tests: clients that are always closed, and
// counting broker log lines. (Waiting for a condition: waitFor.ts.)
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

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
