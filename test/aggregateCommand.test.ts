// `mqtt-iot-stream aggregate` as an operator runs it, with a real Mosquitto and no
// Cassandra: rows on stdout, graceful stop, credentials kept out of the output, one
// aggregator per state directory, window options that cannot change under saved state.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { encodeIotPayload, makeIotPayload } from '../src/index.js';
import { startAggregate, TOPIC, type AggregatorProcess } from './faults/aggregatorHarness.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const LINE = '127.0.0.1 - - [01/Jul/2020:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"';

describe('the aggregate command', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  let publisher: MqttClient;
  let stateRoot: string;
  const started: AggregatorProcess[] = [];

  before(async () => {
    broker = await startMosquitto({
      persistence: true,
      users: [{ username: 'counter', password: 'not-for-your-eyes' }],
    });
    publisher = await testClient(broker.url, { username: 'counter', password: 'not-for-your-eyes' });
    stateRoot = mkdtempSync(join(tmpdir(), 'aggregate-'));
  });
  afterEach(() => {
    for (const process of started.splice(0)) process.child.kill('SIGKILL');
  });
  after(async () => {
    await closeClients();
    await broker?.dispose();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  const urlWith = (password: string) => broker.url.replace('mqtt://', `mqtt://counter:${password}@`);

  function aggregate(name: string, extra: string[] = []): AggregatorProcess {
    const process = startAggregate([
      '--broker',
      urlWith('not-for-your-eyes'),
      '--topic',
      TOPIC,
      '--aggregator-id',
      name,
      '--state-dir',
      join(stateRoot, name),
      '--idle-advance',
      '0',
      '--max-event-time-ahead',
      'off',
      '--format',
      'json',
      ...extra,
    ]);
    started.push(process);
    return process;
  }

  const subscribed = (name: string) =>
    waitFor(() => broker.log().includes(`mqtt-iot-stream-aggregator-${name} 1 ${TOPIC}`), `${name}'s subscription`);

  it('prints rows as JSON lines without Cassandra, and on SIGTERM writes the open window and exits 0', async () => {
    const process = aggregate('stdout');
    await subscribed('stdout');
    for (const second of [1, 2, 3]) {
      await publisher.publishAsync(
        TOPIC,
        encodeIotPayload(makeIotPayload(LINE, new Date(Date.UTC(2020, 6, 1, 12, 0, second)))),
        { qos: 1 },
      );
    }
    await waitFor(() => broker.log().includes('Sending PUBLISH to mqtt-iot-stream-aggregator-stdout'), 'delivery');
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.child.kill('SIGTERM');
    expect(await process.exited, process.output()).to.equal(0);
    const rows = process
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { status: number; count: number });
    // Written at the stop, before the window closed: a partial count, the first row of its window.
    expect(rows).to.deep.equal([
      {
        windowStart: '2020-07-01T12:00:00.000Z',
        windowEnd: '2020-07-01T12:01:00.000Z',
        status: 200,
        count: 3,
        final: false,
        update: false,
      },
    ]);
  });

  it('never prints the password of a broker URL, also when the broker refuses it', async () => {
    const accepted = aggregate('masked');
    await subscribed('masked');
    accepted.child.kill('SIGTERM');
    await accepted.exited;
    const refused = startAggregate([
      '--broker',
      urlWith('wrong-secret'),
      '--topic',
      TOPIC,
      '--aggregator-id',
      'refused',
      '--state-dir',
      join(stateRoot, 'refused'),
    ]);
    started.push(refused);
    expect(await refused.exited).to.equal(1);
    expect(refused.output()).to.match(/refused|not authori[sz]ed/i);
    for (const output of [accepted.output(), refused.output()]) {
      expect(output).to.match(/counter:\*\*\*@/);
      expect(output).not.to.match(/not-for-your-eyes|wrong-secret/);
    }
  });

  it('refuses a second aggregator on the same state directory, naming the process that holds it', async () => {
    const first = aggregate('locked');
    await subscribed('locked');
    const second = aggregate('locked');
    expect(await second.exited).to.equal(1);
    expect(second.output()).to.match(
      new RegExp(
        `in use by process ${first.child.pid}; give each aggregator its own --state-dir \\(or --aggregator-id\\)`,
      ),
    );
  });

  it('refuses to continue saved windows under other window options, and says how to start afresh', async () => {
    const first = aggregate('reshaped');
    await subscribed('reshaped');
    await publisher.publishAsync(
      TOPIC,
      encodeIotPayload(makeIotPayload(LINE, new Date(Date.UTC(2020, 6, 1, 12, 0, 1)))),
      {
        qos: 1,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    first.child.kill('SIGTERM');
    expect(await first.exited).to.equal(0);
    const second = aggregate('reshaped', ['--window', '5 minutes']);
    expect(await second.exited).to.equal(1);
    // In flags and files, not the library's option names: which --window the directory holds, what to do.
    const failure = second
      .output()
      .split('\n')
      .filter((line) => line.startsWith('mqtt-iot-stream: '));
    expect(failure).to.deep.equal([
      `mqtt-iot-stream: this state directory (${join(stateRoot, 'reshaped')}) was written with --window '1 minute'; ` +
        "start with that, or give another --state-dir (this run has --window '5 minutes'; a new state directory does " +
        'not continue the open windows saved in this one)',
    ]);
    expect(second.output()).not.to.match(/windowDuration|WindowedCountState|durableWindowedCount/);
    // Restarted as it was written (in milliseconds this time), it continues.
    const subscriptions = () => countLog(broker.log(), new RegExp(`mqtt-iot-stream-aggregator-reshaped 1 ${TOPIC}`));
    const before = subscriptions();
    const third = aggregate('reshaped', ['--window', '60000']);
    await waitFor(() => subscriptions() > before, "the restarted aggregator's subscription");
    third.child.kill('SIGTERM');
    expect(await third.exited, third.output()).to.equal(0);
  });

  it('refuses QoS 0, which cannot be counted exactly once', async () => {
    const process = aggregate('qos0', ['--qos', '0']);
    expect(await process.exited).to.equal(2);
    expect(process.output()).to.match(
      /--qos must be 1 or 2 \(0 cannot be counted exactly once: the broker does not resend what is lost\), got "0"/,
    );
  });
});
