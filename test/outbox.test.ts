// The publisher's outbox (a file journal of messages until their PUBACK) and the
// aggregator's memory of the (publisher, seq) pairs it counted: plain cores, no broker.
import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, of, toArray } from 'rxjs';
import { OutboxFullError, openOutbox } from '../src/mqtt/outbox.js';
import { toMqtt } from '../src/mqtt/toMqtt.js';
import { PublisherSequences, publisherSequenceOf } from '../src/durable/publisherSequences.js';
import { startMosquitto } from './support/mosquitto.js';
import { closeClients, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

describe('the outbox', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives back, after a restart, the messages not acknowledged, in order, with the same publisher id and the last mark', () => {
    const first = openOutbox(dir);
    const publisher = first.publisher;
    expect(publisher).to.match(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
    for (let i = 1; i <= 5; i++) first.add('t', `message ${i}`, { offset: i * 10 });
    first.acknowledge(1);
    first.acknowledge(3);
    // A crash in the middle of a line: the torn line is dropped.
    first.close();
    appendFileSync(join(dir, 'outbox.log'), '{"s":6,"t":"t","p":"bW');

    const second = openOutbox(dir);
    expect(second.publisher).to.equal(publisher);
    expect(second.restored.map((message) => [message.seq, message.payload.toString()])).to.deep.equal([
      [2, 'message 2'],
      [4, 'message 4'],
      [5, 'message 5'],
    ]);
    expect(second.mark).to.deep.equal({ offset: 50 });
    expect(second.add('t', 'message 6').seq).to.equal(6);
    expect(second.userProperties(second.restored[0]!)).to.deep.equal({ publisher, seq: '2' });
    expect(second.takeRestored()).to.have.length(3);
    expect(second.takeRestored(), 'handed out once').to.have.length(0);
    second.close();
  });

  it("keeps a message's own user properties (an event time) and gives them back after a restart, publisher and seq over them", () => {
    const first = openOutbox(dir);
    first.add('t', 'stamped', undefined, { 'event-time': '2020-07-01T12:34:56.789Z', tags: ['a', 'b'] });
    first.add('t', 'claims a seq', undefined, { seq: '999' });
    first.add('t', 'plain');
    first.close();
    const second = openOutbox(dir);
    const [stamped, claims, plain] = second.restored;
    expect(second.userProperties(stamped!)).to.deep.equal({
      'event-time': '2020-07-01T12:34:56.789Z',
      tags: ['a', 'b'],
      publisher: second.publisher,
      seq: '1',
    });
    expect(second.userProperties(claims!)).to.deep.equal({ publisher: second.publisher, seq: '2' });
    expect(plain!.userProperties).to.equal(undefined);
    second.close();
  });

  it('refuses one message more than maxMessages, and a second process on the same directory', () => {
    const outbox = openOutbox(dir, { maxMessages: 2 });
    outbox.add('t', 'a');
    outbox.add('t', 'b');
    expect(() => outbox.add('t', 'c')).to.throw(OutboxFullError, /holds 2 messages the broker has not acknowledged/);
    outbox.acknowledge(1);
    expect(outbox.add('t', 'c').seq).to.equal(3);
    expect(() => openOutbox(dir)).to.throw(/already open in this process/);
    outbox.close();
  });

  it("with durability 'power' (fsync per line) keeps the same file, and refuses an unknown durability when opened", () => {
    const outbox = openOutbox(dir, { durability: 'power' });
    outbox.acknowledge(outbox.add('t', 'a').seq);
    outbox.add('t', 'b');
    outbox.close();
    const reopened = openOutbox(dir);
    expect(reopened.restored.map((message) => message.payload.toString())).to.deep.equal(['b']);
    reopened.close();
    expect(() => openOutbox(join(dir, 'other'), { durability: 'disk' as 'power' })).to.throw(/openOutbox.*durability/);
  });

  it('rewrites its file with only what is pending (every 1,000 acknowledgements and at each start)', () => {
    const outbox = openOutbox(dir);
    for (let i = 0; i < 1_500; i++) outbox.acknowledge(outbox.add('t', `m${i}`).seq);
    outbox.add('t', 'kept');
    outbox.close();
    const lines = readFileSync(join(dir, 'outbox.log'), 'utf8').trimEnd().split('\n');
    expect(lines.length).to.be.below(1_100);
    const reopened = openOutbox(dir);
    expect(reopened.restored.map((message) => message.payload.toString())).to.deep.equal(['kept']);
    expect(reopened.seq).to.equal(1_501);
    reopened.close();
    expect(readFileSync(join(dir, 'outbox.log'), 'utf8').trimEnd().split('\n')).to.have.length(2);
  });
});

describe('toMqtt with an outbox (real Mosquitto)', function () {
  this.timeout(30_000);

  it('publishes first what an earlier run left, in order, then each value with publisher and seq, and empties the outbox at the PUBACKs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const broker = await startMosquitto();
    try {
      const earlier = openOutbox(dir);
      earlier.add('outbox/t', 'left 1');
      earlier.add('outbox/t', 'left 2');
      earlier.close(); // as a crash would leave it
      const received: string[] = [];
      const subscriber = await testClient(broker.url);
      subscriber.on('message', (_topic, payload, packet) => {
        const user = packet.properties?.userProperties ?? {};
        received.push(`${payload.toString()} ${String(user['seq'])} ${String(user['publisher'] === outbox.publisher)}`);
      });
      await subscriber.subscribeAsync('outbox/t', { qos: 1 });
      const outbox = openOutbox(dir);
      const acks = await lastValueFrom(
        of('new 1', 'new 2').pipe(toMqtt(broker.url, { topic: 'outbox/t', qos: 1, outbox }), toArray()),
      );
      expect(
        acks.map((ack) => ack.value),
        'only the values of this stream are emitted',
      ).to.deep.equal(['new 1', 'new 2']);
      await waitFor(() => received.length === 4, 'the four messages');
      expect(received).to.deep.equal(['left 1 1 true', 'left 2 2 true', 'new 1 3 true', 'new 2 4 true']);
      expect(outbox.size).to.equal(0);
      outbox.close();
      expect(() => toMqtt(broker.url, { topic: 't', qos: 0, outbox })).to.throw(/qos.*1 or 2 with an outbox/);
    } finally {
      await closeClients();
      await broker.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the (publisher, seq) pairs an aggregator counted', () => {
  it('recognises a pair counted, a gap as new, a seq far below as counted, and survives a save', () => {
    const sequences = new PublisherSequences();
    const at = (seq: number) => ({ publisher: 'pi-1', seq });
    for (const seq of [1, 2, 3, 5, 6]) sequences.remember(at(seq));
    expect([1, 2, 3, 4, 5, 6, 7].map((seq) => sequences.counted(at(seq)))).to.deep.equal([
      true,
      true,
      true,
      false,
      true,
      true,
      false,
    ]);
    expect(sequences.counted({ publisher: 'pi-2', seq: 1 })).to.equal(false);
    sequences.remember(at(2_000));
    expect(sequences.counted(at(5)), 'more than 1,024 below the highest').to.equal(true);
    expect(sequences.counted(at(1_990))).to.equal(false);
    sequences.remember(at(1_990));
    const restored = new PublisherSequences(JSON.parse(JSON.stringify(sequences.save())));
    expect(restored.counted(at(1_990))).to.equal(true);
    expect(restored.counted(at(1_991))).to.equal(false);
    expect(restored.counted(at(2_000))).to.equal(true);
  });

  it('shifts its window by any amount, keeping exactly the pairs remembered', () => {
    const sequences = new PublisherSequences();
    const remembered = new Set<number>();
    let seq = 0;
    for (let i = 0; i < 3_000; i++) {
      seq += 1 + ((i * 7919) % 13);
      if (i % 3 !== 0) {
        sequences.remember({ publisher: 'p', seq });
        remembered.add(seq);
      }
    }
    const highest = Math.max(...remembered);
    for (let s = highest - 1_023; s <= highest + 1; s++)
      expect(sequences.counted({ publisher: 'p', seq: s }), `seq ${s}`).to.equal(remembered.has(s));
  });

  it('reads the pair from MQTT 5 user properties, and nothing from messages without them', () => {
    expect(publisherSequenceOf({ userProperties: { publisher: 'pi-1', seq: '42' } })).to.deep.equal({
      publisher: 'pi-1',
      seq: 42,
    });
    expect(publisherSequenceOf(undefined)).to.equal(undefined);
    expect(publisherSequenceOf({ userProperties: { publisher: 'pi-1' } })).to.equal(undefined);
    expect(publisherSequenceOf({ userProperties: { publisher: 'pi-1', seq: '4x' } })).to.equal(undefined);
    expect(publisherSequenceOf({ userProperties: { publisher: 'pi-1', seq: ['1', '2'] } })).to.equal(undefined);
  });
});
