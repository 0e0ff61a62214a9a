/**
 * The Pi side of the reference scenario.
 *
 * A push button on GPIO 17 (pull-up, both edges, 300 ms bounce time). Each press
 * takes the next line of an access log, stamps it with the current UTC time as
 * `{"iottimestamp", "accesslogs"}` and publishes it to `rupesh/gpiotopic`; the LED
 * on GPIO 4 is lit while the press is being published.
 *
 *   npx mqtt-iot-stream publish --broker mqtt://broker.local:1883 --file /var/log/apache2/access.log
 *   npx mqtt-iot-stream publish --backend simulated      # no Pi: press Enter
 */
import type { MqttClient } from 'mqtt';
import { filter, map, of, tap, type Observable } from 'rxjs';
import {
  fromGpioButton,
  lightWhile,
  makeIotPayload,
  nextLine,
  toMqtt,
  type GpioBackendChoice,
  type IotPayload,
  type MqttPublished,
} from '../index.js';

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
  /** Called for each press the button reports (after the bounce time), before its line is read. */
  readonly onPress?: () => void;
}

/** Every press of the button, published; emits once the broker has acknowledged it. */
export function piPublisher(settings: PublisherSettings): Observable<MqttPublished<IotPayload>> {
  const {
    broker,
    topic,
    qos,
    logFile,
    backend,
    buttonPin,
    ledPin,
    stamp = () => new Date(),
    onPress = () => {},
  } = settings;
  return fromGpioButton(buttonPin, { pull: 'up', edge: 'both', debounce: 300, backend }).pipe(
    filter((event) => event.pressed),
    tap(onPress),
    nextLine(logFile),
    map((line) => makeIotPayload(line, stamp())), // iottimestamp as Python's str(datetime.utcnow())
    lightWhile(ledPin, (payload) => of(payload).pipe(toMqtt(broker, { topic, qos })), {
      backend,
    }),
  );
}
