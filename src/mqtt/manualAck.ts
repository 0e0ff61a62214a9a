/**
 * Manual acknowledgement: holding back a QoS ≥ 1 message's PUBACK/PUBCOMP until
 * the application says the message is handled.
 *
 * MQTT.js sends the acknowledgement when `client.handleMessage(packet, callback)`
 * calls back, and handles the next incoming packet only after that: this is its
 * backpressure hook. We wrap `handleMessage` once per client so that a message
 * handed out with an `ack` is acknowledged only when every holder has acked it.
 * @module
 */
import type { IPublishPacket, MqttClient } from 'mqtt';

interface Hold {
  pending: number;
  release: (() => void) | undefined;
}

const holds = new WeakMap<IPublishPacket, Hold>();
const gated = new WeakSet<MqttClient>();
/** Clients on their way out: a packet nobody holds is left unacknowledged, not acknowledged. */
const closing = new WeakSet<MqttClient>();

function installGate(client: MqttClient): void {
  if (gated.has(client)) return;
  gated.add(client);
  const original = client.handleMessage.bind(client);
  // Stays installed for the client's life: it is a pass-through for packets that
  // nobody holds, and removing it could undo a wrapper the user added after ours.
  client.handleMessage = (packet, callback) => {
    const hold = holds.get(packet);
    if (hold === undefined && closing.has(client)) return;
    if (hold === undefined || hold.pending === 0) {
      original(packet, callback);
      return;
    }
    hold.release = () => original(packet, callback);
  };
}

/**
 * Holds back the acknowledgement of `packet` (QoS ≥ 1) until the returned function
 * is called; QoS 0 packets have nothing to acknowledge and get a no-op.
 * Call from a 'message' listener: MQTT.js emits 'message' before `handleMessage`.
 * @internal
 */
export function holdAck(client: MqttClient, packet: IPublishPacket): () => void {
  if (packet.qos === 0) return () => undefined;
  installGate(client);
  let hold = holds.get(packet);
  if (hold === undefined) holds.set(packet, (hold = { pending: 0, release: undefined }));
  const theHold = hold;
  theHold.pending++;
  let acked = false;
  return () => {
    if (acked) return;
    acked = true;
    theHold.pending--;
    if (theHold.pending === 0 && theHold.release !== undefined) {
      const release = theHold.release;
      theHold.release = undefined;
      release();
    }
  };
}

/**
 * From now on, packets that reach `client` with nobody holding them are never
 * acknowledged. For an owned client in manual mode being closed: packets MQTT.js
 * had already read would otherwise be acknowledged after our listener left, and a
 * persistent session would never send them again.
 * @internal
 */
export function leaveUnclaimedUnacknowledged(client: MqttClient): void {
  installGate(client);
  closing.add(client);
}

/**
 * Corks the client's connection: what it writes stays in memory until the returned
 * function uncorks it (Node counts corks, so MQTT.js's own cork per packet nests
 * inside). A connection replaced meanwhile (reconnect) is uncorked all the same.
 * @internal
 */
export function holdOutgoing(client: MqttClient): () => void {
  const stream = client.stream as { cork?: () => void; uncork?: () => void } | undefined;
  if (stream?.cork === undefined || stream.uncork === undefined) return () => undefined;
  stream.cork();
  corks.set(stream, (corks.get(stream) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    corks.set(stream, (corks.get(stream) ?? 1) - 1);
    stream.uncork?.();
  };
}

/** Corks of {@link holdOutgoing} not yet released, by connection stream. */
const corks = new WeakMap<object, number>();

/**
 * Whether what `client` wrote is held back by {@link holdOutgoing} now. Ending such a
 * connection gracefully would uncork it and send what is held (acknowledgements whose
 * messages are not saved): it must be destroyed instead.
 * @internal
 */
export function holdsOutgoing(client: MqttClient): boolean {
  const stream = client.stream as object | undefined;
  return stream !== undefined && (corks.get(stream) ?? 0) > 0;
}
