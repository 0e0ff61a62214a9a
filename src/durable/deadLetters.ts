/**
 * Rejected messages republished to a dead-letter topic before their PUBACK, for
 * {@link durableWindowedCount}'s `deadLetter` option.
 * @module
 */
import { Subject, type Subscription } from 'rxjs';
import type { MqttConnection } from '../mqtt/connection.js';
import type { MqttMessage } from '../mqtt/message.js';
import { toMqtt } from '../mqtt/toMqtt.js';
import { counterStatistic, gaugeStatistic, type Statistic, type StatisticsSource } from '../observe/statistic.js';
import { singleLine, type Rejection, type RejectionKind } from '../reject.js';

/** Where {@link durableWindowedCount} republishes the messages it rejects. */
export interface DeadLetterOptions {
  /**
   * The broker to publish on: a URL or connection options (a client of its own, closed
   * with the stream), or an `MqttClient` you own. Not the source's connection, which
   * durableWindowedCount closes while the writer is backlogged.
   */
  broker: MqttConnection;
  /** The dead-letter topic, e.g. `rupesh/gpiotopic/dead-letter`. */
  topic: string;
  /**
   * Payload bytes carried at most (default 256 KiB): a larger payload is cut to this
   * length and the dead letter says so (`truncated-from`), so that it stays under the
   * broker's maximum packet size (Mosquitto's `max_packet_size`; keep this 1 KiB below).
   */
  maxPayloadBytes?: number;
}

/** The rejection kinds a dead letter carries: what was wrong with the message itself (not `late`, which the late table keeps). */
export const DEAD_LETTER_KINDS: ReadonlySet<RejectionKind> = new Set(['payload', 'line', 'timestamp', 'future']);

/** The default of {@link DeadLetterOptions.maxPayloadBytes}. */
const MAX_PAYLOAD_BYTES = 256 * 1024;

interface DeadLetter {
  readonly message: MqttMessage;
  readonly rejection: Rejection;
  readonly acknowledge: () => void;
}

/**
 * Publishes each rejected message, unchanged (up to `maxPayloadBytes`), at QoS 1 with
 * MQTT 5 user properties `kind`, `reason`, `operator` and `topic` (where it came from);
 * `acknowledge` runs once the broker has acknowledged the dead letter. A dead letter the
 * broker refuses (not authorised, say) ends the stream through `onError`: the
 * aggregator must not acknowledge a message it could neither count nor keep.
 * @internal
 */
export class DeadLetters implements StatisticsSource {
  readonly stage = 'dead_letter';
  private readonly letters = new Subject<DeadLetter>();
  private readonly subscription: Subscription;
  private readonly sentByKind = new Map<RejectionKind, number>();
  private waiting = 0;

  constructor(options: DeadLetterOptions, onError: (error: unknown) => void) {
    const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    this.subscription = this.letters
      .pipe(
        toMqtt<DeadLetter>(options.broker, {
          topic: options.topic,
          qos: 1,
          serialize: ({ message }) =>
            message.payload.length > maxPayloadBytes ? message.payload.subarray(0, maxPayloadBytes) : message.payload,
          properties: ({ message, rejection }) => ({
            userProperties: {
              kind: rejection.kind,
              reason: singleLine(rejection.reason),
              operator: rejection.operator,
              topic: message.topic,
              ...(message.payload.length > maxPayloadBytes ? { 'truncated-from': String(message.payload.length) } : {}),
            },
          }),
          strict: true,
        }),
      )
      .subscribe({
        next: ({ value }) => {
          this.waiting--;
          this.sentByKind.set(value.rejection.kind, (this.sentByKind.get(value.rejection.kind) ?? 0) + 1);
          value.acknowledge();
        },
        error: onError,
      });
  }

  /** Dead letters the broker has acknowledged, by kind. */
  get sent(): ReadonlyMap<RejectionKind, number> {
    return this.sentByKind;
  }

  /** Dead letters published and not yet acknowledged. */
  get pending(): number {
    return this.waiting;
  }

  /** See {@link StatisticsSource}: dead letters acknowledged by kind, and waiting. */
  statistics(): Statistic[] {
    return [
      ...[...DEAD_LETTER_KINDS].map((kind) =>
        counterStatistic(
          'dead_letters_total',
          'Rejected messages republished to the dead-letter topic and acknowledged, by kind',
          this.sentByKind.get(kind) ?? 0,
          { kind },
        ),
      ),
      gaugeStatistic('dead_letters_pending', 'Dead letters published and not yet acknowledged', this.waiting),
    ];
  }

  /** Republishes `message` with `rejection`'s reason; `acknowledge` once the broker has it. */
  send(message: MqttMessage, rejection: Rejection, acknowledge: () => void): void {
    this.waiting++;
    this.letters.next({ message, rejection, acknowledge });
  }

  /** Stops publishing (a letter not yet acknowledged leaves its message unacknowledged: it comes again). */
  close(): void {
    this.subscription.unsubscribe();
  }
}
