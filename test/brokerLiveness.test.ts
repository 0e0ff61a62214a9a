// BrokerLiveness against a real Mosquitto: its pings prove silence while the broker
// answers, the proof stops growing as soon as the broker is stopped (SIGSTOP) and
// starts again only after it answers promptly (SIGCONT), a message or a reconnection
// moves its start past them, and a held acknowledgement keeps it from growing.
import { expect } from 'chai';
import type { Subscription } from 'rxjs';
import { BrokerLiveness, LiveStatistics, fromMqtt, type MqttMessage, type QuietProof } from '../src/index.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('BrokerLiveness on a real Mosquitto', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  const subscriptions: Subscription[] = [];

  before(async function () {
    broker = await startMosquitto({ persistence: true, log: 'quiet' });
  });
  afterEach(async function () {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    if (broker.pid !== undefined) process.kill(broker.pid, 'SIGCONT');
    await closeClients();
  });
  after(async function () {
    await broker?.dispose();
  });

  /** A fromMqtt subscription followed by a liveness pinging every 100 ms, answered within 300 ms. */
  async function follow(topic: string, options: { ack?: 'manual'; onMessage?: (m: MqttMessage) => void } = {}) {
    const liveness = new BrokerLiveness({ pingEvery: 100, maxRoundTrip: 300 });
    const statistics = new LiveStatistics();
    const errors: unknown[] = [];
    subscriptions.push(
      fromMqtt({ url: broker.url, clientId: `liveness-${topic}`, reconnectPeriod: 100 }, topic, {
        qos: 1,
        liveness,
        statistics,
        ...(options.ack === undefined ? {} : { ack: options.ack }),
      }).subscribe({ next: (m) => options.onMessage?.(m), error: (e) => errors.push(e) }),
    );
    await waitFor(() => liveness.provenQuiet() !== undefined, 'a first proof of silence');
    return { liveness, errors, statistics };
  }

  it('proves the silence while the broker answers: until follows the pings, since stays', async function () {
    const { liveness, errors } = await follow('lv/quiet');
    const first = liveness.provenQuiet()!;
    await sleep(1_000);
    const later = liveness.provenQuiet()!;
    expect(later.since, 'the same unbroken run').to.equal(first.since);
    expect(later.until - first.until).to.be.within(600, 1_300);
    expect(Date.now() - later.until, 'never ahead of the last ping').to.be.within(0, 300);
    expect(errors).to.deep.equal([]);
  });

  it('proves nothing while Mosquitto is stopped (SIGSTOP), and after SIGCONT only from the first prompt answer on', async function () {
    const { liveness, statistics } = await follow('lv/stall');
    const before = liveness.provenQuiet()!;
    expect(statistics.value('broker', 'broker_stalls_total')).to.equal(0);
    expect(statistics.value('broker', 'broker_ping_round_trip_seconds')).to.be.within(0, 0.3);
    const stoppedAt = Date.now();
    process.kill(broker.pid!, 'SIGSTOP');
    // A ping goes unanswered within 100 ms, and is overdue 300 ms later.
    await sleep(500);
    expect(liveness.provenQuiet(), 'stalled: nothing proven').to.equal(undefined);
    const seen: (QuietProof | undefined)[] = [];
    const watching = setInterval(() => seen.push(liveness.provenQuiet()), 50);
    await sleep(3_000);
    clearInterval(watching);
    expect(
      seen.filter((proof) => proof !== undefined),
      'nothing proven in 3 s stopped',
    ).to.deep.equal([]);

    const resumedAt = Date.now();
    process.kill(broker.pid!, 'SIGCONT');
    await waitFor(() => (liveness.provenQuiet()?.until ?? 0) > resumedAt + 200, 'the proof to grow again');
    const after = liveness.provenQuiet()!;
    expect(after.since, 'a new run, after the stall').to.be.at.least(resumedAt - 300);
    expect(after.since).to.be.above(before.until);
    expect(stoppedAt).to.be.below(resumedAt);
    expect(statistics.value('broker', 'broker_stalls_total'), 'one stall, counted once').to.equal(1);
  });

  it('starts the proof again after a message: nothing before its arrival counts', async function () {
    let arrivedAt = 0;
    const { liveness } = await follow('lv/message', {
      onMessage: () => {
        arrivedAt = Date.now();
      },
    });
    const publisher = await testClient(broker.url);
    const publishedAt = Date.now();
    await publisher.publishAsync('lv/message', 'x', { qos: 1 });
    await waitFor(() => arrivedAt > 0, 'the message');
    expect(liveness.provenQuiet(), 'right after the message').to.equal(undefined);
    await waitFor(() => liveness.provenQuiet() !== undefined, 'a proof after the message');
    // Its start is the PUBLISH packet's receipt: after it was published, and before fromMqtt
    // emits it (a millisecond or two before on a quiet machine, 24 ms seen under CI's load).
    const proof = liveness.provenQuiet()!;
    expect(proof.since).to.be.within(publishedAt, arrivedAt);
    expect(proof.until, 'a ping sent after the message').to.be.above(arrivedAt);
  });

  it('proves nothing while a received message is unacknowledged (the broker may hold more behind it)', async function () {
    const held: MqttMessage[] = [];
    const { liveness } = await follow('lv/held', { ack: 'manual', onMessage: (m) => held.push(m) });
    const publisher = await testClient(broker.url);
    await publisher.publishAsync('lv/held', 'one', { qos: 1 });
    await waitFor(() => held.length === 1, 'the message');
    await sleep(800);
    expect(liveness.provenQuiet(), 'held for 800 ms').to.equal(undefined);
    const ackedAt = Date.now();
    held[0]!.ack();
    await waitFor(() => liveness.provenQuiet() !== undefined, 'a proof once acknowledged');
    expect(liveness.provenQuiet()!.until).to.be.at.least(ackedAt);
  });

  it('proves nothing across a broker restart until a ping after the new CONNACK is answered', async function () {
    const { liveness } = await follow('lv/restart');
    const stoppedAt = Date.now();
    await broker.stop();
    await waitFor(() => liveness.provenQuiet() === undefined, 'the proof to break');
    await sleep(500);
    expect(liveness.provenQuiet()).to.equal(undefined);
    await broker.restart();
    await waitFor(() => liveness.provenQuiet() !== undefined, 'a proof on the new connection');
    expect(liveness.provenQuiet()!.since).to.be.above(stoppedAt + 500);
  });

  it('follows one subscription at a time, and nothing after teardown', async function () {
    const { liveness } = await follow('lv/once');
    const errors: unknown[] = [];
    fromMqtt(broker.url, 'lv/once', { liveness }).subscribe({ error: (e) => errors.push(e) });
    expect(String(errors[0])).to.match(/already follows another subscription/);
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    expect(liveness.attached).to.equal(false);
    expect(liveness.provenQuiet()).to.equal(undefined);
    expect(() => fromMqtt(broker.url, 'lv/once', { liveness: {} as BrokerLiveness })).to.throw(
      TypeError,
      'fromMqtt: liveness must be a BrokerLiveness, got {}',
    );
  });
});
