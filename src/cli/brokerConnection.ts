// The publisher's connection to the broker, opened when the command starts: a wrong
// --broker, a stopped broker or refused credentials are reported at once, not at the
// first button press (which on a Pi may be hours later, or never).
import { connect, type IClientOptions, type MqttClient } from 'mqtt';

/** How long the first connection may take before the command gives up. */
const FIRST_CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects to `url` and resolves once the broker has accepted us (CONNACK). Rejects with
 * one sentence naming the cause, and leaves nothing open, when the first attempt fails.
 * After that first success MQTT.js reconnects by itself; `onStatus` hears about each
 * loss and return of the connection.
 */
export function connectBroker(
  url: string,
  options: IClientOptions,
  onStatus: (line: string) => void,
): Promise<MqttClient> {
  const client = connect(url, { connectTimeout: FIRST_CONNECT_TIMEOUT_MS, ...options });
  return new Promise<MqttClient>((resolve, reject) => {
    const fail = (reason: string): void => {
      cleanup();
      client.end(true); // force: no DISCONNECT to send, and nothing must stay open
      reject(new Error(reason));
    };
    const onConnect = (): void => {
      cleanup();
      let lost = false;
      client.on('offline', () => {
        if (!lost) onStatus(`lost the connection to ${url}; reconnecting`);
        lost = true;
      });
      client.on('connect', () => {
        if (lost) onStatus(`connected to ${url} again`);
        lost = false;
      });
      // After the first connect, errors are MQTT.js's to retry; without a listener
      // an 'error' event would end the process with a stack.
      client.on('error', () => {});
      resolve(client);
    };
    const onError = (error: Error & { code?: string | number }): void => fail(describeFailure(url, error));
    // No CONNACK and no error: an answer that is not MQTT, or the connect timeout.
    const onClose = (): void =>
      fail(
        `the MQTT broker at ${url} closed the connection before accepting it (wrong port, or a TLS port: use mqtts://)`,
      );
    const cleanup = (): void => {
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
    };
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
}

function describeFailure(url: string, error: Error & { code?: string | number }): string {
  if (error.message === 'connack timeout')
    return `no answer from the MQTT broker at ${url} within ${FIRST_CONNECT_TIMEOUT_MS / 1000} s`;
  if (typeof error.code === 'number')
    return `the MQTT broker at ${url} refused the connection: ${error.message} (check --username and --password)`;
  switch (error.code) {
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${url} (is the broker running? --broker sets the address)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the broker host in ${url} (${error.code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return `cannot reach the MQTT broker at ${url} (${error.code})`;
    default:
      return `cannot connect to the MQTT broker at ${url}: ${error.message}${error.code === undefined ? '' : ` (${error.code})`}`;
  }
}
