// Command-line flags with environment fallbacks for the examples and the CLI.
// Every flag has a default, so `mqtt-iot-stream publish` works as it stands on a Pi
// next to a local Mosquitto, and `aggregate` next to a local Cassandra.
import { Client } from 'cassandra-driver';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** One flag: its environment variable, its default and a line of help. */
interface Flag {
  readonly env: string;
  readonly fallback: string | undefined;
  readonly help: string;
}

const bundledLog = fileURLToPath(new URL('./data/access.log', import.meta.url));

export const flags = {
  broker: { env: 'MQTT_URL', fallback: 'mqtt://localhost:1883', help: 'MQTT broker URL (mqtt://, mqtts://)' },
  topic: { env: 'MQTT_TOPIC', fallback: 'rupesh/gpiotopic', help: 'topic to publish to / subscribe to' },
  username: { env: 'MQTT_USERNAME', fallback: undefined, help: 'MQTT user name' },
  password: { env: 'MQTT_PASSWORD', fallback: undefined, help: 'MQTT password' },
  qos: { env: 'MQTT_QOS', fallback: '1', help: 'QoS of publish and subscribe: 0, 1 or 2' },
  file: { env: 'ACCESS_LOG', fallback: bundledLog, help: 'access log whose next line each press publishes' },
  backend: { env: 'GPIO_BACKEND', fallback: 'pigpio', help: 'GPIO backend: pigpio (Pi 1-4), gpiod (Pi 5), simulated' },
  'button-pin': { env: 'BUTTON_PIN', fallback: '17', help: 'button pin, BCM numbering' },
  'led-pin': { env: 'LED_PIN', fallback: '4', help: 'LED pin, BCM numbering' },
  cassandra: { env: 'CASSANDRA_CONTACT_POINTS', fallback: '127.0.0.1:9042', help: 'Cassandra contact points, comma-separated host:port' },
  datacenter: { env: 'CASSANDRA_DATACENTER', fallback: 'datacenter1', help: "Cassandra local data centre" },
  keyspace: { env: 'CASSANDRA_KEYSPACE', fallback: 'hyper', help: 'keyspace of the counts table' },
  table: { env: 'CASSANDRA_TABLE', fallback: 'mqtt', help: 'table of the counts' },
  replication: { env: 'CASSANDRA_REPLICATION', fallback: '1', help: 'replication factor if the keyspace is created' },
  window: { env: 'WINDOW', fallback: '1 minute', help: "window length, e.g. '1 minute', '10 s'" },
  watermark: { env: 'WATERMARK', fallback: '2 minutes', help: 'watermark delay (how late data may be)' },
  'idle-advance': { env: 'IDLE_ADVANCE_MS', fallback: '5000', help: 'ms of silence before the watermark follows the wall clock (0: off)' },
  'aggregator-id': { env: 'AGGREGATOR_ID', fallback: '', help: 'this aggregator\'s id when several share the stream (scale-out)' },
  'share-group': { env: 'MQTT_SHARE_GROUP', fallback: undefined, help: 'subscribe as $share/<group>/<topic> (MQTT 5 shared subscription)' },
  rate: { env: 'DEMO_RATE', fallback: '2', help: 'automatic presses per second (0: only Enter); above ~3/s the 300 ms bounce time swallows presses' },
  duration: { env: 'DEMO_DURATION', fallback: '0', help: 'stop by itself after this many seconds (0: at Ctrl-C)' },
} as const satisfies Record<string, Flag>;

export type FlagName = keyof typeof flags;
export type Settings<N extends FlagName> = { [K in N]: (typeof flags)[K]['fallback'] extends string ? string : string | undefined };

/**
 * Reads the named flags from `argv`, then the environment, then `defaults`, then the
 * flags' own defaults. Unknown flags are an error that names them.
 */
export function readSettings<N extends FlagName>(argv: readonly string[], names: readonly N[], defaults: Partial<Record<N, string | undefined>> = {}): Settings<N> {
  const { values } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
    strict: true,
    allowPositionals: false,
  });
  const settings: Record<string, string | undefined> = {};
  for (const name of names) {
    const flag: Flag = flags[name];
    const fromEnvironment = process.env[flag.env] || undefined; // an empty variable counts as unset
    settings[name] = (values[name] as string | undefined) ?? fromEnvironment ?? (name in defaults ? defaults[name] : flag.fallback);
  }
  return settings as Settings<N>;
}

/** The help lines of the named flags. */
export function describeFlags<N extends FlagName>(names: readonly N[], defaults: Partial<Record<N, string | undefined>> = {}): string {
  return names.map((name) => {
    const flag: Flag = flags[name];
    const value = name in defaults ? defaults[name] : flag.fallback;
    const fallback = value === undefined ? '' : ` (default: ${value === bundledLog ? 'the bundled demo log' : JSON.stringify(value)})`;
    return `  --${name.padEnd(14)} ${flag.help}${fallback}  [$${flag.env}]`;
  }).join('\n');
}

/** Reads a whole number flag, failing with the flag's name. */
export function integerSetting(name: FlagName, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
}

/** Reads the QoS flag. */
export function qosSetting(text: string): 0 | 1 | 2 {
  if (text !== '0' && text !== '1' && text !== '2') throw new Error(`--qos must be 0, 1 or 2, got ${JSON.stringify(text)}`);
  return Number(text) as 0 | 1 | 2;
}

/** Connects to Cassandra and creates the counts table if missing; an unreachable node is one clear line. */
export async function prepareCassandra(contactPoints: string, localDataCenter: string, create: (client: Client) => Promise<void>): Promise<Client> {
  const client = new Client({ contactPoints: contactPoints.split(','), localDataCenter });
  try {
    await create(client);
    return client;
  } catch (error) {
    await client.shutdown();
    const reason = (error as Error).message.split('\n')[0];
    throw new Error(`cannot use Cassandra at ${contactPoints} (is it running? --cassandra sets the address): ${reason}`, { cause: error });
  }
}
