/**
 * Watches a client for the failures that must end a stream, once.
 * @module
 */
import type { MqttClient, Packet } from 'mqtt';
import {
  closedBeforeConnack,
  finalConnectionError,
  type MqttConnectionError,
  type MqttOperator,
} from './connectionError.js';

/**
 * Calls `onFatal` at most once, with a readable error, when the client's
 * connection fails for good (see {@link finalConnectionError}); transient drops
 * after a successful connect are left to MQTT.js, which reconnects by itself.
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
  const onPacket = (packet: Packet): void => {
    if (packet.cmd !== 'connack') return;
    refusedByConnack = (packet.reasonCode ?? packet.returnCode ?? 0) > 0;
    if (!refusedByConnack) connectedBefore = true;
  };
  const onError = (error: Error): void => {
    fail(finalConnectionError(operator, error, broker, connectedBefore, refusedByConnack));
    refusedByConnack = false;
  };
  // A socket closed before CONNACK without any error (e.g. a TLS port fed plain MQTT
  // by a broker that just hangs up) would otherwise loop through reconnects silently.
  const onClose = (): void => {
    if (!connectedBefore && !client.disconnecting) fail(closedBeforeConnack(operator, broker));
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
