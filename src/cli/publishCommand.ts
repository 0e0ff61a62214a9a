// `mqtt-iot-stream publish`: the Pi side from the command line. Everything that can be
// wrong is found before the first press: the flags, the GPIO backend, the broker.
import { loadGpiodBackend, loadPigpioBackend, type GpioBackend } from '../index.js';
import { keyboardButton, sharedSimulatedGpio } from '../testing.js';
import { Subject, lastValueFrom, takeUntil, tap } from 'rxjs';
import { connectBroker } from './brokerConnection.js';
import { publishTopic, reservedTopicWarning } from './flagValues.js';
import { piPublisher } from './publisher.js';
import { UsageError, describeFlags, integerSetting, qosSetting, readSettings, type FlagName } from './flags.js';

const publishFlags = [
  'broker',
  'topic',
  'username',
  'password',
  'qos',
  'file',
  'backend',
  'button-pin',
  'led-pin',
] as const satisfies readonly FlagName[];

export const publishHelp = `mqtt-iot-stream publish [flags]

Connects to the broker first and stops at once if it cannot. On a Raspberry Pi 1–4 the
pigpio backend needs root and the pigpio C library; on a Pi 5 use --backend gpiod.
--backend simulated: press Enter. Ctrl-C (or SIGTERM) stops after the press in flight.

${describeFlags(publishFlags)}`;

export async function publishCommand(argv: readonly string[]): Promise<number> {
  // A topic filter is not enough here: PUBLISH takes no wildcards.
  const s = readSettings(argv, publishFlags, {}, { topic: publishTopic });
  const buttonPin = integerSetting('button-pin', s['button-pin']);
  const ledPin = integerSetting('led-pin', s['led-pin']);
  if (buttonPin === ledPin)
    throw new UsageError(`--button-pin and --led-pin must be different pins, both are ${buttonPin}`);
  const qos = qosSetting(s.qos);
  const warning = reservedTopicWarning(s.topic);
  if (warning !== undefined) process.stderr.write(`warning: ${warning}\n`);

  // The hardware before the network: off a Pi, pigpio fails here with its diagnosis.
  const backend: GpioBackend =
    s.backend === 'simulated'
      ? sharedSimulatedGpio()
      : s.backend === 'gpiod'
        ? await loadGpiodBackend()
        : await loadPigpioBackend();
  const client = await connectBroker(
    s.broker,
    {
      ...(s.username === undefined ? {} : { username: s.username }),
      ...(s.password === undefined ? {} : { password: s.password }),
    },
    (line) => process.stdout.write(`${line}\n`),
  );

  const stop = new Subject<void>();
  const onSignal = (): void => stop.next();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const simulated = s.backend === 'simulated';
  const keyboard = simulated ? keyboardButton(sharedSimulatedGpio(), buttonPin).subscribe() : undefined;
  // With the keyboard as the button, the end of input (Ctrl-D, or a pipe) ends the run
  // too, a moment later, so the last press still gets published.
  const onInputEnd = (): void => {
    setTimeout(onSignal, 1_000);
  };
  if (simulated) process.stdin.once('end', onInputEnd);
  process.stdout.write(
    `connected to ${s.broker}; each press of GPIO ${buttonPin} (${s.backend}${simulated ? ': press Enter' : ''}) ` +
      `publishes the next line of ${s.file} to "${s.topic}"; Ctrl-C stops\n`,
  );
  let sent = 0;
  try {
    await lastValueFrom(
      piPublisher({ broker: client, topic: s.topic, qos, logFile: s.file, backend, buttonPin, ledPin }).pipe(
        takeUntil(stop),
        tap((published) => process.stdout.write(`sent #${++sent} ${published.value.accesslogs.slice(0, 100)}\n`)),
      ),
      { defaultValue: undefined },
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.stdin.removeListener('end', onInputEnd);
    keyboard?.unsubscribe();
    await client.endAsync();
    if ('terminate' in backend && typeof backend.terminate === 'function') backend.terminate();
  }
  return 0;
}
