// The command line's flags: each one's name, environment variable, default, help and
// reader, declared once and shared by the commands that take it, and the glue to
// commander, which parses the command line, takes values from the environment, lists
// the choices and writes the help.
//
// Every value, whether it came from the command line, the environment or the default,
// goes through its flag's reader (flagValues.ts) after commander has parsed it: all the
// problems of one command line are named together, in one line, each with the variable
// it came from; commander's own choice check is replaced by the reader, so the wording
// is ours ("--qos must be 1 or 2, got "0"") while the help still lists the choices.
import { Command, Option } from 'commander';
import {
  aggregatorId,
  anyText,
  brokerUrl,
  cassandraContactPoints,
  cqlIdentifier,
  duration,
  FlagValueProblem,
  gpioPin,
  nonEmpty,
  oneOf,
  oneOfNumbers,
  positiveDuration,
  readableFile,
  shareGroup,
  topicFilter,
  topicName,
  userPropertyName,
  wholeNumber,
  type FlagReader,
} from './flagValues.js';
import { aggregateList, VALUE_FIELDS } from './aggregateList.js';
import { bundledLog } from './packageFiles.js';
import { readListenAddress, type ListenAddress } from './statusEndpoint.js';
import { UsageError } from './usageError.js';

/** One flag that takes a value. `D` is the type of its default: `string`, or `undefined` when it has none. */
export interface Flag<T, D extends string | undefined = string | undefined> {
  /** Without the dashes: `window` for `--window`. */
  readonly name: string;
  /** What the value is, as the help shows it: `--window <time>`. */
  readonly value: string;
  readonly help: string;
  /** The environment variable that gives the value when the command line does not (all but an old name have one). */
  readonly env?: string;
  /** The default, as text (it is read like any other value). */
  readonly fallback: D;
  /** How the help names the default, when not as the text itself. */
  readonly shownFallback?: string;
  /** The values it takes, listed by the help (the reader checks them). */
  readonly choices?: readonly string[];
  /** Under which heading the help lists it. */
  readonly group?: string;
  /** Left out of the help (an old name kept working). */
  readonly hidden?: boolean;
  readonly read: FlagReader<T>;
}

/** Flags by the name a command reads their values under. */
export type FlagSet = Readonly<Record<string, Flag<unknown>>>;

/** The values of a set of flags: a flag without a default may be `undefined`. */
export type FlagValues<F extends FlagSet> = {
  -readonly [K in keyof F]: F[K] extends Flag<infer T, infer D> ? (D extends string ? T : T | undefined) : never;
};

/** The same flag with another default. */
export function withDefault<T>(flag: Flag<T>, fallback: string, shownFallback?: string): Flag<T, string> {
  const { shownFallback: _shown, ...rest } = flag;
  return { ...rest, fallback, ...(shownFallback === undefined ? {} : { shownFallback }) };
}

/** The same flag without a default. */
export function withoutDefault<T>(flag: Flag<T>): Flag<T, undefined> {
  const { shownFallback: _shown, ...rest } = flag;
  return { ...rest, fallback: undefined };
}

/** The same flag with another reader (a command that is stricter than the table). */
export function readWith<T, U, D extends string | undefined>(
  flag: Flag<T, D>,
  read: FlagReader<U>,
  help?: string,
): Flag<U, D> {
  return { ...flag, read, ...(help === undefined ? {} : { help }) };
}

const MQTT = 'MQTT:';
const GPIO = 'Button, LED and log:';
const CASSANDRA = 'Cassandra:';
const WINDOWS = 'Windows:';
const STATE = 'State and limits:';
const OUTPUT = 'Output and status:';

/** The `--http` reader: off, auto, port, host:port. */
const listenAddress: FlagReader<ListenAddress | undefined> = (text) => {
  const address = readListenAddress(text);
  if (address !== undefined && 'problem' in address) throw new FlagValueProblem(address.problem);
  return address;
};

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

/** Flags with the same meaning in every command that takes them (a command may change a default). */
export const flags = {
  broker: {
    name: 'broker',
    value: 'url',
    env: 'MQTT_URL',
    fallback: 'mqtt://localhost:1883',
    help: 'the MQTT broker: mqtt://, mqtts:// (TLS), ws://, wss://; user:password@ in it is never printed',
    group: MQTT,
    read: brokerUrl,
  },
  publishTopic: {
    name: 'topic',
    value: 'topic',
    env: 'MQTT_TOPIC',
    fallback: 'rupesh/gpiotopic',
    help: 'the topic to publish to',
    group: MQTT,
    read: topicName,
  },
  subscribeTopic: {
    name: 'topic',
    value: 'filter',
    env: 'MQTT_TOPIC',
    fallback: 'rupesh/gpiotopic',
    help: 'the topic filter to subscribe to (+ and # wildcards)',
    group: MQTT,
    read: topicFilter,
  },
  username: {
    name: 'username',
    value: 'name',
    env: 'MQTT_USERNAME',
    fallback: undefined,
    help: 'MQTT user name',
    group: MQTT,
    read: anyText,
  },
  password: {
    name: 'password',
    value: 'secret',
    env: 'MQTT_PASSWORD',
    fallback: undefined,
    help: 'MQTT password',
    group: MQTT,
    read: anyText,
  },
  ca: {
    name: 'ca',
    value: 'file',
    env: 'MQTT_CA',
    fallback: undefined,
    help: 'PEM file of the CA that signed the broker certificate (mqtts://)',
    group: MQTT,
    read: readableFile,
  },
  cert: {
    name: 'cert',
    value: 'file',
    env: 'MQTT_CERT',
    fallback: undefined,
    help: 'PEM client certificate, for a broker that asks for one (with --key)',
    group: MQTT,
    read: readableFile,
  },
  key: {
    name: 'key',
    value: 'file',
    env: 'MQTT_KEY',
    fallback: undefined,
    help: 'PEM private key of --cert',
    group: MQTT,
    read: readableFile,
  },
  publishQos: {
    name: 'qos',
    value: 'level',
    env: 'MQTT_QOS',
    fallback: '1',
    help: 'QoS of each message: 0 (no acknowledgement), 1 or 2',
    choices: ['0', '1', '2'],
    group: MQTT,
    read: oneOfNumbers([0, 1, 2]),
  },
  subscribeQos: {
    name: 'qos',
    value: 'level',
    env: 'MQTT_QOS',
    fallback: '1',
    help: 'QoS of the subscription; 0 cannot be counted exactly once (the broker does not resend what is lost)',
    choices: ['1', '2'],
    group: MQTT,
    read: oneOfNumbers([1, 2], '0 cannot be counted exactly once: the broker does not resend what is lost'),
  },
  log: {
    name: 'log',
    value: 'file',
    env: 'ACCESS_LOG',
    fallback: bundledLog(),
    shownFallback: 'the bundled demo log',
    help: 'the access log whose next line each press publishes',
    group: GPIO,
    read: readableFile,
  },
  backend: {
    name: 'backend',
    value: 'name',
    env: 'GPIO_BACKEND',
    fallback: 'pigpio',
    help: 'GPIO backend: pigpio (Pi 1-4), gpiod (Pi 5), simulated (no Pi: Enter presses)',
    choices: ['pigpio', 'gpiod', 'simulated'],
    group: GPIO,
    read: oneOf(['pigpio', 'gpiod', 'simulated']),
  },
  buttonPin: {
    name: 'button-pin',
    value: 'gpio',
    env: 'BUTTON_PIN',
    fallback: '17',
    help: 'button pin, BCM numbering',
    group: GPIO,
    read: gpioPin,
  },
  ledPin: {
    name: 'led-pin',
    value: 'gpio',
    env: 'LED_PIN',
    fallback: '4',
    help: 'LED pin, BCM numbering',
    group: GPIO,
    read: gpioPin,
  },
  cassandra: {
    name: 'cassandra',
    value: 'hosts',
    env: 'CASSANDRA_CONTACT_POINTS',
    fallback: undefined,
    help: 'Cassandra contact points, host:port comma-separated (none: rows on stdout)',
    group: CASSANDRA,
    read: cassandraContactPoints,
  },
  datacenter: {
    name: 'datacenter',
    value: 'name',
    env: 'CASSANDRA_DATACENTER',
    fallback: 'datacenter1',
    help: "Cassandra's local data centre (nodetool status names them)",
    group: CASSANDRA,
    read: nonEmpty,
  },
  consistency: {
    name: 'consistency',
    value: 'level',
    env: 'CASSANDRA_CONSISTENCY',
    fallback: 'LOCAL_QUORUM',
    help: "write consistency; LOCAL_QUORUM: a majority of the local data centre's replicas",
    choices: WRITE_CONSISTENCIES,
    group: CASSANDRA,
    read: oneOf(WRITE_CONSISTENCIES),
  },
  keyspace: {
    name: 'keyspace',
    value: 'name',
    env: 'CASSANDRA_KEYSPACE',
    fallback: 'hyper',
    help: 'keyspace of the counts table',
    group: CASSANDRA,
    read: cqlIdentifier,
  },
  table: {
    name: 'table',
    value: 'name',
    env: 'CASSANDRA_TABLE',
    fallback: 'mqtt',
    help: 'table of the counts',
    group: CASSANDRA,
    read: cqlIdentifier,
  },
  lateTable: {
    name: 'late-table',
    value: 'name',
    env: 'CASSANDRA_LATE_TABLE',
    fallback: undefined,
    help: "keep the late events' counts in this table of --keyspace (e.g. mqtt_late; created if missing): on-time plus late adds up to every event; needs --cassandra",
    group: CASSANDRA,
    read: cqlIdentifier,
  },
  aggregateTable: {
    name: 'aggregate-table',
    value: 'name',
    env: 'CASSANDRA_AGGREGATE_TABLE',
    fallback: 'mqtt_aggregates',
    help: "table of the aggregates, with --aggregates (created if missing; the aggregators' rows merge when read)",
    group: CASSANDRA,
    read: cqlIdentifier,
  },
  replication: {
    name: 'replication',
    value: 'n',
    env: 'CASSANDRA_REPLICATION',
    fallback: '1',
    help: 'replication factor if the keyspace is created',
    group: CASSANDRA,
    read: wholeNumber(1),
  },
  cassandraUsername: {
    name: 'cassandra-username',
    value: 'name',
    env: 'CASSANDRA_USERNAME',
    fallback: undefined,
    help: 'Cassandra user name (PasswordAuthenticator)',
    group: CASSANDRA,
    read: anyText,
  },
  cassandraPassword: {
    name: 'cassandra-password',
    value: 'secret',
    env: 'CASSANDRA_PASSWORD',
    fallback: undefined,
    help: 'Cassandra password',
    group: CASSANDRA,
    read: anyText,
  },
  window: {
    name: 'window',
    value: 'time',
    env: 'WINDOW',
    fallback: '1 minute',
    help: "window length: ms or text, e.g. 10000, '10 s', '1 minute'",
    group: WINDOWS,
    read: positiveDuration(),
  },
  watermark: {
    name: 'watermark',
    value: 'time',
    env: 'WATERMARK',
    fallback: '2 minutes',
    help: 'watermark delay: how late an event may come and still be counted',
    group: WINDOWS,
    read: duration(),
  },
  idleAdvance: {
    name: 'idle-advance',
    value: 'time',
    env: 'IDLE_ADVANCE_MS',
    fallback: '5 s',
    help: 'proven silence after which the watermark follows the wall clock: the broker answering pings with nothing pending (off or 0: never)',
    group: WINDOWS,
    read: duration({ off: true }),
  },
  outputMode: {
    name: 'output-mode',
    value: 'mode',
    env: 'OUTPUT_MODE',
    fallback: 'append',
    help: 'append: final rows; update: rows as they change',
    choices: ['append', 'update'],
    group: WINDOWS,
    read: oneOf(['append', 'update']),
  },
  sessionGap: {
    name: 'session-gap',
    value: 'time',
    env: 'SESSION_GAP',
    fallback: undefined,
    help: "session windows instead of --window: a status's requests no further apart than this make one session, [first, last + gap), as Spark's session_window (append mode)",
    group: WINDOWS,
    read: positiveDuration(),
  },
  aggregates: {
    name: 'aggregates',
    value: 'list',
    env: 'AGGREGATES',
    fallback: undefined,
    help: 'aggregate per window and status instead of only counting: count, sum, min, max, mean, pNN (p50, p99, p99.9) of --value, distinct(<field>) (e.g. distinct(client)); e.g. count,sum,max,p99',
    group: WINDOWS,
    read: aggregateList,
  },
  value: {
    name: 'value',
    value: 'field',
    env: 'AGGREGATE_VALUE',
    fallback: 'bytes',
    help: "the log line's number that --aggregates sums, averages and takes quantiles of",
    choices: VALUE_FIELDS,
    group: WINDOWS,
    read: oneOf(VALUE_FIELDS),
  },
  // One variable for both ends: the publishers and the aggregator must name the same property.
  readEventTimeProperty: {
    name: 'event-time-property',
    value: 'name',
    env: 'MQTT_EVENT_TIME_PROPERTY',
    fallback: undefined,
    help: "take each message's event time from this MQTT 5 user property (e.g. event-time) when it has it: ISO 8601, iottimestamp's form or epoch ms; without it, iottimestamp; an unreadable one is rejected",
    group: WINDOWS,
    read: userPropertyName,
  },
  stampEventTimeProperty: {
    name: 'event-time-property',
    value: 'name',
    env: 'MQTT_EVENT_TIME_PROPERTY',
    fallback: undefined,
    help: 'also stamp the press time into this MQTT 5 user property (e.g. event-time), in ISO 8601 UTC, for aggregate --event-time-property',
    group: MQTT,
    read: userPropertyName,
  },
  maxEventTimeAhead: {
    name: 'max-event-time-ahead',
    value: 'time',
    env: 'MAX_EVENT_TIME_AHEAD',
    fallback: '1 hour',
    help: "events stamped further ahead of this machine's clock are rejected (off: no guard)",
    group: WINDOWS,
    read: duration({ off: true }),
  },
  aggregatorId: {
    name: 'aggregator-id',
    value: 'id',
    env: 'AGGREGATOR_ID',
    fallback: '',
    shownFallback: 'none',
    help: "this aggregator's id when several share the stream (scale-out)",
    group: STATE,
    read: aggregatorId,
  },
  deadLetterTopic: {
    name: 'dead-letter-topic',
    value: 'topic',
    env: 'MQTT_DEAD_LETTER_TOPIC',
    fallback: undefined,
    help: 'republish each rejected message there (QoS 1, unchanged, kind and reason as user properties) before acknowledging it',
    group: MQTT,
    read: topicName,
  },
  shareGroup: {
    name: 'share-group',
    value: 'group',
    env: 'MQTT_SHARE_GROUP',
    fallback: undefined,
    help: 'subscribe as $share/<group>/<topic> (MQTT 5 shared subscription); with --cassandra, each member needs its own --aggregator-id',
    group: MQTT,
    read: shareGroup,
  },
  stateDir: {
    name: 'state-dir',
    value: 'dir',
    env: 'AGGREGATOR_STATE_DIR',
    fallback: undefined,
    shownFallback: '$XDG_STATE_HOME/mqtt-iot-stream/<aggregator id or default>',
    help: 'where the open windows and the journal are saved',
    group: STATE,
    read: nonEmpty,
  },
  durability: {
    name: 'durability',
    value: 'level',
    env: 'AGGREGATOR_DURABILITY',
    fallback: 'process',
    help: 'what an acknowledged message survives: process (a crash) or power (also power loss: fsync per batch)',
    choices: ['process', 'power'],
    group: STATE,
    read: oneOf(['process', 'power']),
  },
  clientId: {
    name: 'client-id',
    value: 'id',
    env: 'MQTT_CLIENT_ID',
    fallback: undefined,
    shownFallback:
      'mqtt-iot-stream-aggregator-<aggregator id>, or without one an id made once and kept in the state directory',
    help: 'MQTT client id of the persistent session; one per aggregator (another client with the same id takes the session, and this one stops)',
    group: MQTT,
    read: nonEmpty,
  },
  sessionExpiry: {
    name: 'session-expiry',
    value: 'time',
    env: 'MQTT_SESSION_EXPIRY',
    fallback: '7 days',
    help: 'how long the broker keeps the session and queues messages while the aggregator is away (whole seconds)',
    group: MQTT,
    // MQTT 5's Session Expiry Interval: a four-byte number of seconds.
    read: duration({ min: 1_000, max: 4_294_967_295_000, wholeSeconds: true }),
  },
  maxPendingRows: {
    name: 'max-pending-rows',
    value: 'n',
    env: 'MAX_PENDING_ROWS',
    fallback: '10000',
    help: 'rows waiting for Cassandra before the aggregator stops taking messages',
    group: STATE,
    read: wholeNumber(1),
  },
  maxMessageSize: {
    name: 'max-message-size',
    value: 'bytes',
    env: 'MAX_MESSAGE_SIZE',
    fallback: '1048576',
    help: 'larger payloads are rejected unparsed',
    group: STATE,
    read: wholeNumber(1),
  },
  format: {
    name: 'format',
    value: 'format',
    env: 'OUTPUT_FORMAT',
    fallback: undefined,
    shownFallback: 'table on a terminal, json otherwise',
    help: 'rows on stdout: table or json',
    choices: ['table', 'json'],
    group: OUTPUT,
    read: oneOf(['table', 'json']),
  },
  http: {
    name: 'http',
    value: 'address',
    env: 'STATUS_HTTP',
    fallback: 'off',
    help:
      'serve /metrics, /healthz, /readyz and a dashboard on host:port; a port alone is on 127.0.0.1 ' +
      '(0: any free port); 0.0.0.0:port is every interface, unauthenticated; auto: 127.0.0.1:9464 or a ' +
      'free port; off: none',
    group: OUTPUT,
    read: listenAddress,
  },
  statusEvery: {
    name: 'status-every',
    value: 'time',
    env: 'STATUS_EVERY',
    fallback: '1 minute',
    help: 'off a terminal, a status line this often; on one, a live line instead (off or 0: neither)',
    group: OUTPUT,
    read: duration({ off: true }),
  },
} as const satisfies Record<string, Flag<unknown>>;

/** `--log` under its old name, `--file`: the same value, kept working, not in the help. */
export function oldLogFlag<T>(log: Flag<T>): Flag<T, undefined> {
  const { env: _env, ...rest } = withoutDefault(log);
  return { ...rest, name: 'file', hidden: true };
}

/** Reads `--log`, or its old name `--file`; both at once is a usage error. */
export function logFile(values: { log: string; file?: string | undefined }, command: Command): string {
  if (values.file === undefined) return values.log;
  if (command.getOptionValueSource('log') === 'cli')
    throw new UsageError('--file is the old name of --log: give one of them');
  return values.file;
}

/** A boolean flag (no value): set on the command line, or by its variable set to anything but empty. */
export interface Switch {
  readonly name: string;
  readonly env: string;
  readonly help: string;
  readonly group?: string;
}

export const verbose: Switch = {
  name: 'verbose',
  env: 'VERBOSE',
  help: "print each rejected message's reason on stderr",
  group: OUTPUT,
};

/** `aggregate --leave`: the drain and leave that SIGUSR2 starts in a running aggregator, from the start. */
export const leave: Switch = {
  name: 'leave',
  env: 'AGGREGATOR_LEAVE',
  help: 'leave the share group for good: unsubscribe, count what the broker still holds for this session, write the open windows, end the session and exit (SIGUSR2 does it to a running aggregator)',
  group: MQTT,
};

// The option each flag of a command became, to read its value and where it came from.
const optionsOf = new WeakMap<Command, Map<string, Option>>();

/** Adds flags (and switches) to a command, as commander options with their variable, default and choices. */
export function addFlags(command: Command, flagSet: FlagSet, switches: readonly Switch[] = []): Command {
  const options = optionsOf.get(command) ?? new Map<string, Option>();
  optionsOf.set(command, options);
  for (const [key, flag] of Object.entries(flagSet)) {
    // A default the command works out (not a value commander can hold) is said in the help text.
    const unheld =
      flag.fallback === undefined && flag.shownFallback !== undefined ? `; default: ${flag.shownFallback}` : '';
    const option = new Option(`--${flag.name} <${flag.value}>`, `${flag.help}${unheld}`);
    if (flag.env !== undefined) option.env(flag.env);
    if (flag.choices !== undefined) option.choices(flag.choices).argParser((text: string) => text);
    if (flag.fallback !== undefined) option.default(flag.fallback, flag.shownFallback);
    if (flag.group !== undefined) option.helpGroup(flag.group);
    if (flag.hidden === true) option.hideHelp();
    command.addOption(option);
    options.set(key, option);
  }
  for (const flag of switches) {
    const option = new Option(`--${flag.name}`, flag.help).env(flag.env);
    if (flag.group !== undefined) option.helpGroup(flag.group);
    command.addOption(option);
  }
  return command;
}

/**
 * Reads the values of `flagSet` from the command's parsed options (command line, then
 * environment, then default) through each flag's reader. Throws one {@link UsageError}
 * naming every bad value, before the caller has opened anything.
 */
export function readFlags<F extends FlagSet>(command: Command, flagSet: F): FlagValues<F> {
  const options = optionsOf.get(command);
  const parsed = command.opts<Record<string, unknown>>();
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, flag] of Object.entries(flagSet)) {
    const option = options?.get(key);
    if (option === undefined) throw new Error(`the flag --${flag.name} was not added to ${command.name()}`);
    const attribute = option.attributeName();
    const text = parsed[attribute];
    if (text === undefined) {
      values[key] = undefined;
      continue;
    }
    try {
      values[key] = flag.read(String(text));
    } catch (error) {
      if (!(error instanceof FlagValueProblem)) throw error;
      const source = command.getOptionValueSource(attribute) === 'env' ? ` (from $${flag.env ?? '?'})` : '';
      problems.push(`--${flag.name}${source} ${error.message}`);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return values as FlagValues<F>;
}

/** Whether a switch is on (from the command line or its variable). */
export function switchOn(command: Command, flag: Switch): boolean {
  return command.opts<Record<string, unknown>>()[new Option(`--${flag.name}`).attributeName()] === true;
}

/**
 * The variables of these flags that are set but empty, removed: an empty variable
 * counts as unset (a `FOO=` line in a unit file, a `${FOO:-}` in a script), where
 * commander would take the empty text as the value.
 */
export function dropEmptyVariables(command: Command, environment: NodeJS.ProcessEnv = process.env): void {
  for (const option of [command, ...command.commands].flatMap((each) => each.options)) {
    if (option.envVar !== undefined && environment[option.envVar] === '') delete environment[option.envVar];
  }
}
