// Live statistics (issue 18): LiveStatistics on its own, its prom-client binding, and
// each stage that feeds it — the broker stage against a real Mosquitto that is stopped
// and restarted, the durable stage through durableWindowedCount on reference payloads,
// the writer and write-queue stages against the real Cassandra node.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics, type OpenMetricsContentType } from 'prom-client';
import { Observable, Subject, from, lastValueFrom, map, toArray, type Subscription } from 'rxjs';
import {
  cassandraSink,
  decodeIotPayload,
  durableWindowedCount,
  ensureWindowCountTable,
  fromMqtt,
  parseAccessLog,
  readWindowTotals,
  windowCountRows,
  type DecodedMqttMessage,
  type MqttMessage,
  type ParsedAccessLog,
  type WindowRow,
  type WriteResult,
} from '../src/index.js';
// From their modules: src/index.ts does not export them yet.
import { Histogram } from '../src/observe/Histogram.js';
import { LiveStatistics } from '../src/observe/LiveStatistics.js';
import { registerStatistics } from '../src/observe/registerStatistics.js';
import type { Readiness, StageChange, Statistic, StatisticsSource } from '../src/observe/statistic.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from './support/cassandra.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

/** A stage made by hand: fixed statistics, and a readiness when given. */
function stage(name: string, statistics: Statistic[], readiness?: Readiness): StatisticsSource {
  return {
    stage: name,
    statistics: () => statistics,
    ...(readiness === undefined ? {} : { readiness: () => readiness }),
  };
}

const counter = (name: string, value: number, labels?: Record<string, string>): Statistic => ({
  name,
  help: `help of ${name}`,
  type: 'counter',
  value,
  ...(labels === undefined ? {} : { labels }),
});

/**
 * Runs `body`, then lets the event loop turn once, with the errors thrown out of
 * microtasks meanwhile caught here instead of by mocha (whose listeners are put back).
 */
async function uncaughtDuring(body: () => void): Promise<unknown[]> {
  const mochaListeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const caught: unknown[] = [];
  const onUncaught = (error: unknown) => caught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('uncaughtException', onUncaught);
    for (const listener of mochaListeners) process.on('uncaughtException', listener);
  }
  return caught;
}

describe('LiveStatistics', () => {
  it('adds stages by name, a later one replacing an earlier; the remover removes only its own stage', () => {
    const statistics = new LiveStatistics();
    const first = stage('broker', [counter('broker_messages_total', 1)]);
    const second = stage('broker', [counter('broker_messages_total', 2)]);
    const removeFirst = statistics.add(first);
    const removeWriter = statistics.add(stage('writer', [counter('writer_rows_written_total', 7)]));
    expect(statistics.stages.map((s) => s.stage)).to.deep.equal(['broker', 'writer']);
    statistics.add(second);
    expect(statistics.stages).to.deep.equal([second, statistics.stages[1]]);
    expect(statistics.value('broker', 'broker_messages_total')).to.equal(2);
    removeFirst(); // replaced since: leaves the second alone
    expect(statistics.value('broker', 'broker_messages_total')).to.equal(2);
    removeWriter();
    expect(statistics.stages).to.deep.equal([second]);
    expect(statistics.value('writer', 'writer_rows_written_total')).to.equal(undefined);
    expect(statistics.statistics()).to.deep.equal([
      { stage: 'broker', statistic: counter('broker_messages_total', 2) },
    ]);
  });

  it('stage() makes a stage once and hands the same one back after, telling onStage listeners once', () => {
    const statistics = new LiveStatistics();
    const added: string[] = [];
    const stopListening = statistics.onStage((source) => added.push(source.stage));
    let made = 0;
    const create = () => {
      made++;
      return stage('durable', [counter('messages_total', made)]);
    };
    const one = statistics.stage('durable', create);
    const two = statistics.stage('durable', create);
    expect(two).to.equal(one);
    expect(made).to.equal(1);
    expect(added).to.deep.equal(['durable']);
    stopListening();
    statistics.add(stage('writer', []));
    expect(added).to.deep.equal(['durable']);
  });

  it('value(): one statistic, with labels or summed over them; a histogram gives its count; undefined when absent', () => {
    const statistics = new LiveStatistics();
    statistics.add(
      stage('durable', [
        counter('rejections_total', 2, { kind: 'payload' }),
        counter('rejections_total', 3, { kind: 'line' }),
        counter('rejections_total', 5, { kind: 'late' }),
        {
          name: 'event_delay_seconds',
          help: 'h',
          type: 'histogram',
          value: { bounds: [1], cumulativeCounts: [1, 4], sum: 9, count: 4 },
        },
        { name: 'open_windows', help: 'h', type: 'gauge', value: 0 },
      ]),
    );
    expect(statistics.value('durable', 'rejections_total')).to.equal(10);
    expect(statistics.value('durable', 'rejections_total', { kind: 'line' })).to.equal(3);
    expect(statistics.value('durable', 'rejections_total', { kind: 'timestamp' })).to.equal(undefined);
    expect(statistics.value('durable', 'event_delay_seconds')).to.equal(4);
    expect(statistics.value('durable', 'open_windows'), 'a zero is a value').to.equal(0);
    expect(statistics.value('durable', 'no_such_statistic')).to.equal(undefined);
    expect(statistics.value('writer', 'rejections_total')).to.equal(undefined);
  });

  it('readiness(): not ready before any stage, ready when every stage is, else names the stages that are not', () => {
    const statistics = new LiveStatistics();
    expect(statistics.readiness()).to.deep.equal({ ready: false, reason: 'no stage has started yet', stages: {} });
    statistics.add(stage('write_queue', [])); // no notion of readiness: left out
    expect(statistics.readiness()).to.deep.equal({ ready: false, reason: 'no stage has started yet', stages: {} });
    const connected = { ready: true, reason: 'connected' };
    statistics.add(stage('broker', [], connected));
    statistics.add(stage('writer', [], { ready: true, reason: 'writing' }));
    expect(statistics.readiness()).to.deep.equal({
      ready: true,
      reason: 'ready',
      stages: { broker: connected, writer: { ready: true, reason: 'writing' } },
    });
    statistics.add(stage('writer', [], { ready: false, reason: 'writes failing since 12:03:04' }));
    statistics.add(stage('durable', [], { ready: false, reason: 'intake paused' }));
    expect(statistics.readiness()).to.deep.equal({
      ready: false,
      reason: 'writer: writes failing since 12:03:04; durable: intake paused',
      stages: {
        broker: connected,
        writer: { ready: false, reason: 'writes failing since 12:03:04' },
        durable: { ready: false, reason: 'intake paused' },
      },
    });
  });

  it('report() tells every listener, stamped; a throwing listener breaks neither the others nor the stage, its error is rethrown later', async () => {
    const statistics = new LiveStatistics();
    const heard: StageChange[] = [];
    const broken = new Error('a listener that throws');
    statistics.onChange(() => {
      throw broken;
    });
    const stopHearing = statistics.onChange((change) => heard.push(change));
    const before = Date.now();
    const caught = await uncaughtDuring(() => {
      expect(() => statistics.report({ stage: 'broker', state: 'reconnecting', reason: 'lost it' })).not.to.throw();
      expect(heard, 'told synchronously, after the listener that threw').to.have.length(1);
    });
    expect(caught).to.deep.equal([broken]);
    const [change] = heard;
    expect(change).to.deep.include({ stage: 'broker', state: 'reconnecting', reason: 'lost it' });
    expect(change!.at).to.be.instanceOf(Date);
    expect(change!.at.getTime()).to.be.within(before, Date.now());
    stopHearing();
    const caughtAgain = await uncaughtDuring(() =>
      statistics.report({ stage: 'broker', state: 'connected', reason: 'back' }),
    );
    expect(heard, 'a listener stopped hears nothing more').to.have.length(1);
    expect(caughtAgain).to.deep.equal([broken]);
  });
});

describe('registerStatistics on a prom-client Registry', () => {
  /** A stage with a counter, a labelled counter, a gauge and a histogram of known observations. */
  function durableLike(): StatisticsSource {
    const histogram = new Histogram([0.125, 1, 5]);
    for (const seconds of [0.0625, 0.125, 0.5, 3, 7]) histogram.observe(seconds);
    return {
      stage: 'durable',
      statistics: () => [
        { name: 'messages_total', help: 'Messages taken', type: 'counter', value: 12 },
        { name: 'rejections_total', help: 'Refused, by kind', type: 'counter', value: 2, labels: { kind: 'late' } },
        { name: 'rejections_total', help: 'Refused, by kind', type: 'counter', value: 1, labels: { kind: 'line' } },
        { name: 'open_windows', help: 'Windows not final yet', type: 'gauge', value: 3 },
        { name: 'event_delay_seconds', help: 'Event delay', type: 'histogram', value: histogram.value() },
      ],
    };
  }

  const durableText = [
    '# HELP mqtt_iot_stream_messages_total Messages taken',
    '# TYPE mqtt_iot_stream_messages_total counter',
    'mqtt_iot_stream_messages_total 12',
    '',
    '# HELP mqtt_iot_stream_rejections_total Refused, by kind',
    '# TYPE mqtt_iot_stream_rejections_total counter',
    'mqtt_iot_stream_rejections_total{kind="late"} 2',
    'mqtt_iot_stream_rejections_total{kind="line"} 1',
    '',
    '# HELP mqtt_iot_stream_open_windows Windows not final yet',
    '# TYPE mqtt_iot_stream_open_windows gauge',
    'mqtt_iot_stream_open_windows 3',
    '',
    '# HELP mqtt_iot_stream_event_delay_seconds Event delay',
    '# TYPE mqtt_iot_stream_event_delay_seconds histogram',
    'mqtt_iot_stream_event_delay_seconds_bucket{le="0.125"} 2',
    'mqtt_iot_stream_event_delay_seconds_bucket{le="1"} 3',
    'mqtt_iot_stream_event_delay_seconds_bucket{le="5"} 4',
    'mqtt_iot_stream_event_delay_seconds_bucket{le="+Inf"} 5',
    'mqtt_iot_stream_event_delay_seconds_sum 10.6875',
    'mqtt_iot_stream_event_delay_seconds_count 5',
  ];

  it('renders counters, labelled counters, gauges and cumulative histograms exactly, under the default prefix', async () => {
    const statistics = new LiveStatistics();
    statistics.add(durableLike());
    const registry = new Registry();
    registerStatistics(registry, statistics);
    expect(await registry.metrics()).to.equal(durableText.join('\n') + '\n');
  });

  it('registers a stage added later, reads values at each scrape, and takes another prefix', async () => {
    const statistics = new LiveStatistics();
    const registry = new Registry();
    registerStatistics(registry, statistics, { prefix: 'pipeline_a:' });
    expect(await registry.metrics()).to.equal('\n');
    let written = 4;
    statistics.add({
      stage: 'writer',
      statistics: () => [{ name: 'writer_rows_written_total', help: 'Rows written', type: 'counter', value: written }],
    });
    const text = (value: number) =>
      [
        '# HELP pipeline_a:writer_rows_written_total Rows written',
        '# TYPE pipeline_a:writer_rows_written_total counter',
        `pipeline_a:writer_rows_written_total ${value}`,
      ].join('\n') + '\n';
    expect(await registry.metrics()).to.equal(text(4));
    written = 9;
    expect(await registry.metrics()).to.equal(text(9));
  });

  it('stops registering later stages when told; a stage that went away keeps its name with no sample', async () => {
    const statistics = new LiveStatistics();
    const registry = new Registry();
    const removeBroker = statistics.add(stage('broker', [counter('broker_messages_total', 3)]));
    const stopRegistering = registerStatistics(registry, statistics);
    stopRegistering();
    statistics.add(stage('writer', [counter('writer_rows_written_total', 1)]));
    removeBroker();
    expect(await registry.metrics()).to.equal(
      [
        '# HELP mqtt_iot_stream_broker_messages_total help of broker_messages_total',
        '# TYPE mqtt_iot_stream_broker_messages_total counter',
      ].join('\n') + '\n',
    );
  });

  it('registering the same names twice does not throw and renders each sample once', async () => {
    const statistics = new LiveStatistics();
    statistics.add(durableLike());
    const registry = new Registry();
    registerStatistics(registry, statistics);
    expect(() => registerStatistics(registry, statistics)).not.to.throw();
    statistics.add(durableLike()); // a replacing stage, told to both bindings
    expect(await registry.metrics()).to.equal(durableText.join('\n') + '\n');
  });

  it('refuses a prefix that is not a metric name, with a TypeError naming it; takes the empty prefix', () => {
    const registry = new Registry();
    for (const prefix of ['9lives_', 'with-dash_', 'space ', 'é_'])
      expect(() => registerStatistics(registry, new LiveStatistics(), { prefix }), prefix).to.throw(
        TypeError,
        `registerStatistics: prefix must be letters, digits, '_' or ':' and not start with a digit, got ${JSON.stringify(prefix)}`,
      );
    const statistics = new LiveStatistics();
    statistics.add(stage('writer', [counter('writer_up', 1)]));
    registerStatistics(registry, statistics, { prefix: '' });
    expect(registry.getSingleMetric('writer_up')).not.to.equal(undefined);
  });

  it("works alongside prom-client's collectDefaultMetrics on the same registry", async () => {
    const statistics = new LiveStatistics();
    statistics.add(durableLike());
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    registerStatistics(registry, statistics);
    const text = await registry.metrics();
    expect(text).to.match(/^process_cpu_user_seconds_total \d/m);
    expect(text).to.match(/^nodejs_heap_size_total_bytes \d/m);
    expect(text).to.contain(durableText.join('\n'));
  });

  it('names counters once with _total in the OpenMetrics format too', async () => {
    const statistics = new LiveStatistics();
    statistics.add(durableLike());
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registerStatistics(registry, statistics);
    // OpenMetrics names a counter without `_total` and its samples with it.
    const expected = durableText
      .filter((line) => line !== '')
      .map((line) => line.replace(/^(# (?:HELP|TYPE) mqtt_iot_stream_\w+)_total /, '$1 '));
    expect(await registry.metrics()).to.equal([...expected, '# EOF'].join('\n') + '\n');
    expect(expected).to.include.members([
      '# TYPE mqtt_iot_stream_messages counter',
      'mqtt_iot_stream_messages_total 12',
      'mqtt_iot_stream_rejections_total{kind="late"} 2',
    ]);
  });
});

/** Publishes each of `payloads` as one QoS 1 message with mosquitto_pub (exits once all are acknowledged). */
function mosquittoPub(broker: Mosquitto, topic: string, payloads: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'mosquitto_pub',
      ['-h', '127.0.0.1', '-p', String(broker.port), '-t', topic, '-q', '1', '-V', '5', '-l'],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`mosquitto_pub exited ${signal ?? code}: ${stderr}`)),
    );
    child.stdin.end(payloads.map((payload) => `${payload}\n`).join(''));
  });
}

describe('the broker stage (fromMqtt with statistics) on a real Mosquitto', function () {
  this.timeout(30_000);
  let broker: Mosquitto;
  const subscriptions: Subscription[] = [];
  before(async function () {
    broker = await startMosquitto();
  });
  afterEach(async function () {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    await closeClients();
  });
  after(async function () {
    await broker?.dispose();
  });

  const brokerValue = (statistics: LiveStatistics, name: string, labels?: Record<string, string>) =>
    statistics.value('broker', name, labels);
  /** The broker stage's counters and gauges, by name (broker_state as its one current state). */
  const brokerNow = (statistics: LiveStatistics) => ({
    connected: brokerValue(statistics, 'broker_connected'),
    subscribed: brokerValue(statistics, 'broker_subscribed'),
    state: ['connecting', 'connected', 'reconnecting', 'closed'].filter(
      (state) => brokerValue(statistics, 'broker_state', { state }) === 1,
    ),
    connections: brokerValue(statistics, 'broker_connections_total'),
    losses: brokerValue(statistics, 'broker_connection_losses_total'),
    messages: brokerValue(statistics, 'broker_messages_total'),
  });

  it('is ready only once the broker granted the subscription: not at connect, not while SUBACK is on its way', async () => {
    const client = await testClient(broker.url, { clientId: 'live-suback' });
    const statistics = new LiveStatistics();
    const readinessAtSuback: boolean[] = [];
    // 'packetreceive' comes before MQTT.js hands the SUBACK to the subscribe callback.
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'suback') readinessAtSuback.push(statistics.readiness().ready);
    });
    subscriptions.push(fromMqtt(client, 'live/suback', { statistics }).subscribe());
    expect(brokerNow(statistics)).to.deep.include({ connected: 1, subscribed: 0, state: ['connected'] });
    expect(statistics.readiness().reason).to.equal(
      `broker: connected to mqtt://127.0.0.1:${broker.port}, waiting for the subscription to live/suback`,
    );
    await waitFor(() => statistics.readiness().ready, 'ready');
    expect(readinessAtSuback).to.deep.equal([false]);
    expect(brokerNow(statistics)).to.deep.include({ connected: 1, subscribed: 1 });
    expect(statistics.readiness().stages).to.deep.equal({
      broker: { ready: true, reason: `connected to mqtt://127.0.0.1:${broker.port}, subscribed to live/suback` },
    });
  });

  it('follows its own connection through a broker stop and restart, and keeps its counters across subscriptions', async () => {
    const statistics = new LiveStatistics();
    const changes: Omit<StageChange, 'at'>[] = [];
    // What a listener reads as it is told: the state the change announces.
    const readAtChange: string[] = [];
    statistics.onChange(({ stage: name, state, reason }) => {
      changes.push({ stage: name, state, reason });
      const { connected, state: current } = brokerNow(statistics);
      readAtChange.push(
        `${state}: connected ${connected}, state ${current.join()}, ready ${statistics.readiness().ready}`,
      );
    });
    const url = broker.url;
    const received: string[] = [];
    const errors: unknown[] = [];
    // A client id each: the second must not take over a first still closing.
    const subscribe = (clientId: string) =>
      fromMqtt({ url, clientId, reconnectPeriod: 200 }, 'live/broker', { statistics }).subscribe({
        next: (message) => received.push(message.payload.toString()),
        error: (error: unknown) => errors.push(error),
      });
    const subscribedTimes = () => countLog(broker.log(), / 1 live\/broker$/);

    const first = subscribe('live-broker-1');
    subscriptions.push(first);
    expect(brokerNow(statistics)).to.deep.equal({
      connected: 0,
      subscribed: 0,
      state: ['connecting'],
      connections: 0,
      losses: 0,
      messages: 0,
    });
    expect(statistics.readiness().reason).to.equal(`broker: connecting to ${url}`);
    await waitFor(() => statistics.readiness().ready, 'ready');
    expect(brokerNow(statistics)).to.deep.include({
      connected: 1,
      subscribed: 1,
      state: ['connected'],
      connections: 1,
    });

    await mosquittoPub(broker, 'live/broker', ['m1', 'm2', 'm3', 'm4', 'm5']);
    await waitFor(
      () => received.length === 5,
      () => `5 messages, got ${received.length}`,
    );
    expect(brokerValue(statistics, 'broker_messages_total')).to.equal(5);

    await broker.stop();
    await waitFor(() => changes.length === 1, 'the loss reported');
    expect(changes).to.deep.equal([
      { stage: 'broker', state: 'reconnecting', reason: `lost the broker ${url}: reconnecting` },
    ]);
    expect(brokerNow(statistics)).to.deep.include({ connected: 0, subscribed: 0, state: ['reconnecting'], losses: 1 });
    const whileDown = statistics.readiness();
    expect(whileDown.ready).to.equal(false);
    expect(whileDown.reason).to.match(
      new RegExp(`^broker: lost the broker ${url.replace(/[.]/g, '\\.')} \\d+ s ago; reconnecting$`),
    );
    await waitFor(() => (brokerValue(statistics, 'broker_reconnects_total') ?? 0) >= 2, 'two reconnection attempts');

    await broker.restart();
    await waitFor(() => changes.length === 2, 'the return reported');
    expect(changes[1]).to.deep.include({ stage: 'broker', state: 'connected' });
    expect(changes[1]!.reason).to.match(new RegExp(`^broker ${url.replace(/[.]/g, '\\.')} back after \\d+ s$`));
    expect(statistics.readiness().ready).to.equal(true);
    expect(brokerNow(statistics)).to.deep.include({ connected: 1, state: ['connected'], connections: 2, losses: 1 });
    // MQTT.js subscribes again on the new (clean) session: wait for the broker to have it.
    await waitFor(() => subscribedTimes() === 2, 'the subscription made again');
    await mosquittoPub(broker, 'live/broker', ['m6']);
    await waitFor(() => received.length === 6, 'the message after the restart');
    expect(brokerValue(statistics, 'broker_messages_total')).to.equal(6);

    first.unsubscribe();
    expect(brokerNow(statistics)).to.deep.include({ connected: 0, subscribed: 0, state: ['closed'] });
    expect(brokerValue(statistics, 'broker_state', { state: 'closed' })).to.equal(1);
    expect(statistics.readiness()).to.deep.include({
      ready: false,
      reason: 'broker: not connected (no subscription open)',
    });

    subscriptions.push(subscribe('live-broker-2'));
    await waitFor(() => statistics.readiness().ready, 'ready again on a second subscription');
    await waitFor(() => subscribedTimes() === 3, 'the second subscription');
    await mosquittoPub(broker, 'live/broker', ['m7', 'm8']);
    await waitFor(() => received.length === 8, 'the messages of the second subscription');
    expect(brokerNow(statistics)).to.deep.equal({
      connected: 1,
      subscribed: 1,
      state: ['connected'],
      connections: 3,
      losses: 1,
      messages: 8,
    });
    expect(changes, 'a closing by the application is no loss').to.have.length(2);
    expect(readAtChange).to.deep.equal([
      'reconnecting: connected 0, state reconnecting, ready false',
      'connected: connected 1, state connected, ready true',
    ]);
    expect(statistics.stages.map((s) => s.stage)).to.deep.equal(['broker']);
    expect(errors).to.deep.equal([]);
  });
});

describe('the durable stage (durableWindowedCount with statistics) on reference payloads', () => {
  type Parsed = ParsedAccessLog<DecodedMqttMessage>;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'live-statistics-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const line = (status: number) =>
    `83.149.9.216 - - [01/Jul/2020:12:34:56 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" ${status} 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"`;
  const payload = (iottimestamp: string, accesslogs: string) => JSON.stringify({ iottimestamp, accesslogs });

  /** MQTT messages as fromMqtt makes them, with PUBACKs held while corked; `acked` lists those that left. */
  function deliveries() {
    const acked: number[] = [];
    let nextId = 1;
    let corks = 0;
    const corked: (() => void)[] = [];
    const message = (text: string): MqttMessage => {
      const messageId = nextId++;
      let acknowledged = false;
      return {
        topic: 'rupesh/gpiotopic',
        payload: Buffer.from(text),
        qos: 1,
        retain: false,
        dup: false,
        messageId,
        properties: {},
        // Once, as fromMqtt's: decodeIotPayload acknowledges the payloads it refuses itself.
        ack: () => {
          if (acknowledged) return;
          acknowledged = true;
          if (corks > 0) corked.push(() => acked.push(messageId));
          else acked.push(messageId);
        },
        holdAcknowledgements: () => {
          corks++;
          let released = false;
          return () => {
            if (released) return;
            released = true;
            if (--corks === 0) corked.splice(0).forEach((send) => send());
          };
        },
      };
    };
    return { acked, message };
  }

  function counting(
    statistics: LiveStatistics,
    refused: string[],
    extra: Partial<Parameters<typeof durableWindowedCount<Parsed, number, WriteResult<WindowRow<number>>>>[0]> = {},
  ) {
    return durableWindowedCount<Parsed, number, WriteResult<WindowRow<number>>>({
      stateDirectory: dir,
      prepare: (messages, { onReject }) =>
        messages.pipe(
          decodeIotPayload({ onReject }),
          parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject }),
        ),
      eventTime: ({ input }) => input.payload.iottimestamp,
      key: ({ record }) => record.status,
      windowDuration: '1 minute',
      watermarkDelay: '2 minutes',
      onReject: (rejection) => refused.push(rejection.kind),
      write: (rows) => rows.pipe(map((row) => ({ value: row }))),
      statistics,
      ...extra,
    });
  }

  it('counts messages, rejections by kind, events, acknowledgement batches and the watermark exactly', async () => {
    const statistics = new LiveStatistics();
    const refused: string[] = [];
    const input = new Subject<MqttMessage>();
    const { acked, message } = deliveries();
    const subscription = input.pipe(counting(statistics, refused)).subscribe();
    const sent = [
      payload('2020-07-01 12:34:56.789012', line(200)),
      'not json at all',
      payload('2020-07-01 12:35:10.500000', line(404)),
      payload('2020-07-01 12:35:20', 'hello world'),
      payload('2020-07-01 12:36:02.250000', line(200)),
      JSON.stringify({ iottimestamp: '2020-07-01 12:35:00' }),
      payload('2020-07-01 12:35:40', ''),
      payload('2020-07-01 12:35:59.999', line(500)),
      payload('2020-07-01 12:35:01', '127.0.0.1 - - [not a date] "GET / HTTP/1.1" 200 1 "-" "-"'),
      payload('2020-07-01 12:34:00', line(301)),
    ];
    for (const text of sent) input.next(message(text));
    const good = 5;
    const d = (name: string, labels?: Record<string, string>) => statistics.value('durable', name, labels);

    expect(refused).to.deep.equal(['payload', 'line', 'payload', 'line', 'line']);
    expect(d('messages_total')).to.equal(sent.length);
    expect(d('rejections_total', { kind: 'payload' })).to.equal(2);
    expect(d('rejections_total', { kind: 'line' })).to.equal(3);
    expect(d('rejections_total', { kind: 'late' })).to.equal(0);
    expect(d('rejections_total'), 'every kind, summed').to.equal(5);
    expect(d('events_counted_total')).to.equal(good);
    expect(d('duplicate_messages_total')).to.equal(0);
    const maxEventTime = Date.UTC(2020, 6, 1, 12, 36, 2, 250);
    expect(d('max_event_timestamp_seconds')).to.equal(maxEventTime / 1000);
    expect(d('watermark_timestamp_seconds')).to.equal((maxEventTime - 2 * 60_000) / 1000);
    expect(d('event_delay_seconds'), 'one delay per counted event').to.equal(good);
    expect(d('acknowledgement_batch_size'), 'no batch written before the event loop turns').to.equal(0);
    expect(acked).to.deep.equal([]);
    expect(statistics.readiness()).to.deep.equal({
      ready: true,
      reason: 'ready',
      stages: { durable: { ready: true, reason: 'counting' } },
    });

    await new Promise((resolve) => setImmediate(resolve));
    const batches = statistics.statistics().find(({ statistic }) => statistic.name === 'acknowledgement_batch_size');
    expect(batches?.statistic.value, 'the ten messages, one journal write').to.deep.include({ count: 1, sum: 10 });
    expect(acked).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    const registry = new Registry();
    registerStatistics(registry, statistics);
    const text = await registry.metrics();
    expect(text).to.contain('\nmqtt_iot_stream_messages_total 10\n');
    expect(text).to.contain('\nmqtt_iot_stream_rejections_total{kind="payload"} 2\n');
    expect(text).to.contain('\nmqtt_iot_stream_rejections_total{kind="line"} 3\n');
    expect(text).to.contain('\nmqtt_iot_stream_acknowledgement_batch_size_bucket{le="10"} 1\n');
    expect(text).to.contain('\nmqtt_iot_stream_acknowledgement_batch_size_bucket{le="5"} 0\n');
    subscription.unsubscribe();
    expect(statistics.readiness()).to.deep.include({ ready: false, reason: 'durable: stopped' });
  });

  it('reports intake paused and taking again as changes, with intake_paused 1 then 0 as each is told', async () => {
    const statistics = new LiveStatistics();
    const told: string[] = [];
    statistics.onChange((change) =>
      told.push(
        `${change.stage} ${change.state} (${change.reason}): intake_paused ${statistics.value('durable', 'intake_paused')}, ready ${statistics.readiness().ready}`,
      ),
    );
    const input = new Subject<MqttMessage>();
    const { message } = deliveries();
    // A writer that acknowledges only when told: Cassandra slow, then caught up.
    const held: WindowRow<number>[] = [];
    const caughtUp = new Subject<void>();
    const write = (rows: Observable<WindowRow<number>>) =>
      new Observable<WriteResult<WindowRow<number>>>((subscriber) => {
        const taking = rows.subscribe((row) => held.push(row));
        const releasing = caughtUp.subscribe(() => held.splice(0).forEach((row) => subscriber.next({ value: row })));
        return () => {
          taking.unsubscribe();
          releasing.unsubscribe();
        };
      });
    const subscription = input
      .pipe(counting(statistics, [], { write, maxPendingRows: 4, outputMode: 'update' }))
      .subscribe();
    expect(statistics.value('durable', 'intake_paused')).to.equal(0);
    for (const status of [200, 301, 404, 500]) input.next(message(payload('2020-07-01 12:34:56', line(status))));
    expect(told).to.deep.equal([
      'durable paused (intake paused: 4 rows wait for the writer (the broker queues the messages)): intake_paused 1, ready false',
    ]);
    expect(statistics.readiness().reason).to.equal('durable: intake paused: 4 rows wait for the writer');
    await Promise.resolve(); // the source is let go after the batch's acknowledgements
    expect(input.observed, 'intake stopped').to.equal(false);

    caughtUp.next();
    expect(told.slice(1)).to.deep.equal([
      'durable taking (intake resumed: 2 rows wait for the writer): intake_paused 0, ready true',
    ]);
    expect(input.observed, 'intake taken up again').to.equal(true);
    const d = (name: string) => statistics.value('durable', name);
    expect([d('intake_paused'), d('intake_pauses_total'), d('pending_rows'), d('rows_written_total')]).to.deep.equal([
      0, 1, 0, 4,
    ]);
    subscription.unsubscribe();
  });
});

describe('the writer and write_queue stages (cassandraSink with statistics) on the real Cassandra node', function () {
  let admin: Client;
  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    const node = await cassandraNode();
    admin = new cassandra.Client(node.clientOptions());
    await admin.connect();
    await ensureWindowCountTable(admin, { keyspace: 'live_statistics' });
  });
  after(async () => {
    await admin?.shutdown();
  });

  it('counts the rows written, is up and ready, and shows its write queue', async function () {
    this.timeout(30_000);
    const statistics = new LiveStatistics();
    const changes: StageChange[] = [];
    statistics.onChange((change) => changes.push(change));
    const rows = Array.from({ length: 12 }, (_, i): WindowRow<number> => ({
      windowStart: new Date(Date.UTC(2020, 6, 1, 12, i)),
      windowEnd: new Date(Date.UTC(2020, 6, 1, 12, i + 1)),
      key: 200 + i,
      count: i + 1,
    }));
    const results = await lastValueFrom(
      from(rows).pipe(
        cassandraSink(admin, {
          ...windowCountRows({ keyspace: 'live_statistics' }),
          concurrency: 3,
          maxQueued: 50,
          statistics,
        }),
        toArray(),
      ),
    );
    expect(results).to.have.length(12);
    const totals = await readWindowTotals(admin, { keyspace: 'live_statistics' });
    expect(
      totals.reduce((sum, total) => sum + total.count, 0),
      'the rows are in the table',
    ).to.equal(78);
    const value = (stageName: string, name: string) => statistics.value(stageName, name);
    expect({
      up: value('writer', 'writer_up'),
      written: value('writer', 'writer_rows_written_total'),
      refused: value('writer', 'writer_rows_refused_total'),
      retries: value('writer', 'writer_retries_total'),
      outages: value('writer', 'writer_outages_total'),
    }).to.deep.equal({ up: 1, written: 12, refused: 0, retries: 0, outages: 0 });
    expect(statistics.stages.map((s) => s.stage)).to.deep.equal(['writer', 'write_queue']);
    expect({
      length: value('write_queue', 'write_queue_length'),
      inFlight: value('write_queue', 'write_queue_in_flight'),
      concurrency: value('write_queue', 'write_queue_concurrency'),
      capacity: value('write_queue', 'write_queue_capacity'),
    }).to.deep.equal({ length: 0, inFlight: 0, concurrency: 3, capacity: 50 });
    expect(statistics.readiness()).to.deep.equal({
      ready: true,
      reason: 'ready',
      stages: { writer: { ready: true, reason: 'writing to live_statistics.mqtt' } },
    });
    expect(changes).to.deep.equal([]);
  });
});
