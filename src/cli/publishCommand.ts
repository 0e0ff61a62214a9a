// `mqtt-iot-stream publish`: the Pi side from the command line, scriptable. Everything
// that can be wrong is found before the first press: the flags, the GPIO backend, the
// broker. At the end one line says how many messages the broker acknowledged, and the
// status is 1 when not all were.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  BehaviorSubject,
  ReplaySubject,
  Subject,
  delay,
  finalize,
  lastValueFrom,
  takeUntil,
  tap,
  timer,
  type Observable,
} from 'rxjs';
import { loadGpiodBackend } from '../gpio/backends/gpiod/gpiodBackend.js';
import { loadPigpioBackend } from '../gpio/backends/pigpio/pigpioBackend.js';
import type { GpioBackend } from '../gpio/backend.js';
import { keyboardButton } from '../gpio/simulation/keyboardButton.js';
import { sharedSimulatedGpio } from '../gpio/simulation/simulatedGpio.js';
import { describeDuration } from '../duration.js';
import { closeOwned, redactCredentials } from '../mqtt/connection.js';
import { connectBroker } from './brokerConnection.js';
import {
  decimalNumber,
  duration,
  fileOrStdin,
  nonEmpty,
  reservedTopicWarning,
  wholeNumber,
  type FlagReader,
} from './flagValues.js';
import { flags, logFile, oldLogFlag, readFlags, readWith, type Flag } from './flags.js';
import { startedByNpm, whenParentGone } from './launcher.js';
import { FileLines, StreamLines, type LineSource } from './lineSources.js';
import { LogPosition, defaultPositionFile } from './logPosition.js';
import type { CommandSpec } from './program.js';
import { openOutbox, type Outbox } from '../mqtt/outbox.js';
import { BUTTON, DEFAULT_MAX_WAITING, buttonPresses, publishLines, type PublishedLine } from './publisher.js';
import { UsageError } from './usageError.js';

/** With the keyboard as the button, the end of input stops the run this much later, so the last press is published. */
const INPUT_END_GRACE_MS = 1_000;

const positionFile: Flag<string, string> = {
  name: 'position-file',
  value: 'file',
  env: 'PUBLISH_POSITION_FILE',
  fallback: 'auto',
  help: 'where the place in --log is kept across restarts; auto: under $XDG_STATE_HOME/mqtt-iot-stream/publisher/; off: start at line 1',
  group: 'Button, LED and log:',
  read: nonEmpty,
};

const log = readWith(
  flags.log,
  fileOrStdin as FlagReader<string>,
  'the access log whose next line each press publishes; -: lines from stdin',
);

const publishFlags = {
  broker: flags.broker,
  topic: flags.publishTopic,
  username: flags.username,
  password: flags.password,
  ca: flags.ca,
  cert: flags.cert,
  key: flags.key,
  qos: flags.publishQos,
  log,
  file: oldLogFlag(log),
  positionFile,
  backend: flags.backend,
  buttonPin: flags.buttonPin,
  ledPin: flags.ledPin,
  rate: {
    name: 'rate',
    value: 'per-second',
    env: 'PUBLISH_RATE',
    fallback: undefined,
    help: 'a timed button: this many presses a second (e.g. 2, 0.1), instead of GPIO or Enter',
    group: 'Button, LED and log:',
    read: decimalNumber(0, 1_000, true),
  },
  ackWait: {
    name: 'ack-wait',
    value: 'time',
    env: 'PUBLISH_ACK_WAIT',
    fallback: '10 s',
    help: 'after the last line, how long the broker may take to acknowledge those in flight before they count as not',
    group: 'MQTT:',
    read: duration(),
  },
  maxQueued: {
    name: 'max-queued',
    value: 'n',
    env: 'PUBLISH_MAX_QUEUED',
    fallback: String(DEFAULT_MAX_WAITING),
    help: 'messages kept while the broker does not acknowledge them (it is away); a press beyond is ignored, its line left for a later press, and said on stderr',
    group: 'MQTT:',
    read: wholeNumber(1),
  },
  outbox: {
    name: 'outbox',
    value: 'dir',
    env: 'PUBLISH_OUTBOX',
    fallback: undefined,
    help: 'keep each message in this directory until the broker acknowledges it: sent again after a restart or a power cut (publisher id and seq as MQTT 5 user properties), the place in --log kept with it',
    group: 'MQTT:',
    read: nonEmpty,
  },
  eventTimeProperty: flags.stampEventTimeProperty,
  durability: {
    ...flags.durability,
    env: 'PUBLISH_DURABILITY',
    help: 'with --outbox, what a kept message survives: process (a crash) or power (also a power loss: fsync per message)',
    group: 'MQTT:',
  },
  count: {
    name: 'count',
    value: 'n',
    env: 'PUBLISH_COUNT',
    fallback: undefined,
    help: 'stop after this many lines, once the broker has acknowledged them',
    group: 'Button, LED and log:',
    read: wholeNumber(1),
  },
} as const;

export const publishCommand: CommandSpec = {
  name: 'publish',
  summary: 'the Pi side: each press of GPIO 17 publishes the next log line',
  description: `Publishes the next line of an access log at each press of a button, as the Pi of
the reference scenario does: {"iottimestamp": <UTC now>, "accesslogs": <line>}.
The LED is lit while a message is on its way.

What presses: the button on GPIO (--backend pigpio on a Pi 1-4, which needs root
and the pigpio C library; gpiod on a Pi 5); with --backend simulated, Enter;
with --rate, a timer. --log - takes the lines from stdin; then, with --backend
simulated and no --rate, each line is published as it comes.

The place in the log is kept across restarts in a position file, saved after
each message the broker acknowledged: a restart goes on with the next line (one
in flight at a crash is sent again). A log that is now another file (rotated)
or shorter (truncated) is read from its first line.

While the broker is away, presses go on taking lines; their messages wait in
order and go once it is back. At most --max-queued wait: a press beyond is
ignored (its line left for a later press) and stderr says so. --outbox DIR keeps
each message in a file until its acknowledgement, with the place in the log: a
restart, a crash or a power cut (--durability power) sends it again, and the
aggregator recognises what it counted already (publisher id and seq).
--event-time-property NAME also stamps the press time into that MQTT 5 user
property, for aggregate --event-time-property NAME.

It connects first and stops at once if it cannot. Ctrl-C, SIGTERM, --count or
the end of stdin stops it after the messages in flight; then one line says how
many the broker acknowledged, with status 1 when not all were.`,
  flags: publishFlags,
  after: `Examples:
  mqtt-iot-stream publish --broker mqtt://broker.local:1883 \\
    --log /var/log/apache2/access.log
  mqtt-iot-stream publish --backend simulated --rate 2 --count 10
  tail -F access.log | mqtt-iot-stream publish --backend simulated --log -`,
  run: runPublish,
};

async function runPublish(command: Command): Promise<number> {
  const settings = readFlags(command, publishFlags);
  const logPath = logFile(settings, command);
  const { buttonPin, ledPin, qos, topic, backend: backendName, rate, count, ackWait, maxQueued } = settings;
  if (settings.outbox !== undefined && qos === 0)
    throw new UsageError(
      '--outbox keeps each message until the broker acknowledges it, which QoS 0 never does: use --qos 1',
    );
  if (buttonPin === ledPin)
    throw new UsageError(`--button-pin and --led-pin must be different pins, both are ${buttonPin}`);
  if ((settings.cert === undefined) !== (settings.key === undefined))
    throw new UsageError('--cert and --key go together: the client certificate and its private key');
  const fromStdin = logPath === '-';
  if (fromStdin && settings.positionFile !== 'auto' && settings.positionFile !== 'off')
    throw new UsageError('--position-file keeps a place in a file, and --log - (stdin) has none: leave it out');
  const position =
    fromStdin || settings.positionFile === 'off'
      ? undefined
      : new LogPosition(
          settings.positionFile === 'auto' ? defaultPositionFile(logPath) : settings.positionFile,
          logPath,
        );
  const broker = redactCredentials(settings.broker);
  const warning = reservedTopicWarning(topic);
  if (warning !== undefined) process.stderr.write(`warning: ${warning}\n`);

  // Before anything is opened: a position file or an outbox that cannot be read or
  // written stops the command. The outbox's place in the log is the one to go on from:
  // it is saved with each message, before it is published.
  let outbox: Outbox | undefined;
  try {
    outbox =
      settings.outbox === undefined
        ? undefined
        : openOutbox(settings.outbox, { maxMessages: maxQueued, durability: settings.durability });
  } catch (error) {
    throw new Error(`cannot open the outbox ${settings.outbox!}: ${(error as Error).message} (--outbox)`, {
      cause: error,
    });
  }
  let start: ReturnType<LogPosition['read']> | undefined;
  try {
    start =
      position === undefined
        ? undefined
        : outbox?.mark !== undefined
          ? position.check(outbox.mark, settings.outbox!)
          : position.read();
    position?.prepare();
  } catch (error) {
    outbox?.close();
    throw error;
  }
  // The hardware before the network: off a Pi, pigpio fails here with its diagnosis.
  const simulated = backendName === 'simulated';
  const backend: GpioBackend =
    backendName === 'simulated'
      ? sharedSimulatedGpio()
      : backendName === 'gpiod'
        ? await loadGpiodBackend()
        : await loadPigpioBackend();
  let lines: LineSource | undefined;
  let client: Awaited<ReturnType<typeof connectBroker>> | undefined;
  // Why the presses stopped: a signal, --count, or the end of the keyboard's input.
  let stopReason: 'signal' | 'count' | 'input end' | undefined;
  const stop = new Subject<void>();
  const stopFor = (reason: NonNullable<typeof stopReason>): void => {
    stopReason ??= reason;
    stop.next();
  };
  const onSignal = (): void => stopFor('signal');
  let stopWatchingParent: (() => void) | undefined;
  try {
    client = await connectBroker(
      settings.broker,
      {
        ...(settings.username === undefined ? {} : { username: settings.username }),
        ...(settings.password === undefined ? {} : { password: settings.password }),
        ...(settings.ca === undefined ? {} : { ca: readFileSync(settings.ca) }),
        ...(settings.cert === undefined ? {} : { cert: readFileSync(settings.cert) }),
        ...(settings.key === undefined ? {} : { key: readFileSync(settings.key) }),
        // The outbox's publisher id and seq, and the event time, are MQTT 5 user properties.
        ...(outbox === undefined && settings.eventTimeProperty === undefined ? {} : { protocolVersion: 5 as const }),
      },
      (line) => process.stdout.write(`${line}\n`),
    );
    const fileLines = fromStdin ? undefined : new FileLines(logPath, start?.offset ?? 0);
    const stdinLines = fromStdin ? new StreamLines(process.stdin) : undefined;
    lines = fileLines ?? stdinLines!;

    // What presses the button.
    const mode = rate !== undefined ? 'timer' : !simulated ? 'gpio' : fromStdin ? 'each line' : 'keyboard';
    let enterPresses = 0;
    const acknowledged = new BehaviorSubject<void>(undefined);
    const presses: Observable<unknown> =
      mode === 'timer'
        ? timer(0, 1_000 / rate!)
        : mode === 'each line'
          ? acknowledged // the next line is taken once the previous one is acknowledged: paced by the broker
          : buttonPresses(buttonPin, backend);
    const keyboard =
      mode === 'keyboard'
        ? keyboardButton(sharedSimulatedGpio(), buttonPin).subscribe({
            next: () => enterPresses++,
            complete: () => setTimeout(() => stopFor('input end'), INPUT_END_GRACE_MS),
          })
        : undefined;

    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // npm does not pass a signal on through its shell (launcher.ts): its going is the signal.
    stopWatchingParent = startedByNpm() ? whenParentGone(onSignal) : undefined;
    const what = fromStdin ? 'the next line of stdin' : `the next line of ${logPath}`;
    const by =
      mode === 'timer'
        ? `${rate!} presses a second (--rate) publish ${what}`
        : mode === 'each line'
          ? 'each line of stdin is published as it comes'
          : `each press of GPIO ${buttonPin} (${backendName}${mode === 'keyboard' ? ': press Enter' : ''}) publishes ${what}`;
    process.stdout.write(`connected to ${broker}; ${by} to "${topic}"; Ctrl-C stops\n`);
    if (outbox !== undefined && outbox.restored.length > 0)
      process.stdout.write(
        `sending again the ${outbox.restored.length} ${outbox.restored.length === 1 ? 'message' : 'messages'} the last run left in ${settings.outbox!} (publisher ${outbox.publisher})\n`,
      );
    if (start?.note !== undefined) process.stdout.write(`${start.note}\n`);
    else if (position !== undefined && start !== undefined && start.offset > 0)
      process.stdout.write(`going on from byte ${start.offset} of ${logPath} (the place kept in ${position.path})\n`);

    let taken = 0;
    let acks = 0;
    let ignored = 0;
    let ignoring = false;
    stop.subscribe(() => stdinLines?.close()); // a press waiting for a line gets none
    const pressesEnded = new ReplaySubject<void>(1);
    await lastValueFrom(
      publishLines({
        presses: presses.pipe(
          takeUntil(stop),
          finalize(() => pressesEnded.next()),
        ),
        lines,
        client,
        topic,
        qos,
        backend,
        ledPin,
        maxWaiting: maxQueued,
        onIgnored: (waiting) => {
          ignored++;
          if (!ignoring)
            process.stderr.write(
              `${waiting} messages wait for the broker (--max-queued ${maxQueued}): presses are ignored, their lines left for later presses, until it acknowledges\n`,
            );
          ignoring = true;
        },
        onLine: () => {
          if (ignoring)
            process.stderr.write(`the broker acknowledges again: presses taken again after ${ignored} ignored\n`);
          ignoring = false;
          if (++taken === count) stopFor('count');
        },
        ...(settings.eventTimeProperty === undefined ? {} : { eventTimeProperty: settings.eventTimeProperty }),
        ...(outbox === undefined
          ? {}
          : {
              outbox,
              outboxMark: (published: PublishedLine) =>
                published.line.offset === undefined ? undefined : position?.at(published.line.offset),
            }),
      }).pipe(
        tap(({ value }) => {
          acks++;
          if (value.line.offset !== undefined) position?.save(value.line.offset);
          process.stdout.write(`sent #${acks} ${value.payload.accesslogs.slice(0, 100)}\n`);
          acknowledged.next();
        }),
        // Once no more lines are taken, those in flight get a while to be acknowledged, then count as not.
        takeUntil(pressesEnded.pipe(delay(ackWait))),
      ),
      { defaultValue: undefined },
    );
    keyboard?.unsubscribe();

    const problems: string[] = [];
    if (stdinLines !== undefined && stopReason !== 'signal') {
      if (stdinLines.received === 0) problems.push('stdin held no line to publish (empty lines are skipped)');
      else if (count !== undefined && taken < count)
        problems.push(`stdin ended after ${taken} ${taken === 1 ? 'line' : 'lines'}, before --count ${count}`);
    }
    let summary = acknowledgementSummary(taken, acks, qos, ackWait);
    if (outbox !== undefined && outbox.size > 0)
      summary += `; ${outbox.size} ${outbox.size === 1 ? 'message stays' : 'messages stay'} in the outbox ${settings.outbox!}, sent again at the next start`;
    if (ignored > 0)
      summary += `; ${ignored} ${ignored === 1 ? 'press was' : 'presses were'} ignored while ${maxQueued} messages waited (--max-queued)`;
    if ((acks < taken && qos > 0) || ignored > 0 || (outbox?.size ?? 0) > 0) problems.push(summary);
    else if (problems.length > 0) problems.push(summary);
    if (problems.length > 0) throw new Error(problems.join('; '));
    const swallowed =
      mode === 'keyboard' && enterPresses > taken
        ? ` (Enter pressed ${enterPresses} times: a press within ${BUTTON.bounceMs} ms of the last is bounce, as on a Pi)`
        : '';
    process.stdout.write(`${summary}${swallowed}\n`);
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    stopWatchingParent?.();
    lines?.close();
    // Without waiting for acknowledgements that may never come (MQTT.js's graceful end would).
    if (client !== undefined) closeOwned(client);
    outbox?.close();
    if ('terminate' in backend && typeof backend.terminate === 'function') backend.terminate();
  }
}

/** How many lines were published and how many the broker acknowledged. */
function acknowledgementSummary(taken: number, acknowledged: number, qos: 0 | 1 | 2, waitMs: number): string {
  if (taken === 0) return 'published no line';
  const lines = `${taken} ${taken === 1 ? 'line' : 'lines'}`;
  if (qos === 0) return `published ${lines} at QoS 0, which the broker does not acknowledge`;
  if (acknowledged === taken)
    return `published ${lines}; the broker acknowledged ${taken === 1 ? 'it' : `all ${taken}`}`;
  return `published ${lines}; the broker acknowledged ${acknowledged}, not the other ${taken - acknowledged} (none came within ${describeDuration(waitMs)} of the last line: --ack-wait)`;
}
