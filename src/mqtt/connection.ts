/**
 * Where a `conn` comes from: a client the user owns, or options from which the
 * operator builds, and later closes, its own client.
 * @module
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { MqttConnectionError, type MqttOperator } from './connectionError.js';
import { holdsOutgoing } from './manualAck.js';

/** Options for a client the operator builds and owns: MQTT.js options plus `url`. */
export interface MqttConnectOptions extends IClientOptions {
  /** Broker URL such as `mqtt://localhost:1883` or `mqtts://broker:8883`. */
  url?: string;
}

/**
 * How an operator reaches the broker.
 *
 * - an `MqttClient` you made with `mqtt.connect()`: you own it; the operator adds
 *   its listeners and subscriptions and takes them away on teardown, and never
 *   closes the client;
 * - a URL or {@link MqttConnectOptions}: the operator builds a client per
 *   subscription, with MQTT 5, a 1 s reconnect period and a 10 s connect timeout
 *   unless you say otherwise, and closes it on teardown (and when the stream errors).
 *
 * Either way the operators tell final failures from transient ones. Until the
 * first successful connect every failure is final: the stream errors once with an
 * {@link MqttConnectionError} naming the cause (credentials refused, TLS,
 * nothing listening, no CONNACK) instead of retrying silently. After it, socket
 * drops are transient and MQTT.js reconnects by itself; refusals and TLS failures
 * stay final. To wait for a broker that is not up yet, retry the cold stream:
 * `fromMqtt(url, topic).pipe(retry({ delay: 5_000 }))` builds a fresh client each
 * time.
 */
export type MqttConnection = MqttClient | string | MqttConnectOptions;

/** A client ready for use, and whether this operator must close it. @internal */
export interface OpenedConnection {
  readonly client: MqttClient;
  readonly owned: boolean;
  /** The broker as error messages name it, e.g. `mqtts://127.0.0.1:8883`. */
  readonly broker: string;
}

/**
 * The URL schemes MQTT.js connects with, the usual four first (the ones messages
 * suggest), then its aliases (`tcp`, `ssl`) and the Unix socket forms. Checked here
 * because MQTT.js quietly falls back to plain TCP for a scheme it does not know; the
 * command line checks `--broker` against the same list.
 * @internal
 */
export const BROKER_URL_SCHEMES: readonly string[] = [
  'mqtt',
  'mqtts',
  'ws',
  'wss',
  'tcp',
  'ssl',
  'mqtt+unix',
  'mqtts+unix',
  'ws+unix',
  'wss+unix',
];

/** The schemes a message suggests: `mqtt://, mqtts://, ws:// or wss://`. @internal */
export const SUGGESTED_BROKER_SCHEMES = 'mqtt://, mqtts://, ws:// or wss://';

/** The scheme of a URL (`mqtt` for `mqtt://host`), or `''` when it has none. @internal */
export function urlScheme(url: string): string {
  return url.slice(0, Math.max(0, url.indexOf('://')));
}

const OWNED_DEFAULTS: IClientOptions = { protocolVersion: 5, reconnectPeriod: 1_000, connectTimeout: 10_000 };

/**
 * MQTT.js's `log` option when `DEBUG` is not set: a no-op. MQTT.js calls its `debug`
 * logger about 20 times per message received, and a disabled `debug` logger still
 * costs a call and an `enabled` check each time: 4.5% of the aggregator's CPU draining
 * a backlog (issue 24). With `DEBUG` set (e.g. `DEBUG=mqttjs*`), MQTT.js's own logger.
 */
function quietLog(): Pick<IClientOptions, 'log'> {
  return (process.env['DEBUG'] ?? '') === '' ? { log: noop } : {};
}

/**
 * {@link openConnection} for an operator's subscribe function: a refusal of the
 * options errors `subscriber` and gives `undefined`.
 * @internal
 */
export function openConnectionOrError(
  operator: MqttOperator,
  conn: MqttConnection,
  subscriber: { error(error: unknown): void },
): OpenedConnection | undefined {
  try {
    return openConnection(operator, conn);
  } catch (error) {
    subscriber.error(error);
    return undefined;
  }
}

/**
 * Returns the user's client, or connects a new one from the options.
 * Throws {@link MqttConnectionError}, its message starting with `operator`, when
 * MQTT.js (or the scheme check) refuses the options.
 */
function openConnection(operator: MqttOperator, conn: MqttConnection): OpenedConnection {
  if (isMqttClient(conn)) return { client: conn, owned: false, broker: brokerName(conn.options) };
  const { url, ...rest } = typeof conn === 'string' ? { url: conn } : conn;
  const options: IClientOptions = { ...OWNED_DEFAULTS, ...quietLog(), ...rest };
  let client: MqttClient;
  try {
    // MQTT.js quietly falls back to plain TCP for a scheme it does not know. This
    // error (like MQTT.js's own) becomes the cause of the MqttConnectionError below,
    // whose message names the operator.
    if (url !== undefined) {
      const scheme = urlScheme(url);
      if (!BROKER_URL_SCHEMES.includes(scheme))
        throw new Error(`unknown scheme "${scheme}://"; use ${SUGGESTED_BROKER_SCHEMES}`);
    }
    client = url === undefined ? connect(options) : connect(url, options);
  } catch (error) {
    const broker = url === undefined ? brokerName(options) : redactCredentials(url);
    throw new MqttConnectionError(
      `${operator}: invalid MQTT connection options for ${broker}: ${(error as Error).message}`,
      { broker, cause: error },
    );
  }
  // An owned client must never crash the process with an unhandled 'error' event,
  // also after teardown; watchConnection reports the errors that matter.
  client.on('error', noop);
  return { client, owned: true, broker: url === undefined ? brokerName(client.options) : redactCredentials(url) };
}

/**
 * Closes an owned client: with DISCONNECT when it is connected and nothing is in
 * flight, otherwise by shutting the socket at once (MQTT.js's graceful end would
 * wait for acknowledgements that may never come, keeping the socket open). Also at
 * once while acknowledgements are held back ({@link holdsOutgoing}): a graceful end
 * uncorks the socket and would send them, for messages whose effect was not saved.
 * With `endSession`, the DISCONNECT sets the session expiry to 0 (MQTT 5): the broker
 * ends the session and keeps nothing for it.
 * @internal
 */
export function closeOwned(client: MqttClient, { endSession = false } = {}): void {
  const idle = Object.keys(client.outgoing).length === 0;
  const force = !(client.connected && idle) || holdsOutgoing(client);
  if (endSession) client.end(force, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  else client.end(force);
}

// Duck-typed rather than instanceof: the user's client may come from another copy
// of MQTT.js (another version, or the CommonJS build next to the ESM one).
function isMqttClient(conn: MqttConnection): conn is MqttClient {
  const candidate = conn as Partial<MqttClient>;
  return (
    typeof conn === 'object' &&
    typeof candidate.publish === 'function' &&
    typeof candidate.subscribe === 'function' &&
    typeof candidate.on === 'function'
  );
}

function brokerName(options: IClientOptions): string {
  const protocol = options.protocol ?? 'mqtt';
  const host = options.hostname ?? options.host ?? 'localhost';
  return options.port === undefined ? `${protocol}://${host}` : `${protocol}://${host}:${options.port}`;
}

function noop(): void {
  /* errors are reported by watchConnection */
}

/**
 * A URL fit for a log line or an error message: `mqtt://user:secret@host` becomes
 * `mqtt://user:***@host`, so credentials given in a URL never reach any output.
 *
 * @param url - a broker URL, with or without credentials.
 * @returns the same URL with its password (or lone user info) replaced by `***`.
 */
export function redactCredentials(url: string): string {
  return url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^/@:]*)(?::[^/@]*)?@/i,
    (_all, scheme: string, user: string) => `${scheme}${user === '' ? '' : `${user}:`}***@`,
  );
}
