/**
 * The message `fromMqtt` emits.
 * @module
 */
import type { IPublishPacket } from 'mqtt';

/** The QoS levels MQTT has, as `fromMqtt` and `toMqtt` take them. @internal */
export const QOS_LEVELS: readonly (0 | 1 | 2)[] = [0, 1, 2];

/** The MQTT 5 properties of a received PUBLISH (user properties, content type, …). */
export type MqttMessageProperties = NonNullable<IPublishPacket['properties']>;

/**
 * One message received from the broker, as `fromMqtt` emits it.
 *
 * `topic` is the real topic the message was published to (not the filter that
 * matched it); `qos` is the QoS it was delivered with, the lower of the publisher's
 * and the subscription's; `retain` is true for a retained message sent because we
 * subscribed; `properties` holds the MQTT 5 properties, or `{}`.
 */
export interface MqttMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** Set when the broker sends the message again (QoS ≥ 1 redelivery after a reconnect). */
  readonly dup: boolean;
  /**
   * The packet identifier of a QoS ≥ 1 message (`undefined` at QoS 0). A broker
   * redelivering a message it sent before uses the same identifier and sets `dup`;
   * it may reuse an identifier for another message once the first was acknowledged.
   */
  readonly messageId: number | undefined;
  readonly properties: MqttMessageProperties;
  /**
   * With `ack: 'manual'`, tells the broker the message is handled (sends PUBACK /
   * PUBCOMP); call it once, after the downstream write. Until then the client
   * receives nothing else. With `ack: 'auto'` (the default) the message was already
   * acknowledged when it was emitted and `ack` does nothing. Calling it twice does
   * nothing the second time.
   */
  ack(): void;
  /**
   * Holds back everything the client sends on this connection (acknowledgements
   * included) until the returned function is called; calling it twice does nothing.
   * With `ack: 'manual'`, the client takes in the next message as soon as `ack()` is
   * called, while the PUBACK waits: a consumer can save a batch of messages with one
   * disk write and then release all their acknowledgements together. Release within
   * the same event-loop turn or the next (keepalive pings wait too).
   */
  holdAcknowledgements(): () => void;
  /**
   * Stops reading the connection for `ms` milliseconds, so that the messages arriving
   * meanwhile are taken in together, in one event-loop turn, rather than one wake-up
   * each; what was already read is still handed over. Does nothing on an MQTT 3.1.1
   * connection (whose broker may cap the messages in flight at as few as 20, and would
   * then wait on us), or when the connection is already paused. Optional: a message
   * made elsewhere may not have it.
   */
  lingerIntake?(ms: number): void;
}
