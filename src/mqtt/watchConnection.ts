/**
 * Watches a client for the failures that must end a stream, once.
 * @module
 */
import type { MqttClient, Packet } from 'mqtt';
import {
  closedBeforeConnack,
  finalConnectionError,
  finalDisconnection,
  type MqttConnectionError,
  type MqttOperator,
} from './connectionError.js';

/**
 * A connection the broker closes sooner than this after accepting it was closed "right
 * after it was established". Two clients with one id, each reconnecting after MQTT.js's
 * default second, hold a connection about 1 s each in turn; a connection of this
 * client's own that a broker restart or a network fault ends lived longer, nearly always.
 * @internal
 */
export const SHORT_CONNECTION_MS = 5_000;

/**
 * Calls `onFatal` at most once, with a readable error, when the client's
 * connection fails for good (see {@link finalConnectionError} and
 * {@link finalDisconnection}: among others, another client taking the session);
 * transient drops after a successful connect are left to MQTT.js, which reconnects
 * by itself.
 * The error's message starts with `operator`, the operator watching.
 * Returns the function that removes the listeners.
 * @internal
 */
export function watchConnection(
  operator: MqttOperator,
  client: MqttClient,
  broker: string,
  onFatal: (error: MqttConnectionError) => void,
): () => void {
  // A client handed to us connected, or reconnecting after a successful connect (MQTT.js
  // keeps the last successful CONNACK), has had its successful connect: a broker that is
  // away now is a transient drop, not a final failure.
  let connectedBefore =
    client.connected || (client as unknown as { connackPacket?: unknown }).connackPacket !== undefined;
  let refusedByConnack = false;
  /** When the broker accepted the connection now open, if one is. */
  let acceptedAt: number | undefined;
  /** Connections in a row that the broker closed right after accepting them. */
  let shortConnections = 0;
  let done = false;
  const fail = (error: MqttConnectionError | undefined): void => {
    if (error === undefined || done) return;
    done = true;
    onFatal(error);
  };
  const onConnect = (): void => {
    connectedBefore = true;
  };
  // MQTT.js emits a refusal as an 'error' right after the CONNACK packet; seeing the
  // packet first is how we know the error is the broker's answer, not the socket's.
  // A successful CONNACK, not the 'connect' event, marks the connect: MQTT.js emits
  // 'connect' only after resending its stored packets, whose errors come first.
  // MQTT.js 5 emits the broker's DISCONNECT as a 'disconnect' event and then, as the
  // broker closes the socket, reconnects: a session taken over would be taken back.
  const onPacket = (packet: Packet): void => {
    if (packet.cmd === 'disconnect') {
      fail(finalDisconnection({ ...about(), disconnectReason: packet.reasonCode ?? 0 }));
      return;
    }
    if (packet.cmd !== 'connack') return;
    refusedByConnack = (packet.reasonCode ?? packet.returnCode ?? 0) > 0;
    if (refusedByConnack) return;
    connectedBefore = true;
    acceptedAt = Date.now();
  };
  const about = () => ({ operator, broker, clientId: client.options.clientId, shortConnections });
  const onError = (error: Error): void => {
    fail(finalConnectionError(operator, error, broker, connectedBefore, refusedByConnack));
    refusedByConnack = false;
  };
  // A socket closed before CONNACK without any error (e.g. a TLS port fed plain MQTT
  // by a broker that just hangs up) would otherwise loop through reconnects silently.
  // A connection closed right after it was accepted, again and again, without a word
  // from the broker (MQTT 3.1.1 has no DISCONNECT from the server): another client with
  // this id, most likely. A close this client asked for (end()) counts for nothing.
  const onClose = (): void => {
    if (client.disconnecting) return;
    if (!connectedBefore) {
      fail(closedBeforeConnack(operator, broker));
      return;
    }
    if (acceptedAt === undefined) return; // an attempt that never got its CONNACK
    shortConnections = Date.now() - acceptedAt < SHORT_CONNECTION_MS ? shortConnections + 1 : 0;
    acceptedAt = undefined;
    fail(finalDisconnection(about()));
  };
  client.on('connect', onConnect);
  client.on('packetreceive', onPacket);
  client.on('error', onError);
  client.on('close', onClose);
  return () => {
    done = true;
    client.off('connect', onConnect);
    client.off('packetreceive', onPacket);
    client.off('error', onError);
    client.off('close', onClose);
  };
}
