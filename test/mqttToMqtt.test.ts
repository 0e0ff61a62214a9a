// toMqtt against a real Mosquitto: topic fixed or derived, QoS 0/1/2, retain,
// serializer, one ack per value after PUBACK/PUBCOMP, the in-flight bound, and the
// bounded offline queue while the broker is down.
import { expect } from 'chai';
import { Subject, count, firstValueFrom, from, lastValueFrom, map, takeWhile, tap, toArray } from 'rxjs';
import type { IClientOptions, MqttClient } from 'mqtt';
import {
  QueueFullError,
  decodeIotPayloadBytes,
  encodeIotPayload,
  makeIotPayload,
  toMqtt,
  type MqttPublished,
  type Rejection,
} from '../src/index.js';
import { corpusLines } from './support/corpora.js';
import { brokerSuite } from './support/brokerSuite.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

async function listen(
  url: string,
  filter: string,
  options: IClientOptions = {},
): Promise<{ client: MqttClient; received: Received[] }> {
  const client = await testClient(url, options);
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) =>
    received.push({ topic, payload, qos: packet.qos, retain: packet.retain }),
  );
  await client.subscribeAsync(filter, { qos: 2 });
  return { client, received };
}

describe('toMqtt on a real Mosquitto', function () {
  const suite = brokerSuite();
  const { subscriptions } = suite;

  for (const qos of [0, 1, 2] as const) {
    it(`publishes with QoS ${qos} and emits one ack per value, in order, then completes`, async function () {
      const { received } = await listen(suite.broker.url, `qos${qos}/#`);
      const values = [{ n: 1 }, { n: 2 }, { n: 3 }];
      const acks = await lastValueFrom(
        from(values).pipe(toMqtt(suite.broker.url, { topic: `qos${qos}/t`, qos }), toArray()),
      );
      expect(acks.map((a) => a.value)).to.deep.equal(values);
      expect(acks.every((a) => a.topic === `qos${qos}/t` && a.qos === qos)).to.equal(true);
      if (qos > 0) expect(acks.every((a) => typeof a.messageId === 'number')).to.equal(true);
      await waitFor(() => received.length === 3, 'the three messages at the subscriber');
      expect(received.map((r) => r.payload.toString())).to.deep.equal(['{"n":1}', '{"n":2}', '{"n":3}']);
      expect(received.every((r) => r.qos === qos)).to.equal(true);
    });
  }

  it('derives the topic from the value, passes strings and Buffers through and uses a custom serializer', async function () {
    const { received } = await listen(suite.broker.url, 'derived/#');
    const values = [
      { room: 'kitchen', t: 21 },
      { room: 'hall', t: 19 },
    ];
    await lastValueFrom(
      from(values).pipe(
        toMqtt(suite.broker.url, { topic: (v) => `derived/${v.room}`, serialize: (v) => `${v.room}=${v.t}` }),
      ),
    );
    await lastValueFrom(
      from(['plain text', Buffer.from([0, 255, 1])]).pipe(toMqtt(suite.broker.url, { topic: 'derived/raw' })),
    );
    await waitFor(() => received.length === 4, 'four messages');
    expect(received.slice(0, 2).map((r) => [r.topic, r.payload.toString()])).to.deep.equal([
      ['derived/kitchen', 'kitchen=21'],
      ['derived/hall', 'hall=19'],
    ]);
    expect(received[2]!.payload.toString()).to.equal('plain text');
    expect([...received[3]!.payload]).to.deep.equal([0, 255, 1]);
  });

  it("publishes the reference payload with the defaults as the Python publisher writes it, other objects' Dates as ISO", async function () {
    const { received } = await listen(suite.broker.url, 'reference/#');
    const at = new Date('2026-11-30T10:00:00.250Z');
    const line = '127.0.0.1 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5';
    await lastValueFrom(
      from([makeIotPayload(line, at), { at }]).pipe(toMqtt(suite.broker.url, { topic: 'reference/t' })),
    );
    await waitFor(() => received.length === 2, 'both messages');
    expect(received[0]!.payload.toString()).to.equal(
      `{"iottimestamp":"2026-11-30 10:00:00.250000","accesslogs":${JSON.stringify(line)}}`,
    );
    expect(received[0]!.payload.toString()).to.equal(encodeIotPayload(makeIotPayload(line, at)));
    expect(received[1]!.payload.toString()).to.equal('{"at":"2026-11-30T10:00:00.250Z"}');
  });

  it('sends MQTT 5 properties, fixed or derived from the value', async function () {
    const client = await testClient(suite.broker.url);
    const properties: unknown[] = [];
    client.on('message', (_topic, _payload, packet) => properties.push(packet.properties));
    await client.subscribeAsync('props/t', { qos: 1 });
    await lastValueFrom(
      from([{ room: 'hall' }]).pipe(
        toMqtt(suite.broker.url, {
          topic: 'props/t',
          properties: (v) => ({ contentType: 'application/json', userProperties: { room: v.room } }),
        }),
      ),
    );
    await waitFor(() => properties.length === 1, 'the message');
    expect(properties[0]).to.deep.include({ contentType: 'application/json', userProperties: { room: 'hall' } });
  });

  it('publishes retained messages that a later subscriber receives with the retain flag', async function () {
    await lastValueFrom(from([{ state: 'on' }]).pipe(toMqtt(suite.broker.url, { topic: 'retain/led', retain: true })));
    const { received } = await listen(suite.broker.url, 'retain/led');
    await waitFor(() => received.length === 1, 'the retained message');
    expect(received[0]).to.deep.include({ topic: 'retain/led', retain: true });
    expect(received[0]!.payload.toString()).to.equal('{"state":"on"}');
    await (await testClient(suite.broker.url)).publishAsync('retain/led', '', { retain: true, qos: 1 });
  });

  it('emits each ack only after the PUBACK (QoS 1) or PUBCOMP (QoS 2) for that message arrived', async function () {
    for (const qos of [1, 2] as const) {
      const client = await testClient(suite.broker.url);
      const events: string[] = [];
      const ackPacket = qos === 1 ? 'puback' : 'pubcomp';
      client.on('packetreceive', (packet) => {
        if (packet.cmd === ackPacket) events.push(`${ackPacket} ${packet.messageId}`);
      });
      const emitted: MqttPublished<number>[] = [];
      await new Promise<void>((resolve, reject) => {
        from(Array.from({ length: 50 }, (_, i) => i))
          .pipe(toMqtt(client, { topic: `ackorder/${qos}`, qos, concurrency: 8 }))
          .subscribe({
            next: (ack) => {
              emitted.push(ack);
              events.push(`emit ${ack.messageId}`);
            },
            error: reject,
            complete: resolve,
          });
      });
      expect(emitted).to.have.length(50);
      expect(emitted.map((a) => a.value)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      // Packet ids are reused, so count: by each emission, at least as many acks
      // for that id as emissions for it must have arrived.
      const acksById = new Map<string, number>();
      const emitsById = new Map<string, number>();
      for (const event of events) {
        const [kind, id] = event.split(' ') as [string, string];
        const counter = kind === 'emit' ? emitsById : acksById;
        counter.set(id, (counter.get(id) ?? 0) + 1);
        if (kind === 'emit')
          expect(emitsById.get(id), `${ackPacket} for message ${id} before its ack was emitted`).to.be.at.most(
            acksById.get(id) ?? 0,
          );
      }
      expect([...emitsById.values()].reduce((a, b) => a + b, 0)).to.equal(50);
    }
  });

  it('never has more than concurrency publishes unacknowledged, even with a synchronous source of 500 values', async function () {
    const client = await testClient(suite.broker.url);
    let outstanding = 0;
    let maxOutstanding = 0;
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'publish') maxOutstanding = Math.max(maxOutstanding, ++outstanding);
    });
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'puback') outstanding--;
    });
    const acks = await lastValueFrom(
      from(Array.from({ length: 500 }, (_, i) => i)).pipe(
        toMqtt(client, { topic: 'bound/t', qos: 1, concurrency: 4, maxQueued: 500 }),
        toArray(),
      ),
    );
    expect(acks.map((a) => a.value)).to.deep.equal(Array.from({ length: 500 }, (_, i) => i));
    expect(maxOutstanding).to.be.within(1, 4);
  });

  it("goes at the broker's pace when the acks pull a lazy source: 5,000 real log lines with maxQueued 0 never overflow", async function () {
    const client = await testClient(suite.broker.url);
    const { received } = await listen(suite.broker.url, 'paced/t');
    const lines = corpusLines('nasa').slice(0, 5_000);
    const iterator = lines[Symbol.iterator]();
    let pulled = 0;
    const pull = new Subject<void>();
    const done = lastValueFrom(
      pull.pipe(
        map(() => iterator.next()),
        takeWhile((next) => !next.done),
        map((next) => {
          pulled++;
          return encodeIotPayload(makeIotPayload(next.value as string));
        }),
        toMqtt(client, { topic: 'paced/t', qos: 1, concurrency: 16, maxQueued: 0, onReject: () => pull.next() }),
        tap(() => pull.next()),
        count(),
      ),
    );
    for (let i = 0; i < 16; i++) pull.next();
    expect(pulled, 'only the first window was read before any ack').to.equal(16);
    expect(await done).to.equal(lines.length);
    await waitFor(
      () => received.length === lines.length,
      () => `${lines.length} messages at the subscriber, got ${received.length}`,
    );
    expect(
      received.map((r) => (decodeIotPayloadBytes(r.payload) as { right: { accesslogs: string } }).right.accesslogs),
    ).to.deep.equal(lines);
  });

  it('rejects a value whose derived topic is not publishable, or that the serializer cannot handle, and goes on', async function () {
    const rejections: Rejection[] = [];
    const acks = await lastValueFrom(
      from(['ok', 'bad+topic', 'ok2', 'boom']).pipe(
        toMqtt(suite.broker.url, {
          topic: (v) => `checks/${v}`,
          serialize: (v) => {
            if (v === 'boom') throw new Error('cannot serialize boom');
            return v;
          },
          onReject: (r) => rejections.push(r),
        }),
        toArray(),
      ),
    );
    expect(acks.map((a) => a.value)).to.deep.equal(['ok', 'ok2']);
    expect(rejections.map((r) => [r.kind, r.input])).to.deep.equal([
      ['message', 'bad+topic'],
      ['message', 'boom'],
    ]);
    expect(rejections[0]!.reason).to.match(/wildcard/);
    expect(rejections[1]!.reason).to.match(/cannot serialize boom/);
    expect(() => toMqtt(suite.broker.url, { topic: 'a/#' })).to.throw(TypeError, /wildcard/);
    expect(() => toMqtt(suite.broker.url, { topic: 't', concurrency: 0 })).to.throw(
      RangeError,
      /^toMqtt: concurrency must be an integer ≥ 1 or Infinity, got 0$/,
    );
    expect(() => toMqtt(suite.broker.url, { topic: 't', maxQueued: 1.5 })).to.throw(
      RangeError,
      /^toMqtt: maxQueued must be an integer ≥ 0 or Infinity, got 1.5$/,
    );
  });

  it('ends with a clear error, not a silent resend loop, when Mosquitto refuses a message over its message_size_limit', async function () {
    const limited = await startMosquitto({ extraConfig: ['message_size_limit 1000'] });
    try {
      const attempts = () =>
        countLog(limited.log(), /Dropped too large PUBLISH from .*'big\/t', \.\.\. \(2000 bytes\)/);
      const error = await lastValueFrom(
        from([Buffer.alloc(10), Buffer.alloc(2000)]).pipe(toMqtt(limited.url, { topic: 'big/t' })),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as Error).message).to.match(
        /^toMqtt: the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ sent a packet MQTT\.js refuses: Invalid puback reason code \(Mosquitto answers so when a message is larger than its message_size_limit\)$/,
      );
      expect(attempts()).to.equal(1);
    } finally {
      await limited.dispose();
    }
  });

  describe('while the broker is down', function () {
    let offline: Mosquitto;
    before(async function () {
      offline = await startMosquitto({ persistence: true });
    });
    after(async function () {
      await offline?.dispose();
    });

    it('keeps at most concurrency in the offline queue and maxQueued waiting, rejects beyond that, and delivers the rest after the restart', async function () {
      // A persistent session, so the broker queues what arrives before it resubscribes.
      const { received } = await listen(offline.url, 'offline/t', {
        clientId: 'offline-subscriber',
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      });
      const client = await testClient(offline.url, { clientId: 'offline-publisher' });
      const source = new Subject<number>();
      const acks: number[] = [];
      const rejections: Rejection[] = [];
      const backlog: string[] = [];
      let completed = false;
      subscriptions.push(
        source
          .pipe(
            toMqtt(client, {
              topic: 'offline/t',
              qos: 1,
              concurrency: 3,
              maxQueued: 5,
              onQueueFull: 'reject',
              onReject: (r) => rejections.push(r),
              onBacklog: ({ inFlight, queued }) => backlog.push(`${inFlight}+${queued}`),
            }),
          )
          .subscribe({
            next: (a) => acks.push(a.value),
            complete: () => {
              completed = true;
            },
          }),
      );
      source.next(0);
      await waitFor(() => acks.length === 1, 'the first ack while connected');

      await offline.stop();
      await waitFor(() => !client.connected, 'the client to notice the broker is gone');
      for (let i = 1; i <= 10; i++) source.next(i);
      // 3 in MQTT.js's offline queue, 5 waiting in toMqtt, 2 rejected: nothing else held.
      expect(Object.keys(client.outgoing)).to.have.length(3);
      expect(rejections.map((r) => r.input)).to.deep.equal([9, 10]);
      expect(rejections[0]!.kind).to.equal('queue-full');
      expect(rejections[0]!.reason).to.match(
        /^toMqtt: 3 values in flight and 5 queued \(the broker at mqtt:\/\/127\.0\.0\.1:\d+ is not connected\): the source is faster than they are written$/,
      );
      expect(acks).to.deep.equal([0]);
      expect(backlog.at(-1), 'the backlog while the broker is away').to.equal('3+5');

      await offline.restart();
      await waitFor(
        () => acks.length === 9,
        () => `acks for 0..8 after the restart, got ${acks.join(',')}`,
      );
      expect(acks).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      source.complete();
      await waitFor(() => completed, 'completion after the last ack');
      await waitFor(() => new Set(received.map((r) => r.payload.toString())).size === 9, 'all nine at the subscriber');
      expect([...new Set(received.map((r) => Number(r.payload.toString())))].sort((a, b) => a - b)).to.deep.equal([
        0, 1, 2, 3, 4, 5, 6, 7, 8,
      ]);
    });

    it("errors with QueueFullError naming toMqtt by default when the queue is full, naming the broker's state", async function () {
      const client = await testClient(offline.url);
      await offline.stop();
      await waitFor(() => !client.connected, 'the client to notice the broker is gone');
      const source = new Subject<number>();
      const outcome = firstValueFrom(
        source.pipe(toMqtt(client, { topic: 'offline/full', concurrency: 2, maxQueued: 2 }), toArray()),
      );
      for (let i = 0; i < 5; i++) source.next(i);
      const error = await outcome.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(QueueFullError).and.include({ operator: 'toMqtt', concurrency: 2, maxQueued: 2 });
      expect((error as Error).message).to.match(
        /^toMqtt: 2 values in flight and 2 queued \(the broker at mqtt:\/\/127\.0\.0\.1:\d+ is not connected\)/,
      );
      await offline.restart();
    });
  });

  it('leaves a passed-in client open and closes its own client when the source completes', async function () {
    const client = await testClient(suite.broker.url);
    const listenersBefore = client.eventNames().map((name) => `${String(name)}:${client.listenerCount(name)}`);
    await lastValueFrom(from([1]).pipe(toMqtt(client, { topic: 'life/t' })));
    expect(client.connected).to.equal(true);
    expect(
      client.eventNames().map((name) => `${String(name)}:${client.listenerCount(name)}`),
      'no listener left behind',
    ).to.deep.equal(listenersBefore);
    await lastValueFrom(from([1]).pipe(toMqtt({ url: suite.broker.url, clientId: 'to-owned' }, { topic: 'life/t' })));
    await waitFor(
      () => countLog(suite.broker.log(), /Received DISCONNECT from to-owned/) === 1,
      'the owned client to disconnect',
    );
  });
});
