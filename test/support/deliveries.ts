// A broker stand-in for the durable operators' tests in one process: messages with packet
// identifiers and a connection that can be corked, as fromMqtt's can.
import { Observable, Subject } from 'rxjs';
import type { MqttMessage } from '../../src/index.js';

/**
 * A broker stand-in on our side of the wire: messages with packet identifiers, and a
 * connection that can be corked as fromMqtt's can; `acked` lists the PUBACKs that
 * actually left, in order.
 */
export class Deliveries {
  readonly acked: number[] = [];
  readonly subject = new Subject<MqttMessage>();
  subscribes = 0;
  unsubscribes = 0;
  private nextId = 1;
  private corks = 0;
  private corked: (() => void)[] = [];
  /** Cold, like fromMqtt: counts subscriptions so a pause shows. */
  readonly source = new Observable<MqttMessage>((subscriber) => {
    this.subscribes++;
    const inner = this.subject.subscribe(subscriber);
    return () => {
      this.unsubscribes++;
      inner.unsubscribe();
    };
  });

  message(event: unknown, options: { dup?: boolean; messageId?: number; onAck?: () => void } = {}): MqttMessage {
    const messageId = options.messageId ?? this.nextId++;
    const send = () => {
      options.onAck?.();
      this.acked.push(messageId);
    };
    return {
      topic: 't',
      payload: Buffer.from(JSON.stringify(event)),
      qos: 1,
      retain: false,
      dup: options.dup ?? false,
      messageId,
      properties: {},
      ack: () => (this.corks > 0 ? this.corked.push(send) : send()),
      holdAcknowledgements: () => {
        this.corks++;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          if (--this.corks === 0) this.corked.splice(0).forEach((deliver) => deliver());
        };
      },
    };
  }

  send(event: unknown, options?: { dup?: boolean; messageId?: number; onAck?: () => void }): MqttMessage {
    const message = this.message(event, options);
    this.subject.next(message);
    return message;
  }
}
