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

/**
 * A packet's hold rides on the packet itself: a WeakMap entry per message cost the
 * aggregator about 3% of its CPU draining a backlog (issue 24), a property almost nothing.
 */
const HOLD = Symbol('mqtt-iot-stream hold');
type HeldPacket = IPublishPacket & { [HOLD]?: Hold };
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
    const hold = (packet as HeldPacket)[HOLD];
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
  const held = packet as HeldPacket;
  let hold = held[HOLD];
  if (hold === undefined) held[HOLD] = hold = { pending: 0, release: undefined };
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
 * What {@link holdOutgoing} keeps of one connection stream: how many holds are out, and
 * what the client wrote meanwhile, in order.
 */
interface OutgoingHold {
  holds: number;
  parts: Uint8Array[];
  /** Callbacks of the writes held, called with the result of the one write that sends them. */
  callbacks: WriteCallback[];
}

/** Holds by connection stream; a stream gets its collecting `write` on its first hold, for its life. */
const outgoing = new WeakMap<object, OutgoingHold>();

type WriteCallback = (error?: Error | null) => void;
interface WritableStream {
  write(chunk: unknown, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean;
  readonly destroyed?: boolean;
  readonly writableEnded?: boolean;
}

/**
 * Holds back what the client writes on its connection (acknowledgements included)
 * until the returned function is called and no other hold is out; then it all leaves
 * as one buffer, in one `write`. A connection replaced meanwhile (reconnect) is let go
 * all the same. A connection destroyed while held never sends what was held.
 *
 * Not `cork()`: MQTT.js writes a PUBACK as three small chunks, and a corked socket keeps
 * each as a `{chunk, encoding, callback}` request; draining a backlog, libuv writes at
 * most 1,024 of them per event-loop turn, so with a few hundred messages a batch the
 * requests piled up faster than they left (issue 24: 559,000 of them, 40 MB of heap,
 * 700 KB of PUBACKs waiting after 5 s of a 400,000-message drain, and RSS growing with
 * the backlog). One buffer per batch leaves in one write.
 * @internal
 */
export function holdOutgoing(client: MqttClient): () => void {
  const stream = client.stream as unknown as WritableStream | undefined;
  if (stream?.write === undefined) return () => undefined;
  let hold = outgoing.get(stream);
  if (hold === undefined) hold = collectWrites(stream);
  const theHold = hold;
  theHold.holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    theHold.holds--;
    if (theHold.holds === 0 && theHold.parts.length > 0) {
      const { parts, callbacks } = theHold;
      theHold.parts = [];
      theHold.callbacks = [];
      const done =
        callbacks.length === 0 ? undefined : (error?: Error | null) => callbacks.forEach((callback) => callback(error));
      // A destroyed connection sends nothing more: what it held is dropped, unsent.
      if (stream.destroyed === true || stream.writableEnded === true) {
        done?.(new Error('the connection closed before what was held back was sent'));
        return;
      }
      stream.write(parts.length === 1 ? parts[0] : Buffer.concat(parts), done);
    }
  };
}

/** Gives `stream` a `write` that collects while a hold is out, and returns the stream's hold. */
function collectWrites(stream: WritableStream): OutgoingHold {
  const hold: OutgoingHold = { holds: 0, parts: [], callbacks: [] };
  outgoing.set(stream, hold);
  const write = stream.write;
  stream.write = function (
    this: WritableStream,
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    if (hold.holds === 0) return write.call(this, chunk, encoding, callback);
    hold.parts.push(
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8')
        : (chunk as Uint8Array),
    );
    const done = typeof encoding === 'function' ? encoding : callback;
    if (done !== undefined) hold.callbacks.push(done);
    return true;
  } as WritableStream['write'];
  return hold;
}

/**
 * Whether what `client` wrote is held back by {@link holdOutgoing} now. Ending such a
 * connection gracefully would send what is held (acknowledgements whose messages are
 * not saved): it must be destroyed instead.
 * @internal
 */
export function holdsOutgoing(client: MqttClient): boolean {
  const stream = client.stream as object | undefined;
  return stream !== undefined && (outgoing.get(stream)?.holds ?? 0) > 0;
}

/** Connection streams whose reading {@link lingerIntake} paused, until their timer resumes them. */
const lingering = new WeakSet<object>();

/**
 * Stops reading `client`'s connection for `ms` milliseconds (then reads on), unless it
 * is paused already or the connection is MQTT 3.1.1: see {@link MqttMessage.lingerIntake}.
 * MQTT 5 brokers keep to the client's Receive Maximum (65,535 unless set), so a pause of
 * a few milliseconds does not hold them up; a 3.1.1 broker may allow only 20 messages in
 * flight (Mosquitto's max_inflight_messages) and would wait on the pause.
 * @internal
 */
export function lingerIntake(client: MqttClient, ms: number): void {
  if (client.options.protocolVersion !== 5) return;
  const stream = client.stream as unknown as
    { pause?: () => void; resume?: () => void; readonly destroyed?: boolean } | undefined;
  if (stream?.pause === undefined || stream.resume === undefined || lingering.has(stream)) return;
  lingering.add(stream);
  stream.pause();
  setTimeout(() => {
    lingering.delete(stream);
    if (stream.destroyed !== true) stream.resume?.();
  }, ms);
}
