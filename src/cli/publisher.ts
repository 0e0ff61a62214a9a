// The Pi side as publish and the demo run it: each press takes the next line, stamps it
// with the current UTC time as {"iottimestamp", "accesslogs"} and publishes it, the LED
// lit while any message waits for the broker; one result per message once the broker
// has acknowledged it. examples/pi-publisher.ts does the same with the library's
// operators; the command adds presses from a timer or the acknowledgements instead of
// a button, lines from stdin, each line's place in its file carried to its
// acknowledgement (for the position file), one toMqtt for the whole run (an outage
// keeps the presses in order, bounded), the outbox and the press time as a user property.
import type { MqttClient } from 'mqtt';
import { Observable, concatMap, filter, from, map, takeWhile, tap } from 'rxjs';
import { fromGpioButton } from '../gpio/fromGpioButton.js';
import { withGpioBackend, type GpioBackendChoice } from '../gpio/gpioBackendChoice.js';
import type { Outbox } from '../mqtt/outbox.js';
import { warnOnReject, type Rejection } from '../reject.js';
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
  /** Messages waiting for the broker's acknowledgement at most; a press beyond is ignored. Default 10,000. */
  readonly maxWaiting?: number;
  /** Called for each press ignored because `maxWaiting` messages wait, with how many wait. */
  readonly onIgnored?: (waiting: number) => void;
  /** A message the broker refused (an ACL): default, a warning on stderr. */
  readonly onReject?: (rejection: Rejection) => void;
  /** Keeps each message until its acknowledgement, across restarts. */
  readonly outbox?: Outbox;
  /** With `outbox`: what is kept with each line's message (its place in the log). */
  readonly outboxMark?: (published: PublishedLine) => unknown;
  /**
   * An MQTT 5 user property to stamp each message's time into too (ISO 8601, UTC), for
   * an aggregator that reads the event time from it. The client must speak MQTT 5.
   */
  readonly eventTimeProperty?: string;
}

/** Messages waiting for the broker at most, by default. */
export const DEFAULT_MAX_WAITING = 10_000;

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
 *
 * While the broker is away, presses keep taking lines: their messages wait, in order,
 * and go once it is back (the LED stays lit while any waits). At most `maxWaiting`
 * wait: a press then is ignored, before it takes a line (the line is left for a later
 * press), and `onIgnored` hears of it. With an outbox, each message is kept there as its
 * press takes its line, so a restart sends it again.
 */
export function publishLines(settings: PublishSettings): Observable<MqttPublished<PublishedLine>> {
  const {
    lines,
    client,
    topic,
    qos,
    backend,
    ledPin,
    stamp = () => new Date(),
    onLine = () => {},
    maxWaiting = DEFAULT_MAX_WAITING,
    onIgnored = () => {},
    outbox,
    outboxMark,
    eventTimeProperty,
  } = settings;
  return withGpioBackend(
    backend,
    (gpio) =>
      new Observable<MqttPublished<PublishedLine>>((destination) => {
        const led = gpio.openOutput(ledPin, { initialLevel: 0 });
        /** Lines taken and not yet acknowledged (or refused), and those an outbox holds from before. */
        let waiting = 0;
        const light = (on: boolean): void => {
          try {
            led.write(on ? 1 : 0);
          } catch (error) {
            destination.error(error);
          }
        };
        const settled = (): void => {
          if (--waiting === 0) light(false);
        };
        const held = (): number => Math.max(waiting, outbox?.size ?? 0);
        const subscription = settings.presses
          .pipe(
            filter(() => {
              if (held() < maxWaiting) return true;
              onIgnored(held());
              return false;
            }),
            // A press waits for its line (stdin may not have one yet); presses meanwhile queue in order.
            concatMap(() => from(Promise.resolve(lines.next()))),
            takeWhile((line): line is SourceLine => line !== undefined),
            tap((line) => {
              if (waiting++ === 0) light(true);
              onLine(line);
            }),
            // iottimestamp as Python's str(datetime.utcnow())
            map((line): PublishedLine => ({ line, payload: makeIotPayload(line.text, stamp()) })),
            toMqtt(client, {
              topic,
              qos,
              serialize: (published) => serializePayload(published.payload),
              // The presses are bounded above, before they take a line.
              maxQueued: Infinity,
              onReject: (rejection) => {
                settled();
                (settings.onReject ?? warnOnReject)(rejection);
              },
              ...(outbox === undefined ? {} : { outbox }),
              ...(outboxMark === undefined ? {} : { outboxMark }),
              // The same instant as iottimestamp; an outbox keeps it with the message.
              ...(eventTimeProperty === undefined
                ? {}
                : {
                    properties: (published: PublishedLine) => ({
                      userProperties: { [eventTimeProperty]: published.payload.iottimestamp.toISOString() },
                    }),
                  }),
            }),
          )
          .subscribe({
            next: (published) => {
              settled();
              destination.next(published);
            },
            error: (error: unknown) => {
              light(false);
              destination.error(error);
            },
            complete: () => {
              light(false);
              destination.complete();
            },
          });
        return () => {
          subscription.unsubscribe();
          try {
            led.write(0);
          } catch {
            /* the pin is going away; nothing left to tell */
          }
          led.release();
        };
      }),
    'lightWhile',
  );
}
