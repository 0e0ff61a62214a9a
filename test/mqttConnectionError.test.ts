// The final-vs-transient verdict on connection errors (src/mqtt/connectionError.ts):
// which errors end a stream with a message naming the cause, and which are left to
// MQTT.js's reconnect.
import { expect } from 'chai';
import { finalConnectionError, finalDisconnection, SHORT_CONNECTIONS_IN_A_ROW } from '../src/mqtt/connectionError.js';

describe('finalConnectionError', function () {
  const broker = 'mqtt://127.0.0.1:1883';
  const withCode = (message: string, code: string | number): Error => Object.assign(new Error(message), { code });

  it('treats every error before the first connect as final', function () {
    expect(
      finalConnectionError('fromMqtt', withCode('connect ECONNREFUSED', 'ECONNREFUSED'), broker, false, false)?.message,
    ).to.match(/^fromMqtt: nothing accepts connections/);
    expect(
      finalConnectionError('fromMqtt', withCode('read ECONNRESET', 'ECONNRESET'), broker, false, false)?.message,
    ).to.match(/closed the connection before answering CONNECT/);
    expect(finalConnectionError('toMqtt', new Error('connack timeout'), broker, false, false)?.message).to.equal(
      `toMqtt: cannot connect to the MQTT broker at ${broker}: connack timeout`,
    );
  });

  it('leaves socket errors after a successful connect to the reconnect', function () {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']) {
      expect(finalConnectionError('fromMqtt', withCode(code, code), broker, true, false)).to.equal(undefined);
    }
    expect(finalConnectionError('fromMqtt', new Error('Keepalive timeout'), broker, true, false)).to.equal(undefined);
    expect(finalConnectionError('fromMqtt', withCode('Receive Maximum exceeded', 147), broker, true, false)).to.equal(
      undefined,
    );
  });

  it('makes a packet MQTT.js refuses after the connect final, since reconnecting would resend the same message', function () {
    expect(
      finalConnectionError('fromMqtt', new Error('Invalid puback reason code'), broker, true, false)?.message,
    ).to.equal(
      `fromMqtt: the MQTT broker at ${broker} sent a packet MQTT.js refuses: Invalid puback reason code (Mosquitto answers so when a message is larger than its message_size_limit)`,
    );
  });

  it('keeps refusals and certificate failures final after a successful connect', function () {
    const refused = finalConnectionError(
      'fromMqtt',
      withCode('Connection refused: Not authorized', 135),
      broker,
      true,
      true,
    );
    expect(refused?.reasonCode).to.equal(135);
    expect(refused?.message).to.match(/refused the credentials: CONNACK Not authorized \(0x87\)/);
    expect(
      finalConnectionError('fromMqtt', withCode('Connection refused: Server unavailable', 136), broker, true, true)
        ?.message,
    ).to.match(/refused the connection: CONNACK Server unavailable \(0x88\)/);
    expect(
      finalConnectionError('fromMqtt', withCode('certificate has expired', 'CERT_HAS_EXPIRED'), broker, true, false)
        ?.code,
    ).to.equal('CERT_HAS_EXPIRED');
  });

  describe('the broker closing an established connection (finalDisconnection)', function () {
    const about = { operator: 'fromMqtt' as const, broker, clientId: 'aggregator-a1', shortConnections: 0 };

    it('makes a DISCONNECT saying another client took the session (0x8E) final, naming the client id', function () {
      const takenOver = finalDisconnection({ ...about, disconnectReason: 0x8e });
      expect(takenOver?.takenOver).to.equal(true);
      expect(takenOver?.reasonCode).to.equal(0x8e);
      expect(takenOver?.clientId).to.equal('aggregator-a1');
      expect(takenOver?.message).to.equal(
        `fromMqtt: another client connected to the MQTT broker at ${broker} with this client's id "aggregator-a1", and the broker closed this connection: DISCONNECT Session taken over (0x8e). Two clients with one id take the session from each other in turn: give each client its own client id`,
      );
    });

    it('leaves any other DISCONNECT, and a close after a connection that lasted, to the reconnect', function () {
      for (const reason of [0, 0x8b, 0x8d, 0x9c])
        expect(finalDisconnection({ ...about, disconnectReason: reason }), `reason ${reason}`).to.equal(undefined);
      expect(finalDisconnection(about)).to.equal(undefined);
    });

    it(`makes the ${SHORT_CONNECTIONS_IN_A_ROW}rd connection in a row closed right after it was accepted final, as a session taken over`, function () {
      expect(SHORT_CONNECTIONS_IN_A_ROW).to.equal(3);
      expect(finalDisconnection({ ...about, shortConnections: 2 })).to.equal(undefined);
      const dropped = finalDisconnection({ ...about, shortConnections: 3 });
      expect(dropped?.takenOver).to.equal(true);
      expect(dropped?.message).to.match(
        /^fromMqtt: the MQTT broker at mqtt:\/\/127\.0\.0\.1:1883 closed the connection right after accepting it, 3 times in a row: is another client connected with this client's id "aggregator-a1"\?/,
      );
    });

    it('never calls an error from MQTT.js a session taken over', function () {
      expect(
        finalConnectionError('fromMqtt', new Error('Invalid puback reason code'), broker, true, false)?.takenOver,
      ).to.equal(false);
    });
  });
});
