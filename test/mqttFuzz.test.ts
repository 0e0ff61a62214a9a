// Bad input through a real broker: 10,000 payloads made by fast-check (random
// bytes, broken JSON, wrong types, missing fields, very large ones, and valid ones)
// are published with toMqtt and received with fromMqtt + decodeIotPayload. Every
// one is accounted for, in order: decoded, or rejected with the codec's reason;
// the pipeline is alive at the end.
import { expect } from 'chai';
import fc from 'fast-check';
import { from, lastValueFrom, type Subscription } from 'rxjs';
import {
  decodeIotPayload,
  decodeIotPayloadBytes,
  encodeIotPayload,
  fromMqtt,
  makeIotPayload,
  toMqtt,
  type MqttMessage,
} from '../src/index.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { countLog } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const SEED = 20_200_701;
const COUNT = 10_000;

const text = (arbitrary: fc.Arbitrary<unknown>): fc.Arbitrary<Buffer> =>
  arbitrary.map((value) => Buffer.from(JSON.stringify(value) ?? 'undefined'));
const timestamp = fc.date({
  min: new Date('1970-01-01T00:00:00Z'),
  max: new Date('2100-01-01T00:00:00Z'),
  noInvalidDate: true,
});

const payloads: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 150, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 150,
    arbitrary: fc.tuple(fc.json(), fc.nat()).map(([json, cut]) => Buffer.from(json.slice(0, cut % (json.length + 1)))),
  },
  { weight: 100, arbitrary: text(fc.record({ iottimestamp: fc.anything(), accesslogs: fc.anything() })) },
  {
    weight: 100,
    arbitrary: text(fc.record({ iottimestamp: fc.string(), accesslogs: fc.string() }, { requiredKeys: [] })),
  },
  {
    weight: 100,
    arbitrary: fc
      .tuple(fc.string({ unit: 'binary' }), timestamp)
      .map(([line, at]) => Buffer.from(encodeIotPayload(makeIotPayload(line, at)))),
  },
  {
    weight: 50,
    arbitrary: fc
      .tuple(timestamp, fc.string())
      .map(([at, line]) => Buffer.from(JSON.stringify({ iottimestamp: at.toISOString(), accesslogs: line, extra: 1 }))),
  },
  {
    weight: 50,
    arbitrary: fc
      .constantFrom('null', '[]', '""', '{}', '{"iottimestamp":"2020-02-30 00:00:00","accesslogs":"x"}', '\uFEFF{}')
      .map((s) => Buffer.from(s)),
  },
  // Very large: 64 KiB to 1 MiB, valid and not.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 64 * 1024, max: 1024 * 1024 }), fc.boolean())
      .map(([size, valid]) =>
        Buffer.from(
          valid
            ? encodeIotPayload(makeIotPayload('x'.repeat(size), new Date(0)))
            : '{"iottimestamp": "2020-07-01 00:00:00", "accesslogs": "' + 'y'.repeat(size),
        ),
      ),
  },
);

type Outcome = { decoded: true; message: MqttMessage } | { decoded: false; message: MqttMessage; reason: string };

describe('fromMqtt + decodeIotPayload under fuzzed payloads through a real Mosquitto', function () {
  this.timeout(90_000);
  let broker: Mosquitto;
  const subscriptions: Subscription[] = [];

  before(async function () {
    // Mosquitto drops QoS ≥ 1 messages beyond max_queued_messages (default 1000) per
    // client; a subscriber busy with a 1 MiB payload on a slow machine could fall that
    // far behind. "Nothing lost" needs this raised in production too (see the README).
    broker = await startMosquitto({ extraConfig: ['max_queued_messages 0'] });
  });
  after(async function () {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    await broker?.dispose();
  });

  it(`accounts for every one of ${COUNT} random payloads, decoded or rejected with a reason, and keeps going`, async function () {
    const sent = fc.sample(payloads, { numRuns: COUNT, seed: SEED });
    expect(sent).to.have.length(COUNT);
    const outcomes: Outcome[] = [];
    let ended = false;
    subscriptions.push(
      fromMqtt(broker.url, 'fuzz/t', { qos: 1 })
        .pipe(
          decodeIotPayload({ onReject: (r) => outcomes.push({ decoded: false, message: r.input, reason: r.reason }) }),
        )
        .subscribe({
          next: (d) => outcomes.push({ decoded: true, message: d.message }),
          error: () => {
            ended = true;
          },
          complete: () => {
            ended = true;
          },
        }),
    );
    await waitFor(() => countLog(broker.log(), / 1 fuzz\/t/) === 1, 'the subscription');

    const acks = await lastValueFrom(
      from(sent).pipe(toMqtt(broker.url, { topic: 'fuzz/t', qos: 1, concurrency: 32, maxQueued: Infinity })),
      { defaultValue: undefined },
    );
    expect(acks?.value).to.equal(sent[COUNT - 1]);
    await waitFor(
      () => outcomes.length >= COUNT,
      () => `${COUNT} outcomes, got ${outcomes.length}`,
      60_000,
    );

    expect(outcomes).to.have.length(COUNT);
    let decoded = 0;
    for (const [i, outcome] of outcomes.entries()) {
      // One publisher, one topic, QoS 1: the broker keeps the order.
      expect(outcome.message.payload.equals(sent[i]!), `payload ${i} arrived intact and in order`).to.equal(true);
      const expected = decodeIotPayloadBytes(sent[i]!);
      if (expected._tag === 'Right') {
        expect(outcome.decoded, `payload ${i} decodes`).to.equal(true);
        decoded++;
      } else {
        expect(outcome.decoded, `payload ${i} is rejected`).to.equal(false);
        expect((outcome as { reason: string }).reason).to.equal(`message on "fuzz/t": ${expected.left}`);
        expect(expected.left.length).to.be.greaterThan(0);
      }
    }
    // The mix really exercised both paths.
    expect(decoded).to.be.within(COUNT * 0.1, COUNT * 0.5);

    // Alive at the end: one more valid message goes through.
    await lastValueFrom(
      from([encodeIotPayload(makeIotPayload('still alive'))]).pipe(toMqtt(broker.url, { topic: 'fuzz/t' })),
    );
    await waitFor(() => outcomes.length === COUNT + 1, 'the message after the fuzz');
    expect(outcomes[COUNT]!.decoded).to.equal(true);
    expect(ended).to.equal(false);
  });
});
