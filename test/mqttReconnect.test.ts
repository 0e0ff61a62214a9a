// Nothing lost across a broker restart: Mosquitto (persistence on) is stopped in the
// middle of a QoS 1 stream and started again; with a persistent session every
// message published arrives at least once and both pipelines go on by themselves.
import { expect } from 'chai';
import { interval, map, retry, take, timer, type Subscription } from 'rxjs';
import { fromMqtt, toMqtt } from '../src/index.js';
import { freePort, startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

describe('fromMqtt and toMqtt across a Mosquitto restart', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  const subscriptions: Subscription[] = [];

  before(async function () {
    broker = await startMosquitto({ persistence: true });
  });
  after(async function () {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    await broker?.dispose();
  });

  it('delivers every QoS 1 message at least once when the broker is stopped mid-stream and restarted', async function () {
    const total = 400;
    const received: number[] = [];
    const errors: unknown[] = [];
    const session = {
      clientId: 'reconnect-aggregator',
      clean: false,
      reconnectPeriod: 200,
      properties: { sessionExpiryInterval: 600 },
    };
    subscriptions.push(
      fromMqtt({ url: broker.url, ...session }, 'restart/t', { qos: 1 }).subscribe({
        next: (m) => received.push(Number(m.payload.toString())),
        error: (e) => errors.push(e),
      }),
    );
    await waitFor(() => countLog(broker.log(), /reconnect-aggregator 1 restart\/t/) === 1, 'the subscription');

    const acked: number[] = [];
    let published = 0;
    let completed = false;
    subscriptions.push(
      interval(2)
        .pipe(
          take(total),
          map((i) => {
            published = i + 1;
            return i;
          }),
          toMqtt(
            { url: broker.url, clientId: 'reconnect-publisher', reconnectPeriod: 200 },
            { topic: 'restart/t', qos: 1, serialize: String },
          ),
        )
        .subscribe({
          next: (a) => acked.push(a.value),
          error: (e) => errors.push(e),
          complete: () => {
            completed = true;
          },
        }),
    );

    await waitFor(() => acked.length >= total / 4, 'a quarter of the stream acknowledged');
    await broker.stop();
    const publishedWhileDown = published;
    await waitFor(() => published >= publishedWhileDown + 20, 'the source to go on while the broker is down');
    expect(errors, 'no error while the broker is away').to.deep.equal([]);
    await broker.restart();

    await waitFor(
      () => completed,
      () => `the publisher to finish, ${acked.length} of ${total} acknowledged`,
      40_000,
    );
    await waitFor(
      () => new Set(received).size === total,
      () => `${total} distinct messages, got ${new Set(received).size}`,
      40_000,
    );
    expect(errors).to.deep.equal([]);
    expect(acked).to.deep.equal(Array.from({ length: total }, (_, i) => i));
    const distinct = [...new Set(received)].sort((a, b) => a - b);
    expect(distinct).to.deep.equal(Array.from({ length: total }, (_, i) => i));
    expect(
      countLog(broker.log(), /New client connected .* as reconnect-aggregator .*c0/),
      'the aggregator resumed its persistent session',
    ).to.be.greaterThan(1);
  });

  it('waits for a broker that is not up yet when the cold stream is retried, closing each failed client', async function () {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const failures: string[] = [];
    const received: string[] = [];
    subscriptions.push(
      fromMqtt(url, 'late/t')
        .pipe(
          retry({
            delay: (error: Error) => {
              failures.push(error.message);
              return timer(100);
            },
          }),
        )
        .subscribe((m) => received.push(m.payload.toString())),
    );
    await waitFor(() => failures.length >= 2, 'two failed attempts');
    expect(failures[0]).to.equal(
      `fromMqtt: nothing accepts connections at ${url} (ECONNREFUSED): is the broker running, and is the port right?`,
    );
    const late = await startMosquitto({ port });
    try {
      await waitFor(() => countLog(late.log(), / 1 late\/t/) === 1, 'the subscription once the broker is up');
      const publisher = await testClient(url);
      await publisher.publishAsync('late/t', 'finally', { qos: 1 });
      await waitFor(() => received.length === 1, 'the message');
      expect(received).to.deep.equal(['finally']);
      expect(countLog(late.log(), /New client connected/)).to.equal(2); // ours and the publisher: no leaked retries
    } finally {
      subscriptions.splice(0).forEach((s) => s.unsubscribe());
      await closeClients();
      await late.dispose();
    }
  });
});
