// Security on a real Mosquitto: no anonymous clients, a password file, a TLS
// listener with a CA and server certificate made by openssl, and an ACL. Final
// connection failures error the stream once, with a message naming the cause.
import { expect } from 'chai';
import { firstValueFrom, from, lastValueFrom, take, toArray, type Observable, type Subscription } from 'rxjs';
import {
  MqttConnectionError,
  MqttSubscribeError,
  RejectionError,
  fromMqtt,
  toMqtt,
  type Rejection,
} from '../src/index.js';
import { freePort, startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const acl =
  ['user alice', 'topic readwrite alice/#', 'user bob', 'topic readwrite bob/#', 'user monitor', 'topic read #'].join(
    '\n',
  ) + '\n';

/** Subscribes and resolves with the error the stream ends with, counting error calls. */
async function failure(stream: Observable<unknown>): Promise<{ error: unknown; errors: () => number }> {
  let count = 0;
  const error = await new Promise<unknown>((resolve) => {
    stream.subscribe({
      error: (e) => {
        count++;
        resolve(e);
      },
      complete: () => resolve(new Error('completed instead of failing')),
    });
  });
  return { error, errors: () => count };
}

describe('MQTT security on a real Mosquitto (TLS, passwords, ACL)', function () {
  let broker: Mosquitto;
  const subscriptions: Subscription[] = [];
  let tls: { url: string; ca: Buffer };

  before(async function () {
    broker = await startMosquitto({
      tls: true,
      users: [
        { username: 'alice', password: 'alice-secret' },
        { username: 'bob', password: 'bob-secret' },
        { username: 'monitor', password: 'monitor-secret' },
      ],
      acl,
    });
    tls = { url: broker.tlsUrl!, ca: broker.tlsMaterial!.ca };
  });
  afterEach(async function () {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    await closeClients();
  });
  after(async function () {
    await broker?.dispose();
  });

  it('works end to end over TLS with the right credentials', async function () {
    const alice = { url: tls.url, ca: tls.ca, username: 'alice', password: 'alice-secret' };
    const messages = firstValueFrom(fromMqtt(alice, 'alice/tls').pipe(take(2), toArray()));
    await waitFor(() => countLog(broker.log(), / 1 alice\/tls/) === 1, 'the subscription over TLS');
    const acks = await lastValueFrom(from(['one', 'two']).pipe(toMqtt(alice, { topic: 'alice/tls' }), toArray()));
    expect(acks).to.have.length(2);
    expect((await messages).map((m) => m.payload.toString())).to.deep.equal(['one', 'two']);
  });

  for (const protocolVersion of [5, 4] as const) {
    it(`errors once, saying the broker refused the credentials, on a wrong password (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}), with no reconnect loop`, async function () {
      const refusal = new RegExp(`Sending CONNACK to 127\\.0\\.0\\.1 \\(0, ${protocolVersion === 5 ? 135 : 5}\\)`);
      const refusalsBefore = countLog(broker.log(), refusal);
      const { error, errors } = await failure(
        fromMqtt(
          { url: tls.url, ca: tls.ca, username: 'alice', password: 'wrong', protocolVersion, reconnectPeriod: 100 },
          'alice/x',
        ),
      );
      expect(error).to.be.instanceOf(MqttConnectionError);
      expect((error as Error).message).to.match(
        /fromMqtt: the MQTT broker at mqtts:\/\/127\.0\.0\.1:\d+ refused the credentials: CONNACK Not authorized \((0x87|0x05)\)/,
      );
      expect((error as MqttConnectionError).reasonCode).to.equal(protocolVersion === 5 ? 135 : 5);
      // A negative check needs time to pass: ten reconnect periods without a retry.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(errors()).to.equal(1);
      expect(countLog(broker.log(), refusal) - refusalsBefore, 'connection attempts refused').to.equal(1);
    });
  }

  it('refuses anonymous clients with a clear error', async function () {
    const { error } = await failure(fromMqtt(broker.url, 'alice/x'));
    expect((error as Error).message).to.match(/fromMqtt: the MQTT broker at .* refused the credentials/);
  });

  it('fails clearly when plain MQTT is sent to the TLS port', async function () {
    const { error } = await failure(toMqtt(`mqtt://127.0.0.1:${broker.tlsPort}`, { topic: 'alice/x' })(from([1])));
    expect(error).to.be.instanceOf(MqttConnectionError);
    expect((error as Error).message).to.match(
      /toMqtt: the MQTT broker at .* closed the connection before answering CONNECT .*If this port expects TLS, connect with mqtts:\/\//,
    );
  });

  it('fails clearly when the broker certificate is not trusted (no ca given)', async function () {
    const { error } = await failure(fromMqtt({ url: tls.url, username: 'alice', password: 'alice-secret' }, 'alice/x'));
    expect((error as MqttConnectionError).code).to.equal('SELF_SIGNED_CERT_IN_CHAIN');
    expect((error as Error).message).to.match(
      /fromMqtt: TLS with the MQTT broker at mqtts:\/\/127\.0\.0\.1:\d+ failed: .*Pass the CA/,
    );
  });

  it('fails clearly when nothing listens at the first connect', async function () {
    const port = await freePort();
    const { error } = await failure(fromMqtt(`mqtt://127.0.0.1:${port}`, 't'));
    expect((error as Error).message).to.equal(
      `fromMqtt: nothing accepts connections at mqtt://127.0.0.1:${port} (ECONNREFUSED): is the broker running, and is the port right?`,
    );
  });

  it('fails clearly on options MQTT.js refuses', async function () {
    const unknownScheme = await failure(fromMqtt('nonsense://127.0.0.1:1', 't'));
    expect(unknownScheme.error).to.be.instanceOf(MqttConnectionError);
    expect((unknownScheme.error as Error).message).to.equal(
      'fromMqtt: invalid MQTT connection options for nonsense://127.0.0.1:1: unknown scheme "nonsense://"; use mqtt://, mqtts://, ws:// or wss://',
    );
    const uncleanWithoutId = await failure(fromMqtt({ url: broker.url, clean: false }, 't'));
    expect((uncleanWithoutId.error as Error).message).to.match(
      /fromMqtt: invalid MQTT connection options for mqtt:\/\/127\.0\.0\.1:\d+: Missing clientId for unclean clients/,
    );
  });

  it('honours an ACL that gives a client only its own topic, and reports the refused publish (MQTT 5 PUBACK 0x87)', async function () {
    const monitor = await testClient(tls.url, { ca: tls.ca, username: 'monitor', password: 'monitor-secret' });
    const seen: string[] = [];
    monitor.on('message', (topic) => seen.push(topic));
    await monitor.subscribeAsync('#', { qos: 1 });

    const alice = { url: tls.url, ca: tls.ca, username: 'alice', password: 'alice-secret' };
    const rejections: Rejection[] = [];
    const acks = await lastValueFrom(
      from(['alice/ok', 'bob/intrusion', 'alice/after']).pipe(
        toMqtt(alice, { topic: (t) => t, qos: 1, onReject: (r) => rejections.push(r) }),
        toArray(),
      ),
    );
    expect(acks.map((a) => a.topic)).to.deep.equal(['alice/ok', 'alice/after']);
    expect(rejections).to.have.length(1);
    expect(rejections[0]).to.deep.include({ kind: 'message', input: 'bob/intrusion' });
    expect(rejections[0]!.reason).to.match(
      /the MQTT broker at mqtts:\/\/127\.0\.0\.1:\d+ refused the message on "bob\/intrusion": Not authorized \(0x87\)/,
    );
    await waitFor(() => seen.includes('alice/after'), 'alice/after at the monitor');
    expect(seen).to.deep.equal(['alice/ok', 'alice/after']);

    const strict = await failure(
      from(['bob/intrusion']).pipe(toMqtt(alice, { topic: (t) => t, qos: 1, strict: true })),
    );
    expect(strict.error).to.be.instanceOf(RejectionError);
    expect((strict.error as Error).message).to.match(/^toMqtt: message rejected: .*Not authorized \(0x87\)/);
  });

  it('does not deliver to a client what the ACL does not let it read', async function () {
    const received: string[] = [];
    subscriptions.push(
      fromMqtt({ url: tls.url, ca: tls.ca, username: 'bob', password: 'bob-secret' }, ['alice/#', 'bob/#']).subscribe(
        (m) => received.push(m.topic),
      ),
    );
    await waitFor(() => countLog(broker.log(), / 1 bob\/#/) >= 1, "bob's subscriptions");
    await lastValueFrom(
      from(['secret']).pipe(
        toMqtt({ url: tls.url, ca: tls.ca, username: 'alice', password: 'alice-secret' }, { topic: 'alice/private' }),
      ),
    );
    await lastValueFrom(
      from(['hello']).pipe(
        toMqtt({ url: tls.url, ca: tls.ca, username: 'bob', password: 'bob-secret' }, { topic: 'bob/own' }),
      ),
    );
    await waitFor(() => received.includes('bob/own'), 'bob/own');
    expect(received).to.deep.equal(['bob/own']);
  });

  describe('with the dynamic security plugin, which can refuse a subscription', function () {
    let dynsecBroker: Mosquitto;
    before(async function () {
      dynsecBroker = await startMosquitto({ dynsec: { username: 'admin', password: 'admin-secret' } });
      await dynsecBroker.dynsec('createClient', 'carol', '-p', 'carol-secret');
      await dynsecBroker.dynsec('createRole', 'own-topic');
      await dynsecBroker.dynsec('addRoleACL', 'own-topic', 'subscribePattern', 'carol/#', 'allow');
      await dynsecBroker.dynsec('addRoleACL', 'own-topic', 'publishClientSend', 'carol/#', 'allow');
      await dynsecBroker.dynsec('addClientRole', 'carol', 'own-topic');
    });
    after(async function () {
      await dynsecBroker?.dispose();
    });

    it('errors with MqttSubscribeError naming the refused filter and the SUBACK reason', async function () {
      const carol = { url: dynsecBroker.url, username: 'carol', password: 'carol-secret' };
      const { error, errors } = await failure(fromMqtt(carol, ['carol/in', 'other/x']));
      expect(error).to.be.instanceOf(MqttSubscribeError);
      expect((error as Error).message).to.match(
        /^fromMqtt: the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ refused the subscription to "other\/x": SUBACK Not authorized \(0x87\)$/,
      );
      expect((error as MqttSubscribeError).topics).to.deep.equal(['other/x']);
      expect(errors()).to.equal(1);

      const messages = firstValueFrom(fromMqtt(carol, 'carol/in').pipe(take(1), toArray()));
      await waitFor(() => countLog(dynsecBroker.log(), / 1 carol\/in/) >= 2, 'the allowed subscription');
      await lastValueFrom(from(['allowed']).pipe(toMqtt(carol, { topic: 'carol/in' })));
      expect((await messages).map((m) => m.payload.toString())).to.deep.equal(['allowed']);
    });
  });
});
