// publish's connection to the broker, opened when the command starts: a wrong
// --broker, a stopped broker or refused credentials are reported at once, not at the
// first button press (which on a Pi may be hours later, or never). Which failures are
// final and how they read is the library's (watchConnection, finalConnectionError),
// the same as toMqtt's own: failureMessage.ts only puts the flags in.
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { redactCredentials } from '../mqtt/connection.js';
import { watchConnection } from '../mqtt/watchConnection.js';

/** How long the first connection may take before the command gives up (also the aggregator's). */
export const FIRST_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects to `url` and resolves once the broker has accepted us (CONNACK). Rejects,
 * leaving nothing open, with the library's MqttConnectionError when the first attempt
 * fails. After that MQTT.js reconnects by itself; `onStatus` hears each loss and return
 * of the connection (the URL without its password).
 */
export function connectBroker(
  url: string,
  options: IClientOptions,
  onStatus: (line: string) => void,
): Promise<MqttClient> {
  const broker = redactCredentials(url);
  const client = connect(url, { connectTimeout: FIRST_CONNECT_TIMEOUT_MS, ...options });
  // Errors after the first connect are MQTT.js's to retry; without a listener an
  // 'error' event would end the process with a stack.
  client.on('error', () => {});
  return new Promise<MqttClient>((resolve, reject) => {
    const stopWatching = watchConnection('toMqtt', client, broker, (error) => {
      client.removeListener('connect', onConnect);
      client.end(true); // force: no DISCONNECT to send, and nothing must stay open
      reject(error);
    });
    const onConnect = (): void => {
      stopWatching();
      let lost = false;
      client.on('offline', () => {
        if (!lost) onStatus(`lost the connection to ${broker}; reconnecting`);
        lost = true;
      });
      client.on('connect', () => {
        if (lost) onStatus(`connected to ${broker} again`);
        lost = false;
      });
      resolve(client);
    };
    client.once('connect', onConnect);
  });
}
