/**
 * Telling when the broker has nothing more for a session that unsubscribed.
 * @module
 */
import type { MqttClient, Packet } from 'mqtt';

/** How often a ping goes out while draining, when none is waiting for its answer. */
const PING_EVERY_MS = 100;

/**
 * Proves that the broker holds nothing more for this session, once its UNSUBACK came:
 * a PINGREQ sent with every message received acknowledged is answered with no message
 * before the PINGRESP. A broker handles a client's packets in order. The PUBACKs
 * before the PINGREQ free in-flight slots, and Mosquitto writes the queued messages
 * that take them while handling each PUBACK (`db__message_delete_outgoing`), so they
 * go out before the PINGRESP. After the UNSUBACK the broker deals the session nothing
 * new. A message arriving before the answer (one still queued) voids that ping; the
 * next is sent once it is acknowledged.
 * @internal
 */
export class SessionDrain {
  private readonly unacknowledged = new Set<number>();
  /** The PINGREQs waiting for their PINGRESP, in order: whether each still proves the queue empty. */
  private pings: { proves: boolean }[] = [];
  private afterUnsuback = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly detach: () => void;

  /** Starts following `client`'s packets; `drained` is called once, after {@link unsubscribed} was told. */
  constructor(
    private readonly client: MqttClient,
    private readonly drained: () => void,
  ) {
    const onSend = (packet: Packet) => this.sent(packet);
    const onReceive = (packet: Packet) => this.received(packet);
    const onClose = () => {
      // Another connection: the broker sends the unacknowledged messages again, and answers anew.
      this.unacknowledged.clear();
      this.pings = [];
    };
    client.on('packetsend', onSend);
    client.on('packetreceive', onReceive);
    client.on('close', onClose);
    this.timer = setInterval(() => this.ping(), PING_EVERY_MS);
    this.detach = () => {
      client.off('packetsend', onSend);
      client.off('packetreceive', onReceive);
      client.off('close', onClose);
    };
  }

  /** The UNSUBACK came: the pings sent from now on can prove the queue empty. */
  unsubscribed(): void {
    this.afterUnsuback = true;
  }

  stop(): void {
    clearInterval(this.timer);
    this.detach();
  }

  private ping(): void {
    if (!this.afterUnsuback || !this.client.connected || this.pings.length > 0 || this.unacknowledged.size > 0) return;
    this.client.sendPing();
  }

  private sent(packet: Packet): void {
    switch (packet.cmd) {
      case 'pingreq':
        // MQTT.js's keepalive pings count too: answers come in order.
        this.pings.push({ proves: this.afterUnsuback && this.unacknowledged.size === 0 });
        break;
      case 'puback':
      case 'pubcomp':
        // Told before MQTT.js writes it: the next ping goes on a timer, behind it.
        this.unacknowledged.delete(packet.messageId ?? -1);
        break;
    }
  }

  private received(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        for (const ping of this.pings) ping.proves = false;
        if (packet.qos > 0 && packet.messageId !== undefined) this.unacknowledged.add(packet.messageId);
        break;
      case 'pingresp':
        if (this.pings.shift()?.proves === true) {
          this.stop();
          this.drained();
        }
        break;
    }
  }
}
