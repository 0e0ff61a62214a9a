// Command-line flags with environment fallbacks for the examples and the CLI.
// Every flag has a default, so `mqtt-iot-stream publish` works as it stands on a Pi
// next to a local Mosquitto, and `aggregate` next to a local Cassandra.
import { parseArgs } from 'node:util';
import { WindowedCountState } from '../index.js';
import {
  brokerUrl,
  cassandraContactPoints,
  cqlIdentifier,
  decimalNumber,
  duration,
  gpioPin,
  nonEmpty,
  oneOf,
  readableFile,
  shareGroup,
  topicFilter,
  wholeNumber,
  type FlagCheck,
} from './flagValues.js';
import { bundledLog as bundledLog_ } from './packageFiles.js';
import { listenAddress } from './statusEndpoint.js';

/** One flag: its environment variable, its default, a line of help and what its value must be. */
interface Flag {
  readonly env: string;
  readonly fallback: string | undefined;
  readonly help: string;
  /** Run on the value (from the command line, the environment or a default) before anything is opened. */
  readonly check?: FlagCheck;
}

const bundledLog = bundledLog_();

/** The write consistency levels --consistency takes (ANY and the SERIAL ones make no sense for the counts). */
const WRITE_CONSISTENCIES = [
  'ONE',
  'TWO',
  'THREE',
  'QUORUM',
  'ALL',
  'LOCAL_QUORUM',
  'EACH_QUORUM',
  'LOCAL_ONE',
] as const;

export const flags = {
  broker: {
    env: 'MQTT_URL',
    fallback: 'mqtt://localhost:1883',
    help: 'MQTT broker URL (mqtt://, mqtts://, ws://, wss://)',
    check: brokerUrl,
  },
  topic: {
    env: 'MQTT_TOPIC',
    fallback: 'rupesh/gpiotopic',
    help: 'topic to publish to / subscribe to',
    check: topicFilter,
  },
  username: { env: 'MQTT_USERNAME', fallback: undefined, help: 'MQTT user name' },
  password: { env: 'MQTT_PASSWORD', fallback: undefined, help: 'MQTT password' },
  qos: { env: 'MQTT_QOS', fallback: '1', help: 'QoS of publish and subscribe: 0, 1 or 2', check: oneOf('0', '1', '2') },
  file: {
    env: 'ACCESS_LOG',
    fallback: bundledLog,
    help: 'access log whose next line each press publishes',
    check: readableFile,
  },
  backend: {
    env: 'GPIO_BACKEND',
    fallback: 'pigpio',
    help: 'GPIO backend: pigpio (Pi 1-4), gpiod (Pi 5), simulated',
    check: oneOf('pigpio', 'gpiod', 'simulated'),
  },
  'button-pin': { env: 'BUTTON_PIN', fallback: '17', help: 'button pin, BCM numbering', check: gpioPin },
  'led-pin': { env: 'LED_PIN', fallback: '4', help: 'LED pin, BCM numbering', check: gpioPin },
  cassandra: {
    env: 'CASSANDRA_CONTACT_POINTS',
    fallback: '127.0.0.1:9042',
    help: 'Cassandra contact points, comma-separated host:port',
    check: cassandraContactPoints,
  },
  datacenter: {
    env: 'CASSANDRA_DATACENTER',
    fallback: 'datacenter1',
    help: 'Cassandra local data centre',
    check: nonEmpty,
  },
  consistency: {
    env: 'CASSANDRA_CONSISTENCY',
    fallback: 'LOCAL_QUORUM',
    help: "write consistency; LOCAL_QUORUM: a majority of the local data centre's replicas (on one node, that one)",
    check: oneOf(...WRITE_CONSISTENCIES),
  },
  keyspace: {
    env: 'CASSANDRA_KEYSPACE',
    fallback: 'hyper',
    help: 'keyspace of the counts table',
    check: cqlIdentifier,
  },
  table: { env: 'CASSANDRA_TABLE', fallback: 'mqtt', help: 'table of the counts', check: cqlIdentifier },
  replication: {
    env: 'CASSANDRA_REPLICATION',
    fallback: '1',
    help: 'replication factor if the keyspace is created',
    check: wholeNumber(1),
  },
  window: {
    env: 'WINDOW',
    fallback: '1 minute',
    help: "window length, e.g. '1 minute', '10 s'",
    check: duration('window'),
  },
  watermark: {
    env: 'WATERMARK',
    fallback: '2 minutes',
    help: 'watermark delay (how late data may be)',
    check: duration('watermark'),
  },
  'idle-advance': {
    env: 'IDLE_ADVANCE_MS',
    fallback: '5000',
    help: 'ms of silence before the watermark follows the wall clock (0: off)',
    check: wholeNumber(0),
  },
  'aggregator-id': {
    env: 'AGGREGATOR_ID',
    fallback: '',
    help: "this aggregator's id when several share the stream (scale-out)",
  },
  'share-group': {
    env: 'MQTT_SHARE_GROUP',
    fallback: undefined,
    help: 'subscribe as $share/<group>/<topic> (MQTT 5 shared subscription)',
    check: shareGroup,
  },
  'state-dir': {
    env: 'AGGREGATOR_STATE_DIR',
    fallback: undefined,
    help: 'where open windows and the journal are saved (default: ~/.local/state/mqtt-iot-stream/<aggregator id or "default">)',
    check: nonEmpty,
  },
  durability: {
    env: 'AGGREGATOR_DURABILITY',
    fallback: 'process',
    help: 'what an acknowledged message survives: process (a crash of this process) or power (also power loss; fsync per batch)',
    check: oneOf('process', 'power'),
  },
  'client-id': {
    env: 'MQTT_CLIENT_ID',
    fallback: undefined,
    help: 'MQTT client id of the persistent session (default: mqtt-iot-stream-aggregator[-<aggregator id>])',
    check: nonEmpty,
  },
  'session-expiry': {
    env: 'MQTT_SESSION_EXPIRY',
    fallback: '604800',
    help: 'seconds the broker keeps the session and queues messages while the aggregator is away',
    check: wholeNumber(1, 4_294_967_295),
  },
  'max-pending-rows': {
    env: 'MAX_PENDING_ROWS',
    fallback: '10000',
    help: 'rows waiting for Cassandra before the aggregator stops taking messages',
    check: wholeNumber(1),
  },
  'max-message-size': {
    env: 'MAX_MESSAGE_SIZE',
    fallback: '1048576',
    help: 'bytes; larger payloads are rejected unparsed',
    check: wholeNumber(1),
  },
  'max-event-time-ahead': {
    env: 'MAX_EVENT_TIME_AHEAD',
    fallback: '1 hour',
    help: "events stamped further ahead of this machine's clock are rejected (off: no guard)",
    check: (value) => (value === 'off' ? undefined : duration('watermark')(value)),
  },
  'output-mode': {
    env: 'OUTPUT_MODE',
    fallback: 'append',
    help: 'append (final rows), update (rows as they change)',
    check: oneOf('append', 'update'),
  },
  format: {
    env: 'OUTPUT_FORMAT',
    fallback: undefined,
    help: 'rows on stdout: table or json (default: table on a terminal, json otherwise)',
    check: oneOf('table', 'json'),
  },
  ca: {
    env: 'MQTT_CA',
    fallback: undefined,
    help: 'PEM file of the CA that signed the broker certificate (mqtts://)',
    check: readableFile,
  },
  cert: { env: 'MQTT_CERT', fallback: undefined, help: 'PEM client certificate (mqtts://)', check: readableFile },
  key: { env: 'MQTT_KEY', fallback: undefined, help: 'PEM key of the client certificate', check: readableFile },
  'cassandra-username': {
    env: 'CASSANDRA_USERNAME',
    fallback: undefined,
    help: 'Cassandra user name (PasswordAuthenticator)',
  },
  'cassandra-password': { env: 'CASSANDRA_PASSWORD', fallback: undefined, help: 'Cassandra password' },
  http: {
    env: 'STATUS_HTTP',
    fallback: 'off',
    help:
      'serve /metrics (Prometheus), /healthz, /readyz and a live dashboard on host:port; a port alone listens on ' +
      '127.0.0.1 (0: any free port); 0.0.0.0:port on every interface, without authentication; auto: ' +
      '127.0.0.1:9464, or a free port if it is taken; off: no endpoint',
    check: listenAddress,
  },
  'status-every': {
    env: 'STATUS_EVERY',
    fallback: '1 minute',
    help:
      "off a terminal (a pipe, a file, journald), a status line this often, e.g. '30 s' or 500 (ms); on a terminal, " +
      'a live status line refreshed every second instead; 0 or off: neither',
    check: (value) =>
      value === 'off' || value === '0'
        ? undefined
        : duration('watermark')(/^\d+(\.\d+)?$/.test(value) ? `${value} ms` : value),
  },
  rate: {
    env: 'DEMO_RATE',
    fallback: '2',
    help: 'automatic presses per second, up to 20 (0: only Enter); above ~3/s the 300 ms bounce time swallows presses',
    check: decimalNumber(0, 20),
  },
  duration: {
    env: 'DEMO_DURATION',
    fallback: '0',
    help: 'stop by itself after this many seconds (0: at Ctrl-C)',
    check: wholeNumber(0),
  },
} as const satisfies Record<string, Flag>;

export type FlagName = keyof typeof flags;
export type Settings<N extends FlagName> = {
  [K in N]: (typeof flags)[K]['fallback'] extends string ? string : string | undefined;
};

/**
 * A command line that cannot be run as given: an unknown flag, a missing value, a value
 * its check refuses. The CLI prints the message alone (no stack) and exits with status 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

// parseArgs reads `--rate -1` as a flag followed by another flag ("ambiguous"): join a
// value that looks like a negative number to its flag, so its check can explain it.
function joinNegativeNumbers(argv: readonly string[], names: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg.startsWith('--') && names.includes(arg.slice(2)) && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

// parseArgs's own messages suggest '--' escapes that make no sense here; say it plainly.
function usageProblem(error: Error & { code?: string }): string {
  const flag = /'(-[^' ]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag ?? error.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `${flag ?? 'a flag'} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(error.message)?.[1] ?? ''}: values go after their flag (--name value)`;
    default:
      return error.message.split('\n')[0]!;
  }
}

/**
 * Reads the named flags from `argv`, then the environment, then `defaults`, then the
 * flags' own defaults, and checks every value with the flag's check (or the one in
 * `checks`, for a command that is stricter than the table). Throws a {@link UsageError}
 * naming every bad flag, before the caller has opened anything.
 */
export function readSettings<N extends FlagName>(
  argv: readonly string[],
  names: readonly N[],
  defaults: Partial<Record<N, string | undefined>> = {},
  checks: Partial<Record<N, FlagCheck>> = {},
): Settings<N> {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeNumbers(argv, names),
      options: Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(usageProblem(error as Error & { code?: string }));
  }
  const settings: Record<string, string | undefined> = {};
  const problems: string[] = [];
  for (const name of names) {
    const flag: Flag = flags[name];
    const fromCommandLine = values[name] as string | undefined;
    const fromEnvironment = process.env[flag.env] || undefined; // an empty variable counts as unset
    const value = fromCommandLine ?? fromEnvironment ?? (name in defaults ? defaults[name] : flag.fallback);
    settings[name] = value;
    const check = checks[name] ?? flag.check;
    const problem = value === undefined ? undefined : check?.(value);
    if (problem !== undefined) {
      const source = fromCommandLine === undefined && fromEnvironment !== undefined ? ` (from $${flag.env})` : '';
      problems.push(`--${name}${source} ${problem}`);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return settings as Settings<N>;
}

/** The help lines of the named flags. */
export function describeFlags<N extends FlagName>(
  names: readonly N[],
  defaults: Partial<Record<N, string | undefined>> = {},
): string {
  return names
    .map((name) => {
      const flag: Flag = flags[name];
      const value = name in defaults ? defaults[name] : flag.fallback;
      const fallback =
        value === undefined
          ? ''
          : ` (default: ${value === bundledLog ? 'the bundled demo log' : JSON.stringify(value)})`;
      return wrapHelp(`  --${name.padEnd(14)} `, `${flag.help}${fallback}  [$${flag.env}]`);
    })
    .join('\n');
}

/** Help lines fit a 100-column terminal: longer text goes on under its own column. */
const HELP_WIDTH = 100;

function wrapHelp(lead: string, text: string): string {
  const indent = ' '.repeat(lead.length);
  const lines: string[] = [];
  let line = lead;
  for (const word of text.split(/(?<=\S) (?=\S)/)) {
    if (line.length > indent.length && line.length + word.length + 1 > HELP_WIDTH) {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += line.length > indent.length && !line.endsWith(' ') ? ` ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n');
}

/** Reads a whole number flag (its check has already passed). */
export function integerSetting(name: FlagName, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * Reads a length-of-time flag (its check has already passed) as milliseconds: a bare
 * number is milliseconds, text such as '30 s' is read by the window operator itself,
 * as the check did (a window of that length, from the epoch, ends that long after it).
 */
export function millisecondsSetting(name: FlagName, text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  let end: number | undefined;
  try {
    const probe = new WindowedCountState<number, number>(
      { eventTime: (time) => time, key: () => 0, windowDuration: text, watermarkDelay: 0 },
      () => {},
    );
    probe.push(0);
    end = probe.earliestOpenWindowEnd;
  } catch {
    end = undefined;
  }
  if (end === undefined)
    throw new UsageError(`--${name} must be a length of time such as '30 s', got ${JSON.stringify(text)}`);
  return end;
}

/** Reads the QoS flag (its check has already passed). */
export function qosSetting(text: string): 0 | 1 | 2 {
  if (text !== '0' && text !== '1' && text !== '2')
    throw new UsageError(`--qos must be 0, 1 or 2, got ${JSON.stringify(text)}`);
  return Number(text) as 0 | 1 | 2;
}
