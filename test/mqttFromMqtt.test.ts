// fromMqtt against a real Mosquitto: SUBSCRIBE on subscribe, UNSUBSCRIBE on
// teardown, wildcards, the real topic/QoS/retain/properties of each message, who
// closes the client, MQTT 5 shared subscriptions and manual acknowledgement.
import { expect } from 'chai';
import { connect, type IConnackPacket } from 'mqtt';
import { firstValueFrom, lastValueFrom, of, take, tap, toArray } from 'rxjs';
import { fromMqtt, type MqttMessage } from '../src/index.js';
import { brokerSuite } from './support/brokerSuite.js';
import { countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

describe('fromMqtt on a real Mosquitto', function () {
  const suite = brokerSuite();
  const { subscriptions } = suite;

  it('subscribes on subscribe and sends UNSUBSCRIBE on teardown, after which nothing more arrives', async function () {
    const client = await testClient(suite.broker.url, { clientId: 'from-lifecycle' });
    const seenByClient: string[] = [];
    client.on('message', (topic) => seenByClient.push(topic));
    await client.subscribeAsync('barrier', { qos: 1 });
    const publisher = await testClient(suite.broker.url);

    const received: MqttMessage[] = [];
    const subscription = fromMqtt(client, 'life/a', { qos: 1 }).subscribe((m) => received.push(m));
    await waitFor(
      () => countLog(suite.broker.log(), /Received SUBSCRIBE from from-lifecycle/) >= 2,
      'SUBSCRIBE in the broker log',
    );
    await waitFor(
      () => countLog(suite.broker.log(), /from-lifecycle 1 life\/a/) === 1,
      'the life/a subscription in the broker log',
    );
    await publisher.publishAsync('life/a', 'one', { qos: 1 });
    await waitFor(() => received.length === 1, 'the first message');

    subscription.unsubscribe();
    await waitFor(
      () => countLog(suite.broker.log(), /Received UNSUBSCRIBE from from-lifecycle/) === 1,
      'UNSUBSCRIBE in the broker log',
    );
    await waitFor(() => countLog(suite.broker.log(), /Sending UNSUBACK to from-lifecycle/) === 1, 'UNSUBACK');
    // Published after the unsubscribe, before a barrier: the broker must not send it.
    await publisher.publishAsync('life/a', 'two', { qos: 1 });
    await publisher.publishAsync('barrier', 'x', { qos: 1 });
    await waitFor(() => seenByClient.includes('barrier'), 'the barrier message');
    expect(seenByClient.filter((t) => t === 'life/a')).to.have.length(1);
    expect(received.map((m) => m.payload.toString())).to.deep.equal(['one']);
    expect(client.connected, 'a passed-in client stays open').to.equal(true);
  });

  it('takes several filters with wildcards and gives each message its real topic, QoS, retain flag and properties', async function () {
    const publisher = await testClient(suite.broker.url);
    await publisher.publishAsync('wild/retained/x', 'kept', { qos: 1, retain: true });
    const received: MqttMessage[] = [];
    subscriptions.push(
      fromMqtt(suite.broker.url, ['wild/+/x', 'deep/#'], { qos: 2 }).subscribe((m) => received.push(m)),
    );
    await waitFor(() => received.length === 1, 'the retained message');

    await publisher.publishAsync('wild/a/x', 'q0', { qos: 0 });
    await publisher.publishAsync('deep/1/2/3', 'q1', {
      qos: 1,
      properties: { contentType: 'text/plain', userProperties: { sensor: 'gpio17' }, payloadFormatIndicator: true },
    });
    await publisher.publishAsync('deep', 'q2', { qos: 2 });
    await publisher.publishAsync('wild/a/b/x', 'no', { qos: 1 }); // + is one level only
    await publisher.publishAsync('other', 'no', { qos: 1 });
    await waitFor(
      () => received.length === 4,
      () => `4 messages, got ${received.length}`,
    );

    const summary = received.map((m) => ({
      topic: m.topic,
      payload: m.payload.toString(),
      qos: m.qos,
      retain: m.retain,
    }));
    expect(summary).to.deep.equal([
      { topic: 'wild/retained/x', payload: 'kept', qos: 1, retain: true },
      { topic: 'wild/a/x', payload: 'q0', qos: 0, retain: false },
      { topic: 'deep/1/2/3', payload: 'q1', qos: 1, retain: false },
      { topic: 'deep', payload: 'q2', qos: 2, retain: false },
    ]);
    expect(Buffer.isBuffer(received[0]!.payload)).to.equal(true);
    expect(received[2]!.properties).to.deep.include({
      contentType: 'text/plain',
      userProperties: { sensor: 'gpio17' },
      payloadFormatIndicator: true,
    });
    await publisher.publishAsync('wild/retained/x', '', { qos: 1, retain: true }); // clear the retained message
  });

  it('closes a client it built itself on teardown, and leaves a passed-in client open', async function () {
    const ownedId = 'from-owned-client';
    const subscription = fromMqtt({ url: suite.broker.url, clientId: ownedId }, 'owned/t').subscribe();
    await waitFor(
      () => countLog(suite.broker.log(), new RegExp(`New client connected .* as ${ownedId}`)) === 1,
      'the owned client to connect',
    );
    await waitFor(() => countLog(suite.broker.log(), new RegExp(`${ownedId} 1 owned/t`)) === 1, 'its subscription');
    subscription.unsubscribe();
    await waitFor(
      () => countLog(suite.broker.log(), new RegExp(`Received UNSUBSCRIBE from ${ownedId}`)) === 1,
      'its UNSUBSCRIBE',
    );
    await waitFor(
      () => countLog(suite.broker.log(), new RegExp(`Received DISCONNECT from ${ownedId}`)) === 1,
      'its DISCONNECT',
    );

    const client = await testClient(suite.broker.url, { clientId: 'from-passed-client' });
    const passed = fromMqtt(client, 'owned/t').subscribe();
    await waitFor(
      () => countLog(suite.broker.log(), /from-passed-client 1 owned\/t/) === 1,
      'the passed-in client subscription',
    );
    passed.unsubscribe();
    await waitFor(
      () => countLog(suite.broker.log(), /Received UNSUBSCRIBE from from-passed-client/) === 1,
      'its UNSUBSCRIBE',
    );
    expect(client.connected).to.equal(true);
    expect(client.listenerCount('message'), 'no listener left behind').to.equal(0);
    expect(countLog(suite.broker.log(), /Received DISCONNECT from from-passed-client/)).to.equal(0);
  });

  it('keeps a filter subscribed while another fromMqtt on the same client still uses it', async function () {
    const client = await testClient(suite.broker.url, { clientId: 'from-shared-filter' });
    const publisher = await testClient(suite.broker.url);
    const first: string[] = [];
    const second: string[] = [];
    const a = fromMqtt(client, 'same/t').subscribe((m) => first.push(m.payload.toString()));
    const b = fromMqtt(client, 'same/t').subscribe((m) => second.push(m.payload.toString()));
    subscriptions.push(b);
    await waitFor(() => countLog(suite.broker.log(), /from-shared-filter 1 same\/t/) >= 1, 'the subscription');
    a.unsubscribe();
    await publisher.publishAsync('same/t', 'after', { qos: 1 });
    await waitFor(() => second.length === 1, 'the message on the remaining fromMqtt');
    expect(first).to.deep.equal([]);
    expect(countLog(suite.broker.log(), /Received UNSUBSCRIBE from from-shared-filter/)).to.equal(0);
  });

  it('splits a shared subscription ($share/group/topic): every message goes to exactly one member, none lost', async function () {
    const total = 200;
    const byMember: [string[], string[]] = [[], []];
    subscriptions.push(
      fromMqtt(suite.broker.url, '$share/aggregators/shared/t', { qos: 1 }).subscribe((m) =>
        byMember[0].push(m.payload.toString()),
      ),
    );
    subscriptions.push(
      fromMqtt(suite.broker.url, '$share/aggregators/shared/t', { qos: 1 }).subscribe((m) =>
        byMember[1].push(m.payload.toString()),
      ),
    );
    await waitFor(
      () => countLog(suite.broker.log(), / 1 \$share\/aggregators\/shared\/t/) === 2,
      'both shared subscriptions',
    );
    const publisher = await testClient(suite.broker.url);
    await Promise.all(
      Array.from({ length: total }, (_, i) => publisher.publishAsync('shared/t', String(i), { qos: 1 })),
    );
    await waitFor(
      () => byMember[0].length + byMember[1].length >= total,
      () => `${total} messages, got ${byMember[0].length}+${byMember[1].length}`,
    );
    const all = [...byMember[0], ...byMember[1]].map(Number).sort((x, y) => x - y);
    expect(all).to.deep.equal(Array.from({ length: total }, (_, i) => i));
    expect(byMember[0].length, 'member 1 got some').to.be.greaterThan(0);
    expect(byMember[1].length, 'member 2 got some').to.be.greaterThan(0);
  });

  it('with ack: "manual", holds the PUBACK until ack() and takes in nothing else meanwhile', async function () {
    const client = await testClient(suite.broker.url, { clientId: 'from-manual' });
    const pubacks: number[] = [];
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'puback') pubacks.push(packet.messageId!);
    });
    const received: MqttMessage[] = [];
    subscriptions.push(fromMqtt(client, 'manual/t', { qos: 1, ack: 'manual' }).subscribe((m) => received.push(m)));
    await waitFor(() => countLog(suite.broker.log(), /from-manual 1 manual\/t/) === 1, 'the subscription');
    const publisher = await testClient(suite.broker.url);
    await publisher.publishAsync('manual/t', 'first', { qos: 1 });
    await publisher.publishAsync('manual/t', 'second', { qos: 1 });
    await waitFor(() => received.length === 1, 'the first message');
    // The second is already at the client (the broker sent both), but not handed out
    // and not acknowledged: a round trip on the other client proves time passed.
    await publisher.publishAsync('elsewhere', 'tick', { qos: 1 });
    await publisher.publishAsync('elsewhere', 'tick', { qos: 1 });
    expect(received).to.have.length(1);
    expect(pubacks).to.deep.equal([]);
    received[0]!.ack();
    await waitFor(
      () => received.length === 2 && pubacks.length === 1,
      'the PUBACK of the first and the second message',
    );
    received[0]!.ack(); // a second call does nothing
    received[1]!.ack();
    await waitFor(() => pubacks.length === 2, 'the PUBACK of the second');
    expect(received.map((m) => m.payload.toString())).to.deep.equal(['first', 'second']);
  });

  it('with ack: "manual" and a persistent session, gets a message again when it was not acknowledged before teardown', async function () {
    const session = {
      url: suite.broker.url,
      clientId: 'from-redeliver',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const publisher = await testClient(suite.broker.url);
    const first: MqttMessage[] = [];
    const crashed = fromMqtt(session, 'redeliver/t', { qos: 1, ack: 'manual', keepSubscription: true }).subscribe((m) =>
      first.push(m),
    );
    await waitFor(() => countLog(suite.broker.log(), /from-redeliver 1 redeliver\/t/) === 1, 'the subscription');
    await publisher.publishAsync('redeliver/t', 'must not be lost', { qos: 1 });
    await waitFor(() => first.length === 1, 'the message');
    crashed.unsubscribe(); // the downstream write never happened: no ack()
    await waitFor(
      () => countLog(suite.broker.log(), /Received DISCONNECT from from-redeliver/) === 1,
      'the first session to end',
    );
    expect(countLog(suite.broker.log(), /Received UNSUBSCRIBE from from-redeliver/)).to.equal(0);

    const again: MqttMessage[] = [];
    const resumed = fromMqtt(session, 'redeliver/t', { qos: 1, ack: 'manual', keepSubscription: true }).subscribe((m) =>
      again.push(m),
    );
    await waitFor(() => again.length === 1, 'the redelivered message');
    expect(again[0]!.payload.toString()).to.equal('must not be lost');
    expect(again[0]!.dup).to.equal(true);
    again[0]!.ack();
    await publisher.publishAsync('redeliver/t', 'next', { qos: 1 });
    await waitFor(() => again.length === 2, 'the next message after the ack');
    again[1]!.ack();
    resumed.unsubscribe();
    await waitFor(
      () => countLog(suite.broker.log(), /Received DISCONNECT from from-redeliver/) === 2,
      'the second session to end',
    );

    // Both acknowledged: a third session gets nothing old, only what is new.
    const third: MqttMessage[] = [];
    subscriptions.push(fromMqtt(session, 'redeliver/t', { qos: 1 }).subscribe((m) => third.push(m)));
    await waitFor(
      () => countLog(suite.broker.log(), /New client connected .* as from-redeliver/) === 3,
      'the third session',
    );
    await publisher.publishAsync('redeliver/t', 'new', { qos: 1 });
    await waitFor(() => third.length === 1, 'the new message');
    expect(third.map((m) => m.payload.toString())).to.deep.equal(['new']);
  });

  it('with leave: unsubscribes, emits what the session still holds, then completes and ends the session', async function () {
    const log = () => suite.broker.log();
    const session = {
      url: suite.broker.url,
      clientId: 'from-leave',
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    };
    const publisher = await testClient(suite.broker.url);
    // Subscribed once, then away: 200 messages queue in its session.
    const away = fromMqtt(session, 'leave/t', { qos: 1, keepSubscription: true }).subscribe();
    await waitFor(() => countLog(log(), /from-leave 1 leave\/t/) === 1, 'the subscription');
    away.unsubscribe();
    await waitFor(() => countLog(log(), /Received DISCONNECT from from-leave/) === 1, 'the first connection to end');
    const sent = Array.from({ length: 200 }, (_, i) => `queued ${i}`);
    for (const text of sent) await publisher.publishAsync('leave/t', text, { qos: 1 });

    // Leaving from the start: UNSUBSCRIBE at once (the broker sends 20 in flight first), yet the whole queue comes.
    const taken = await lastValueFrom(
      fromMqtt(session, 'leave/t', { qos: 1, ack: 'manual', leave: of(true) }).pipe(
        tap((message) => message.ack()),
        toArray(),
      ),
    );
    expect(taken.map((message) => message.payload.toString())).to.deep.equal(sent);
    expect(countLog(log(), /Received UNSUBSCRIBE from from-leave/)).to.equal(1);
    expect(countLog(log(), /Received SUBSCRIBE from from-leave/)).to.equal(1);
    await waitFor(() => countLog(log(), /Received DISCONNECT from from-leave/) === 2, 'the leaving connection to end');

    // The session is gone: asking for it finds none.
    const probe = connect(suite.broker.url, {
      ...session,
      properties: { sessionExpiryInterval: 0 },
      reconnectPeriod: 0,
    });
    const connack = await new Promise<IConnackPacket>((resolve) => probe.once('connect', resolve));
    await probe.endAsync();
    expect(connack.sessionPresent).to.equal(false);
  });

  it("refuses leave on a client it was given: leaving ends the session, which is the owner's", async function () {
    const client = await testClient(suite.broker.url);
    const error = await firstValueFrom(fromMqtt(client, 'leave/mine', { leave: of(true) })).catch((e: unknown) => e);
    expect(String(error)).to.match(/leave ends the MQTT session: give connection options, not a client/);
  });

  it('errors with a clear message when the filter is invalid, before touching the broker', function () {
    expect(() => fromMqtt(suite.broker.url, 'a/#/b')).to.throw(TypeError, /not a valid MQTT topic filter/);
    expect(() => fromMqtt(suite.broker.url, [])).to.throw(RangeError, /at least one topic/);
  });

  it('emits messages published before and after, as an Observable that can be composed', async function () {
    const publisher = await testClient(suite.broker.url);
    const messages = firstValueFrom(fromMqtt(suite.broker.url, 'compose/t').pipe(take(3), toArray()));
    await waitFor(() => countLog(suite.broker.log(), / 1 compose\/t/) === 1, 'the subscription');
    for (const text of ['a', 'b', 'c']) await publisher.publishAsync('compose/t', text, { qos: 1 });
    expect((await messages).map((m) => m.payload.toString())).to.deep.equal(['a', 'b', 'c']);
  });
});
