/**
 * The Pi side of the reference scenario.
 *
 * A push button on GPIO 17 (pull-up, both edges, 300 ms bounce time). Each press
 * takes the next line of an access log, stamps it with the current UTC time as
 * `{"iottimestamp", "accesslogs"}` and publishes it to `rupesh/gpiotopic`; the LED
 * on GPIO 4 is lit while the press is being published.
 *
 * Run it on a Pi (Ctrl-C stops):
 *
 *   MQTT_URL=mqtt://broker.local:1883 ACCESS_LOG=/var/log/apache2/access.log sudo -E npx tsx examples/pi-publisher.ts
 *
 * `npx mqtt-iot-stream publish` runs the same pipeline with a flag for everything
 * (and `--backend simulated` off a Pi).
 */
import { connect, type MqttClient } from 'mqtt';
import { pathToFileURL } from 'node:url';
import { filter, map, of, type Observable } from 'rxjs';
import {
  fromGpioButton,
  lightWhile,
  makeIotPayload,
  nextLine,
  toMqtt,
  type GpioBackendChoice,
  type IotPayload,
  type MqttPublished,
} from 'mqtt-iot-stream';

export interface PublisherSettings {
  /** A connected client; the pipeline publishes through it and leaves it open. */
  readonly broker: MqttClient;
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  /** The access log whose next line each press publishes (it starts over at the end). */
  readonly logFile: string;
  readonly backend: GpioBackendChoice;
  readonly buttonPin: number;
  readonly ledPin: number;
  /** The time each press is stamped with. Default: now. */
  readonly stamp?: () => Date;
}

/** Every press of the button, published; emits once the broker has acknowledged it. */
export function piPublisher(settings: PublisherSettings): Observable<MqttPublished<IotPayload>> {
  const { broker, topic, qos, logFile, backend, buttonPin, ledPin, stamp = () => new Date() } = settings;
  return fromGpioButton(buttonPin, { pull: 'up', edge: 'both', debounce: 300, backend }).pipe(
    filter((event) => event.pressed),
    nextLine(logFile),
    map((line) => makeIotPayload(line, stamp())), // iottimestamp as Python's str(datetime.utcnow())
    lightWhile(ledPin, (payload) => of(payload).pipe(toMqtt(broker, { topic, qos })), { backend }),
  );
}

// Run as a program (not when imported, as the tests do).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const broker = connect(process.env['MQTT_URL'] ?? 'mqtt://localhost:1883');
  const presses = piPublisher({
    broker,
    topic: 'rupesh/gpiotopic',
    qos: 1,
    logFile: process.env['ACCESS_LOG'] ?? '/var/log/apache2/access.log',
    backend: 'pigpio',
    buttonPin: 17,
    ledPin: 4,
  }).subscribe({
    next: (published) => console.log('acknowledged', published.messageId, published.value.accesslogs),
    error: (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
      broker.end();
    },
  });
  process.once('SIGINT', () => {
    presses.unsubscribe();
    broker.end();
  });
}
