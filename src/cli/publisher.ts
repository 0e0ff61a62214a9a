// The Pi side as publish and the demo run it: each press takes the next line, stamps it
// with the current UTC time as {"iottimestamp", "accesslogs"} and publishes it, the LED
// lit meanwhile; one result per message once the broker has acknowledged it. The same
// operators as examples/pi-publisher.ts, with what the command adds: presses from a
// timer or the acknowledgements instead of a button, lines from stdin, and each line's
// place in its file carried to its acknowledgement (for the position file).
import type { MqttClient } from 'mqtt';
import { concatMap, filter, from, map, of, takeWhile, tap, type Observable } from 'rxjs';
import { fromGpioButton } from '../gpio/fromGpioButton.js';
import type { GpioBackendChoice } from '../gpio/gpioBackendChoice.js';
import { lightWhile } from '../gpio/lightWhile.js';
import { makeIotPayload, type IotPayload } from '../payload/codec.js';
import { serializePayload } from '../payload/serializePayload.js';
import { toMqtt, type MqttPublished } from '../mqtt/toMqtt.js';
import type { LineSource, SourceLine } from './lineSources.js';

/** The reference button: GPIO 17, LED on GPIO 4, pulled up, both edges, 300 ms bounce time. */
export const BUTTON = { pin: 17, ledPin: 4, bounceMs: 300 } as const;

/** A line on its way: its text and place, and the payload made of it. */
export interface PublishedLine {
  readonly line: SourceLine;
  readonly payload: IotPayload;
}

export interface PublishSettings {
  /** Each value is one press: it takes the next line. */
  readonly presses: Observable<unknown>;
  readonly lines: LineSource;
  /** A connected client; the pipeline publishes through it and leaves it open. */
  readonly client: MqttClient;
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  /** Where the LED is. */
  readonly backend: GpioBackendChoice;
  readonly ledPin: number;
  /** The time each line is stamped with. Default: now. */
  readonly stamp?: () => Date;
  /** Called for each line taken, before it is published. */
  readonly onLine?: (line: SourceLine) => void;
}

/** The presses of a button on `pin` (pull-up, both edges, the reference bounce time). */
export function buttonPresses(pin: number, backend: GpioBackendChoice): Observable<unknown> {
  return fromGpioButton(pin, { pull: 'up', edge: 'both', debounce: BUTTON.bounceMs, backend }).pipe(
    filter((event) => event.pressed),
  );
}

/**
 * Every press, published: one result per line, once the broker has acknowledged it (at
 * QoS 0, once it is written). Completes when the presses do, or when the lines run out,
 * after the messages in flight.
 */
export function publishLines(settings: PublishSettings): Observable<MqttPublished<PublishedLine>> {
  const { lines, client, topic, qos, backend, ledPin, stamp = () => new Date(), onLine = () => {} } = settings;
  return settings.presses.pipe(
    // A press waits for its line (stdin may not have one yet); presses meanwhile queue in order.
    concatMap(() => from(Promise.resolve(lines.next()))),
    takeWhile((line): line is SourceLine => line !== undefined),
    tap(onLine),
    // iottimestamp as Python's str(datetime.utcnow())
    map((line): PublishedLine => ({ line, payload: makeIotPayload(line.text, stamp()) })),
    lightWhile(
      ledPin,
      (item: PublishedLine) =>
        of(item).pipe(toMqtt(client, { topic, qos, serialize: (published) => serializePayload(published.payload) })),
      { backend },
    ),
  );
}
