// A failure as the command prints it: one line, in the words of flags and files. The
// library's errors name operators and options (`toMqtt: …`, "the `ca` option"), which
// is right for code that calls them and wrong for a person at a shell: here, at the
// command's edge, the operator's name goes and the options become the flags that set
// them. What failed and why stays the library's sentence: the classification is not
// done twice.
import { CassandraDriverMissingError } from '../cassandra/driver.js';
import { GpioBackendUnavailableError } from '../gpio/gpioBackendUnavailableError.js';
import { MqttConnectionError } from '../mqtt/connectionError.js';
import { FIRST_CONNECT_TIMEOUT_MS } from './brokerConnection.js';
import { UsageError } from './usageError.js';

/**
 * The exit status of a failed command: 2 when the command line is wrong, 3 when another
 * client took the aggregator's MQTT session (a supervisor restarting it would take the
 * session back, and the two would go on taking turns: systemd's RestartPreventExitStatus
 * names it), 1 for anything else.
 */
export function exitStatus(error: unknown): number {
  if (error instanceof UsageError) return 2;
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause)
    if (cause instanceof MqttConnectionError && cause.takenOver) return 3;
  return 1;
}

/** The library's names that start its messages; the command's messages do not start so. */
const API_PREFIX =
  /(^|: )(?:fromMqtt|toMqtt|durableWindowedCount|windowedCount|WindowedCountState\.restore|cassandraSink|checkWindowCountTable|ensureWindowCountTable|readWindowTotals|nextLine|NextLineState|fromGpioButton|lightWhile|keyboardButton|decodeIotPayload|parseAccessLog|registerStatistics): /g;

/** Phrases of the library's messages that name an option, in the flags that set it. */
const IN_FLAGS: readonly (readonly [RegExp, string])[] = [
  [/Check username and password/, 'check --username and --password'],
  [
    /Pass the CA that signed the broker's certificate as the `ca` option, and connect by the name or IP address the certificate was issued for/,
    "give the CA that signed the broker's certificate with --ca, and a --broker host the certificate was issued for",
  ],
  [
    /If this port expects TLS, connect with mqtts:\/\/ and a `ca`/,
    'If this port expects TLS, use an mqtts:// --broker and --ca',
  ],
  [
    /is the broker running, and is the port right\?/,
    'is the broker running, and is the port right? (--broker sets the address)',
  ],
  [/cannot be resolved \(ENOTFOUND\)/, 'cannot be resolved (ENOTFOUND): check --broker'],
  [/give each aggregator its own directory/, 'give each aggregator its own --state-dir (or --aggregator-id)'],
  [/\bbackend '(pigpio|gpiod|simulated)'/g, '--backend $1'],
  [/^serveStatus: cannot listen on/, '--http: cannot listen on'],
  [/^cassandraSink: /, 'Cassandra: '],
];

/** The message of `error` (anything thrown) as one line for stderr, after `mqtt-iot-stream: `. */
export function failureMessage(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error));
  if (error instanceof CassandraDriverMissingError)
    return (
      '--cassandra needs cassandra-driver, which this install left out (npm install --omit=optional): ' +
      'run `npm install cassandra-driver` beside mqtt-iot-stream'
    );
  if (error instanceof MqttConnectionError && (error.cause as Error | undefined)?.message === 'connack timeout')
    return (
      `no answer from the MQTT broker at ${error.broker} within ${FIRST_CONNECT_TIMEOUT_MS / 1000} s: it took ` +
      'the connection and never answered CONNECT (is --broker an MQTT port?)'
    );
  let message = error.message;
  for (const [phrase, flags] of IN_FLAGS) message = message.replace(phrase, flags);
  if (error instanceof GpioBackendUnavailableError && !message.includes('--backend simulated'))
    message += '\nwithout a Pi, run with --backend simulated (Enter presses the button)';
  return oneLine(message.replace(API_PREFIX, '$1'));
}

/**
 * Lines as one: a numbered list (pigpio's diagnosis names each cause on its own line)
 * becomes "(1) …; (2) …", other lines are joined with "; ".
 */
export function oneLine(text: string): string {
  let joined = '';
  let previousNumbered = false;
  for (const line of text.split('\n').map((each) => each.trim())) {
    if (line === '') continue;
    const numbered = /^(\d+)\. (.*)$/.exec(line);
    const item = numbered === null ? line : `(${numbered[1]!}) ${numbered[2]!}`;
    const separator = joined === '' ? '' : numbered !== null && !previousNumbered ? ' ' : '; ';
    if (separator === '; ') joined = joined.replace(/\.$/, '');
    joined += separator + item;
    previousNumbered = numbered !== null;
  }
  return joined;
}
